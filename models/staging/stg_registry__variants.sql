select
    variants.experiment_id,
    variants.variant_id,
    variants.variant_name,
    variants.is_control,
    variants.traffic_weight
from {{ ref('variants') }} as variants
