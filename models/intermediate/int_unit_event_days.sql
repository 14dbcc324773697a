-- Grain: one row per (experiment_id, unit_id, event_name, attribution_window_days,
-- pre_period_days, period, activity_date, sign). The only scan of the event table: every valid event
-- of an analysed unit is matched to the windows of the experiment's metrics that use its name.
--   period 'post':         t0 <= event_at < t0 + window            (activity_date = event day)
--   period 'after_window': t0 + window <= event_at                  (activity_date = event day;
--                          not attributed, counted in fct_quarantine; only for the event's
--                          counting window, see int_experiment_event_windows)
--   period 'pre':          t0 - greatest(pre_period_days, 1 day) <= event_at < t0
--                          (activity_date = the unit's exposure date). event_count / value_sum / value_count cover the
--                          pre-period only (the CUPED covariate); near_exposure_count counts the
--                          events in the last day before t0 (health check: events before exposure).
--   sign:                  +1; -1 on a copy that cancels the row of a unit excluded by exposure
--                          rows that arrived later (sum the rows times sign; see below).
--   loaded_at:             the start of the run that appended the row.
-- Incremental (macros/incremental.sql): rows dated on or after R are recomputed, for every unit
-- analysed now. The earlier rows of a unit that exposure rows arriving on or after R exclude
-- get sign -1 copies (reverse_rebuilt_unit_event_days), which int_event_days_counted subtracts
-- from its stored day totals; a full build has no such rows.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=["{{ delete_rows_from_recompute_date('activity_date') }}", "{{ reverse_rebuilt_unit_event_days() }}"],
    post_hook="{{ record_incremental_watermark() }}"
) }}

-- depends_on: {{ ref('int_incremental_window') }}
-- depends_on: {{ ref('int_exposure_units_excluded') }}
-- depends_on: {{ ref('int_exposures_validated') }}
-- depends_on: {{ ref('int_experiment_metrics_defined') }}

