select
    experiment_dimensions.experiment_id,
    experiment_dimensions.dimension_name
from {{ ref('experiment_dimensions') }} as experiment_dimensions
