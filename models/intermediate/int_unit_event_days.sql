-- Grain: one row per (experiment_id, unit_id, event_name, attribution_window_days,
-- pre_period_days, period, activity_date). The only scan of the event table: every valid event
-- of an exposed unit is matched to the windows of the experiment's metrics that use its name.
-- period 'post': first_exposed_at <= event_at < first_exposed_at + window (activity_date = day);
-- period 'pre':  first_exposed_at - pre_period_days <= event_at < first_exposed_at (date null).
with units as (
    select
        exposures.experiment_id,
        exposures.unit_id,
        exposures.first_exposed_at
    from {{ ref('fct_exposures') }} as exposures
),

event_windows as (
    -- Distinct (experiment, event, window) combinations: events used by several metrics with the
    -- same windows are matched once.
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
),

events as (
    select
        validated.unit_id,
        validated.event_name,
        validated.event_at,
        validated.value
    from {{ ref('int_metric_events_validated') }} as validated
    where validated.rejection_reason is null
),

matched as (
    select
        units.experiment_id,
        units.unit_id,
        event_windows.event_name,
        event_windows.attribution_window_days,
        event_windows.pre_period_days,
        case
            when events.event_at >= units.first_exposed_at
                and events.event_at < {{ add_days('units.first_exposed_at', 'event_windows.attribution_window_days') }}
                then 'post'
            when event_windows.pre_period_days > 0
                and events.event_at < units.first_exposed_at
                and events.event_at >= {{ add_days('units.first_exposed_at', '-event_windows.pre_period_days') }}
                then 'pre'
        end as period,
        cast(events.event_at as date) as event_date,
        events.value
    from events
    inner join units
        on events.unit_id = units.unit_id
    inner join event_windows
        on units.experiment_id = event_windows.experiment_id
        and events.event_name = event_windows.event_name
)

select
    matched.experiment_id,
    matched.unit_id,
    matched.event_name,
    matched.attribution_window_days,
    matched.pre_period_days,
    matched.period,
    case when matched.period = 'post' then matched.event_date end as activity_date,
    count(*) as event_count,
    coalesce(sum({{ to_exact('matched.value') }}), 0) as value_sum,
    count(matched.value) as value_count
from matched
where matched.period is not null
group by
    matched.experiment_id,
    matched.unit_id,
    matched.event_name,
    matched.attribution_window_days,
    matched.pre_period_days,
    matched.period,
    case when matched.period = 'post' then matched.event_date end