{#- the valid events, inlined in each part below (a CTE read twice may be materialised whole) -#}
{%- set valid_events -%}
    (
        select
            validated.unit_id,
            validated.event_name,
            validated.event_at,
            validated.value
        from {{ ref('int_metric_events_validated') }} as validated
        where validated.rejection_reason is null
    )
{%- endset %}

with units as (
    select
        exposures.experiment_id,
        exposures.unit_id,
        exposures.first_exposed_at
    from {{ ref('fct_exposures') }} as exposures
),

event_windows as (
    -- an integer key per (experiment, event, window, pre-period): the aggregation below groups on
    -- it instead of the two strings and two integers (at L its 62.6M groups from 69.8M rows
    -- spill; the model took 104.5 s with the four columns as keys and 89.9 s with the key)
    select
        windows.*,
        row_number() over (
            order by windows.experiment_id, windows.event_name, windows.attribution_window_days, windows.pre_period_days
        ) as window_key
    from {{ ref('int_experiment_event_windows') }} as windows
),

unit_events as (
    -- every valid event of an analysed unit (incremental runs: the events on or after R of every
    -- unit, and the look-back before R only for the units first exposed on or after R, whose
    -- pre-period is new; each part reads only its own days)
    select
        units.experiment_id,
        units.unit_id,
        units.first_exposed_at,
        valid_events.event_name,
        valid_events.event_at,
        {{ microseconds_between('valid_events.event_at', 'units.first_exposed_at') }} as since_exposure_us,
        valid_events.value
    from {{ valid_events }} as valid_events
    inner join units
        on valid_events.unit_id = units.unit_id
    {%- if is_incremental() %}
    where valid_events.event_at >= {{ recompute_from_timestamp() }}
    union all
    select
        new_units.experiment_id,
        new_units.unit_id,
        new_units.first_exposed_at,
        valid_events.event_name,
        valid_events.event_at,
        {{ microseconds_between('valid_events.event_at', 'new_units.first_exposed_at') }} as since_exposure_us,
        valid_events.value
    from {{ valid_events }} as valid_events
    inner join units as new_units
        on valid_events.unit_id = new_units.unit_id
    where valid_events.event_at >= {{ add_days(recompute_from_timestamp(), -longest_metric_days('pre_period_days')) }}
        and valid_events.event_at < {{ recompute_from_timestamp() }}
        and new_units.first_exposed_at >= {{ recompute_from_timestamp() }}
    {%- endif %}
),

matched as (
    select
        unit_events.experiment_id,
        unit_events.unit_id,
        unit_events.first_exposed_at,
        event_windows.window_key,
        event_windows.event_name,
        event_windows.attribution_window_days,
        event_windows.pre_period_days,
        event_windows.is_counting_window,
        -- compared in integer microseconds since exposure (UTC, days of exactly 24 hours), the
        -- same as adding days to the timestamp but without interval arithmetic on every row
        -- (at M: the whole model 16 s -> 12 s)
        case
            when unit_events.since_exposure_us >= 0
                and unit_events.since_exposure_us < event_windows.attribution_window_days * {{ microseconds_per_day() }}
                then 'post'
            when unit_events.since_exposure_us >= 0
                then 'after_window'
            when unit_events.since_exposure_us >= -greatest(event_windows.pre_period_days, 1) * {{ microseconds_per_day() }}
                then 'pre'
        end as period,
        unit_events.since_exposure_us >= -event_windows.pre_period_days * {{ microseconds_per_day() }}
            as is_in_pre_period,
        unit_events.since_exposure_us >= -{{ microseconds_per_day() }} as is_near_exposure,
        cast(unit_events.event_at as date) as event_date,
        cast(unit_events.first_exposed_at as date) as exposure_date,
        unit_events.value
    from unit_events
    inner join event_windows
        on unit_events.experiment_id = event_windows.experiment_id
        and unit_events.event_name = event_windows.event_name
),

kept as (
    select matched.*
    from matched
    where (
        matched.period = 'post'
        -- the CUPED covariate; the last day before exposure is counted for one window per event
        or (matched.period = 'pre' and (matched.pre_period_days > 0 or matched.is_counting_window))
        -- only counted (fct_quarantine), once per event: in its longest window
        or (matched.period = 'after_window' and matched.is_counting_window)
    )
    {%- if is_incremental() %}
        and (
            (matched.period <> 'pre' and matched.event_date >= {{ recompute_from_date() }})
            or matched.first_exposed_at >= {{ recompute_from_timestamp() }}
        )
    {%- endif %}
),

window_sums as (
    select
        kept.window_key,
        kept.unit_id,
        kept.period,
        case when kept.period = 'pre' then kept.exposure_date else kept.event_date end as activity_date,
        count(case when kept.period <> 'pre' or kept.is_in_pre_period then 1 end) as event_count,
        coalesce(
            sum(case when kept.period <> 'pre' or kept.is_in_pre_period then {{ to_exact('kept.value') }} end),
            {{ to_exact(0) }}
        ) as value_sum,
        count(case when kept.period <> 'pre' or kept.is_in_pre_period then kept.value end) as value_count,
        count(case when kept.period = 'pre' and kept.is_near_exposure then 1 end) as near_exposure_count
    from kept
    group by
        kept.window_key,
        kept.unit_id,
        kept.period,
        case when kept.period = 'pre' then kept.exposure_date else kept.event_date end
)

select
    event_windows.experiment_id,
    window_sums.unit_id,
    event_windows.event_name,
    event_windows.attribution_window_days,
    event_windows.pre_period_days,
    window_sums.period,
    window_sums.activity_date,
    window_sums.event_count,
    window_sums.value_sum,
    window_sums.value_count,
    window_sums.near_exposure_count,
    {{ built_as_of_column() }},
    cast(1 as integer) as sign,
    {{ run_loaded_at() }} as loaded_at
from window_sums
inner join event_windows
    on window_sums.window_key = event_windows.window_key
