-- Grain: one row per (experiment_id, unit_id): the analysed units whose per-unit deltas an
-- incremental run recomputes (int_unit_metric_deltas), with the fct_exposures columns it needs:
-- units with post-period event days on or after R, and units first exposed on or after R.
-- Empty when the run rebuilds in full (R is 1900-01-01), which does not use it.
-- A table rather than a CTE so the engine knows how few rows it has: the deltas model joins it
-- to the stored rows and must build its hash table on this side (at L, day 20: 1.6M units
-- against 32M stored rows; with the sides swapped that join took 19 s and spilled).
-- depends_on: {{ ref('int_incremental_window') }}
{%- set recompute_from = recompute_from_date() %}

with active_units as (
    select distinct
        recent_days.experiment_id,
        recent_days.unit_id
    from {{ ref('int_unit_event_days') }} as recent_days
    where recent_days.period = 'post'
        and recent_days.activity_date >= {{ recompute_from }}
    union
    select
        new_units.experiment_id,
        new_units.unit_id
    from {{ ref('fct_exposures') }} as new_units
    where new_units.exposure_date >= {{ recompute_from }}
)

select
    analysed.experiment_id,
    analysed.unit_id,
    analysed.variant_id,
    analysed.platform,
    analysed.country,
    analysed.city,
    analysed.exposure_date
from {{ ref('fct_exposures') }} as analysed
inner join active_units
    on analysed.experiment_id = active_units.experiment_id
    and analysed.unit_id = active_units.unit_id
where {{ recompute_from }} > cast('1900-01-01' as date)
