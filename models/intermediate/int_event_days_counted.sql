-- Grain: (experiment_id, activity_date), with more than one row per grain where an incremental
-- run appended corrections for dates before R (sum the rows; fct_experiment_health and
-- fct_quarantine do). The event counts of analysed units those marts report, each event counted
-- once (in its counting window, int_experiment_event_windows):
--   n_events_post             post-period events, by event day
--   n_events_after_window     events after the longest attribution window, by event day
--   n_events_before_exposure  events in the 24 hours before first exposure, by exposure day
-- Incremental like int_arm_metric_deltas: dates on or after R are recounted from
-- int_unit_event_days; for earlier dates, the sign -1 copies that int_unit_event_days appended
-- since this model's last run (units excluded by late exposure rows) are added. A daily run reads
-- the new days and those copies, not the event-day history (at L, day 30: 3.8 s for the whole
-- table, 75M rows).
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_rows_from_recompute_date('activity_date') }}",
    post_hook="{{ record_incremental_watermark() }}"
) }}
-- depends_on: {{ ref('int_incremental_window') }}
{%- set incremental = is_incremental() %}
{%- set recompute_from = recompute_from_date() if incremental else "cast('1900-01-01' as date)" %}

with unit_days as (
    select
        event_days.experiment_id,
        event_days.event_name,
        event_days.attribution_window_days,
        event_days.pre_period_days,
        event_days.period,
        event_days.activity_date,
        event_days.sign * event_days.event_count as event_count,
        event_days.sign * event_days.near_exposure_count as near_exposure_count
    from {{ ref('int_unit_event_days') }} as event_days
    where {{ recomputed_or_newly_reversed('event_days', recompute_from) }}
)

select
    unit_days.experiment_id,
    unit_days.activity_date,
    cast(sum(case when unit_days.period = 'post' then unit_days.event_count else 0 end) as bigint)
        as n_events_post,
    cast(sum(case when unit_days.period = 'after_window' then unit_days.event_count else 0 end) as bigint)
        as n_events_after_window,
    cast(sum(case when unit_days.period = 'pre' then unit_days.near_exposure_count else 0 end) as bigint)
        as n_events_before_exposure,
    {{ built_as_of_column() }},
    {{ run_loaded_at() }} as loaded_at
from unit_days
{{ join_counting_window('unit_days') }}
group by
    unit_days.experiment_id,
    unit_days.activity_date
