-- Grain: one row per (experiment_id, unit_id) with an exposure row dated on or after the recompute
-- date R (any row, valid or not): the only units whose first exposure, variant, dimensions or
-- exclusion can have changed since the previous run (macros/incremental.sql). The exposure-side
-- incremental models rebuild exactly these units. Empty when there is no previous state (R is
-- 1900-01-01): every incremental model then rebuilds in full.
-- depends_on: {{ ref('int_incremental_window') }}
{%- set recompute_from = recompute_from_date() %}

select distinct
    exposure_rows.experiment_id,
    exposure_rows.unit_id
from {{ ref('int_exposures_validated') }} as exposure_rows
where exposure_rows.exposed_at >= cast({{ recompute_from }} as timestamp)
    and exposure_rows.experiment_id is not null
    and exposure_rows.unit_id is not null
    and {{ recompute_from }} > cast('1900-01-01' as date)
