-- Grain: one row per (experiment_id, activity_date) with events of analysed units: the event
-- counts fct_experiment_health and fct_quarantine report, each event counted once (in its
-- counting window, int_experiment_event_windows):
--   n_events_post             post-period events, by event day
--   n_events_after_window     events after the longest attribution window, by event day
--   n_events_before_exposure  events in the 24 hours before first exposure, by exposure day
-- The one scan of int_unit_event_days for both marts (each scanned it: at L, day 30, 2.9 s and
-- 2.6 s of a daily run). A table, not incremental: a unit excluded on or after R loses its event
-- days before R, so stored day totals would have to be corrected by rows that no longer exist.
select
    unit_days.experiment_id,
    unit_days.activity_date,
    cast(sum(case when unit_days.period = 'post' then unit_days.event_count else 0 end) as bigint)
        as n_events_post,
    cast(sum(case when unit_days.period = 'after_window' then unit_days.event_count else 0 end) as bigint)
        as n_events_after_window,
    cast(sum(case when unit_days.period = 'pre' then unit_days.near_exposure_count else 0 end) as bigint)
        as n_events_before_exposure
from {{ ref('int_unit_event_days') }} as unit_days
{{ join_counting_window('unit_days') }}
group by
    unit_days.experiment_id,
    unit_days.activity_date
