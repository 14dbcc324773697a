-- Grain: one row per (experiment_id, event_name, attribution_window_days, pre_period_days): the
-- distinct event windows of an experiment's metrics (events used by several metrics with the
-- same windows are matched once). is_counting_window marks one combination per (experiment,
-- event) - the longest window - used to count events once in health checks and quarantine.
with event_windows as (
    select
        definitions.experiment_id,
        definitions.num_event as event_name,
        definitions.attribution_window_days,
        definitions.pre_period_days
    from {{ ref('int_experiment_metrics_defined') }} as definitions
    union
    select
        definitions.experiment_id,
        definitions.den_event as event_name,
        definitions.attribution_window_days,
        definitions.pre_period_days
    from {{ ref('int_experiment_metrics_defined') }} as definitions
    where definitions.den_event is not null
)

select
    event_windows.experiment_id,
    event_windows.event_name,
    event_windows.attribution_window_days,
    event_windows.pre_period_days,
    row_number() over (
        partition by event_windows.experiment_id, event_windows.event_name
        order by event_windows.attribution_window_days desc, event_windows.pre_period_days desc
    ) = 1 as is_counting_window
from event_windows
