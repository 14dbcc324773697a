-- depends_on: {{ ref('int_registry_problems') }}
-- (a registry with problems stops the build before any model reads it)
select
    experiment_dimensions.experiment_id,
    experiment_dimensions.dimension_name
from {{ ref('experiment_dimensions') }} as experiment_dimensions
