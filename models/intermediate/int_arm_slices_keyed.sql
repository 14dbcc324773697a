-- Grain: one row per arm slice key: (experiment_id, variant_id, platform, country, city) and the
-- 64-bit key int_unit_metric_deltas stores in their place (macros/portable.sql, arm_slice_hash).
-- int_arm_metric_deltas maps its sums back to the strings through it. Append-only: a key stays
-- once written, so the sign -1 copies that cancel a unit excluded later (whose slice may no
-- longer be in fct_exposures) still find their strings. Full-refresh it together with
-- int_unit_metric_deltas (a plain `dbt build --full-refresh` does).
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail'
) }}
-- depends_on: {{ ref('int_incremental_window') }}
-- depends_on: {{ ref('int_exposure_units_recomputed') }}
-- depends_on: {{ ref('fct_exposures') }}

with units as (
    {#- an incremental run writes deltas only for the recomputed units (int_unit_metric_deltas) #}
    select
        {{ arm_slice_hash('analysed') }} as arm_slice_key,
        analysed.experiment_id,
        analysed.variant_id,
        analysed.platform,
        analysed.country,
        analysed.city
    from {{ ref('int_exposure_units_recomputed') if rebuilds_changed_units_only() else ref('fct_exposures') }} as analysed
),

slices as (
    select distinct
        units.arm_slice_key,
        units.experiment_id,
        units.variant_id,
        units.platform,
        units.country,
        units.city
    from units
)

select
    slices.arm_slice_key,
    slices.experiment_id,
    slices.variant_id,
    slices.platform,
    slices.country,
    slices.city
from slices
{%- if is_incremental() %}
where not exists (
    select 1
    from {{ this }} as known
    where known.arm_slice_key = slices.arm_slice_key
        -- the same slice: a new slice whose key collides with a known one is appended, so the
        -- unique test on arm_slice_key fails instead of merging the two
        and known.experiment_id = slices.experiment_id
        and known.variant_id = slices.variant_id
        and known.platform is not distinct from slices.platform
        and known.country is not distinct from slices.country
        and known.city is not distinct from slices.city
)
{%- endif %}
