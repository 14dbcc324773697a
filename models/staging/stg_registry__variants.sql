select
    variants.experiment_id,
    variants.variant_id,
    variants.variant_name,
    variants.is_control,
    variants.traffic_weight,
    variants.factor_a_level,
    variants.factor_b_level
from {{ ref('variants') }} as variants
