-- depends_on: {{ ref('int_registry_problems') }}
-- (a registry with problems stops the build before any model reads it)
select
    variants.experiment_id,
    variants.variant_id,
    variants.variant_name,
    variants.is_control,
    variants.traffic_weight,
    variants.factor_a_level,
    variants.factor_b_level
from {{ ref('variants') }} as variants
