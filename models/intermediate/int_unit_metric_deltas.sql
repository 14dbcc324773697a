-- Grain: one row per (experiment_id, metric_id, unit_id, activity_date, is_pre_period_entry, sign).
--   is_pre_period_entry 0: a day with post-period events of the metric; num_raw / den_raw are the
--                          day's raw change (exact), num_value / den_value the unit's transformed
--                          value after that day and previous_* before it.
--   is_pre_period_entry 1: the unit has pre-period events (CUPED covariate); activity_date is its
--                          exposure date, raw changes and values are 0 (no change).
--   sign -1:               an exclusion reversal (see below); +1 otherwise.
-- Every row carries the unit's pre-period values (pre_num_value, pre_den_value; 0 without a
-- pre-period) and its arm slice as one 64-bit key (arm_slice_key: experiment, variant, platform,
-- country, city; int_arm_slices_keyed maps it back to the strings), which is cheaper to write than
-- the four strings.
--
-- Why deltas: the arm statistics at analysis date D are sums over units of functions of each
-- unit's cumulative value at D (sum y, sum y^2, sum x*y, ...). Each such sum telescopes into the
-- sum, over dates <= D, of per-unit changes (y_t^2 - y_{t-1}^2, x*(y_t - y_{t-1}), ...), so
-- summing these changes per arm and day (int_arm_metric_deltas) and taking a running total over
-- days (fct_arm_statistics) gives the exact statistics for every analysis date without
-- materialising units x dates. Only the values are stored here, the moments are formed where they
-- are summed (macros/arm_moments.sql, unit_delta_moment): fewer, narrower columns to write.
-- Unit counts come from fct_exposures (fct_arm_statistics), so units without events for a
-- metric have no row here.
--
-- Incremental (macros/incremental.sql): rows dated on or after R are recomputed for the units
-- active on or after R from the event days on or after R, starting from each unit's total before
-- R: the sum of its stored raw changes (one carry day R - 1, not written), so a daily run reads
-- only the new event days and this table, never the event history. A unit excluded by exposure
-- rows that arrived on or after R gets sign -1 copies of its earlier rows that are not cancelled
-- yet, so every sum downstream equals a full refresh.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{% if is_incremental() %}delete from {{ this }} where activity_date >= {{ recompute_from_date() }}{% endif %}",
    post_hook="{{ record_incremental_watermark() }}"
) }}
-- depends_on: {{ ref('int_incremental_window') }}
-- depends_on: {{ ref('int_exposures_validated') }}
-- depends_on: {{ ref('int_exposure_units_recomputed') }}
-- depends_on: {{ ref('int_exposure_units_excluded') }}
-- int_unit_events_unattributed has no watermark of its own: built before this model, a run killed
-- before it also leaves this model's watermark behind, so the next run repeats both
-- depends_on: {{ ref('int_unit_events_unattributed') }}
{#- incremental: only the recomputed units (int_exposure_units_recomputed); an incremental run
    with R = 1900-01-01 (no previous state) deletes every row and rebuilds like a full refresh -#}
{%- set incremental = rebuilds_changed_units_only() %}
{%- set recompute_from = recompute_from_date() if incremental else "cast('1900-01-01' as date)" %}
{%- set value_columns = unit_delta_value_columns() %}
{#- the unit key of the per-unit aggregation, window and final join: a 64-bit hash of
    (experiment_id, unit_id) when it has no collision among the units in play, else the two
    strings (macros/portable.sql, unit_hash_is_unique) -#}
{#- a full build also reads the event days of units excluded by an incremental run (rows and their
    sign -1 copies, which add up to zero; their groups are dropped by the join to fct_exposures):
    their hashes must not collide with an analysed unit's either. A `having` on the groups instead
    made the model 40% slower at M. -#}
{%- set units_in_play = ref('int_exposure_units_recomputed') if incremental else
    '(select analysed.experiment_id, analysed.unit_id from ' ~ ref('fct_exposures') ~ ' as analysed'
    ~ ' union all select distinct reversed.experiment_id, reversed.unit_id from ' ~ ref('int_unit_event_days')
    ~ ' as reversed where reversed.sign < 0)' %}
{%- set hashed = unit_hash_is_unique(units_in_play) %}
{%- set key_columns = ['unit_key'] if hashed else ['experiment_id', 'unit_id'] %}
{%- set event_days_key = unit_hash('event_days') | trim if hashed else 'event_days.experiment_id, event_days.unit_id' %}


with definitions as (
    -- an integer key per (experiment, metric): narrower window partitions and joins
    select
        defined.*,
        row_number() over (order by defined.experiment_id, defined.metric_id) as metric_key
    from {{ ref('int_experiment_metrics_defined') }} as defined
),

units as (
    {%- if incremental %}
    -- units whose statistics can change on or after R
    select
        {%- if hashed %}
        {{ unit_hash('recomputed') }} as unit_key,
        {%- endif %}
        recomputed.experiment_id,
        recomputed.unit_id,
        {{ arm_slice_hash('recomputed') }} as arm_slice_key,
        recomputed.exposure_date
    from {{ ref('int_exposure_units_recomputed') }} as recomputed
    {%- else %}
    select
        {%- if hashed %}
        {{ unit_hash('analysed') }} as unit_key,
        {%- endif %}
        analysed.experiment_id,
        analysed.unit_id,
        {{ arm_slice_hash('analysed') }} as arm_slice_key,
        analysed.exposure_date
    from {{ ref('fct_exposures') }} as analysed
    {%- endif %}
),

{%- if incremental %}
previous_totals as (
    -- one pass over the stored rows of the active units (the table holds no row on or after R at
    -- this point): their raw totals before R (the carry) and their pre-period covariate
    select
        {%- for column in key_columns %}
        units.{{ column }},
        {%- endfor %}
        definitions.metric_key,
        sum(case when previous.is_pre_period_entry = 0 then previous.sign * previous.num_raw end) as num_raw,
        sum(case when previous.is_pre_period_entry = 0 then previous.sign * previous.den_raw end) as den_raw,
        count(case when previous.is_pre_period_entry = 0 then 1 end) as n_post_rows,
        max(case when previous.is_pre_period_entry = 1 and previous.sign = 1 then previous.pre_num_value end)
            as pre_num_value,
        max(case when previous.is_pre_period_entry = 1 and previous.sign = 1 then previous.pre_den_value end)
            as pre_den_value,
        count(case when previous.is_pre_period_entry = 1 and previous.sign = 1 then 1 end) as n_pre_rows
    from {{ this }} as previous
    inner join units
        on previous.experiment_id = units.experiment_id
        and previous.unit_id = units.unit_id
    inner join definitions
        on previous.experiment_id = definitions.experiment_id
        and previous.metric_id = definitions.metric_id
    -- an active unit was first exposed after R - longest window (it has post-period events on or
    -- after R, or a first exposure on or after R), and no row of it is dated before its exposure
    -- date: the older rows need not be probed (one day of margin)
    where previous.activity_date >= cast({{ dbt.dateadd('day', -(longest_metric_days('attribution_window_days') + 1), recompute_from) }} as date)
    group by
        {%- for column in key_columns %}
        units.{{ column }},
        {%- endfor %}
        definitions.metric_key
),
{%- endif %}

{#- Raw (untransformed) numerator and denominator per unit, metric and day, one CTE per period
    (incremental runs: only the days on or after R; pre rows are dated on the exposure date). Each
    is read once: DuckDB materialises a CTE that is read twice, which at L costs memory and time
    (docs/benchmarks.md, session 5). -#}
{%- for period in ['pre', 'post'] %}

{{ period }}_component_values as (
    select
        {{ event_days_key }}{{ ' as unit_key' if hashed }},
        definitions.metric_key,
        event_days.activity_date,
        {{ component_measure_sum('event_days', 'definitions.num_event', 'definitions.num_measure') }}
            as num_raw,
        {{ component_measure_sum('event_days', 'definitions.den_event', 'definitions.den_measure') }}
            as den_raw
    from {{ ref('int_unit_event_days') }} as event_days
    {%- if incremental %}
    inner join units
        on event_days.experiment_id = units.experiment_id
        and event_days.unit_id = units.unit_id
    {%- endif %}
    inner join definitions
        on event_days.experiment_id = definitions.experiment_id
        and event_days.attribution_window_days = definitions.attribution_window_days
        and event_days.pre_period_days = definitions.pre_period_days
        and (
            event_days.event_name = definitions.num_event
            or event_days.event_name = definitions.den_event
        )
    where event_days.period = '{{ period }}'
    {%- if period == 'pre' %}
        and event_days.pre_period_days > 0
    {%- endif %}
    {%- if incremental %}
        and event_days.activity_date >= {{ recompute_from }}
    {%- endif %}
    group by
        {{ event_days_key }},
        definitions.metric_key,
        event_days.activity_date
),
{%- endfor %}

daily_changes as (
    -- One window input per unit and metric: the post-period days (raw changes), and the CUPED
    -- covariate (transformed like the metric) as one pre row with zero raw change, so the window
    -- hands every row its unit's covariate and no separate join is needed (at L that join held
    -- a hash table of all covariates while the window emitted, and ran out of memory)
    select
        {%- for column in key_columns %}
        post_component_values.{{ column }},
        {%- endfor %}
        post_component_values.metric_key,
        post_component_values.activity_date,
        0 as is_pre_period_entry,
        post_component_values.num_raw,
        post_component_values.den_raw,
        cast(null as double) as pre_num_value,
        cast(null as double) as pre_den_value
    from post_component_values
    union all
    -- the pre row is dated on the exposure date in new_rows, which joins the units anyway
    select
        {%- for column in key_columns %}
        pre_component_values.{{ column }},
        {%- endfor %}
        pre_component_values.metric_key,
        cast(null as date) as activity_date,
        1 as is_pre_period_entry,
        {{ to_exact(0) }} as num_raw,
        {{ to_exact(0) }} as den_raw,
        {{ unit_value('pre_component_values.num_raw', 'definitions.num_is_indicator', 'definitions.num_cap') }}
            as pre_num_value,
        {{ unit_value('pre_component_values.den_raw', 'definitions.den_is_indicator', 'definitions.den_cap') }}
            as pre_den_value
    from pre_component_values
    inner join definitions
        on pre_component_values.metric_key = definitions.metric_key
    {%- if incremental %}
    union all
    -- the unit's total before R (the sum of its stored daily raw changes) as one carry day, R - 1
    select
        {%- for column in key_columns %}
        previous_totals.{{ column }},
        {%- endfor %}
        previous_totals.metric_key,
        cast({{ dbt.dateadd('day', -1, recompute_from) }} as date) as activity_date,
        0 as is_pre_period_entry,
        previous_totals.num_raw,
        previous_totals.den_raw,
        cast(null as double) as pre_num_value,
        cast(null as double) as pre_den_value
    from previous_totals
    where previous_totals.n_post_rows > 0
    union all
    -- units exposed before R: the covariate stored with their pre-period row
    select
        {%- for column in key_columns %}
        previous_totals.{{ column }},
        {%- endfor %}
        previous_totals.metric_key,
        cast(null as date) as activity_date,
        1 as is_pre_period_entry,
        {{ to_exact(0) }} as num_raw,
        {{ to_exact(0) }} as den_raw,
        previous_totals.pre_num_value,
        previous_totals.pre_den_value
    from previous_totals
    where previous_totals.n_pre_rows > 0
    {%- endif %}
),

{%- set unit_running_window -%}
    (
        partition by {% for column in key_columns %}daily_changes.{{ column }}, {% endfor %}daily_changes.metric_key
        order by daily_changes.activity_date nulls first
        rows between unbounded preceding and current row
    )
{%- endset %}

cumulative as (
    -- the unit's running total after each day and its covariate, in one sort: the pre row (no
    -- date, zero change) sorts first, so first_value hands its covariate to every later row
    select
        {%- for column in key_columns %}
        daily_changes.{{ column }},
        {%- endfor %}
        daily_changes.metric_key,
        daily_changes.activity_date,
        daily_changes.is_pre_period_entry,
        daily_changes.num_raw,
        daily_changes.den_raw,
        sum(daily_changes.num_raw) over {{ unit_running_window }} as num_cumulative,
        sum(daily_changes.den_raw) over {{ unit_running_window }} as den_cumulative,
        first_value(daily_changes.pre_num_value) over {{ unit_running_window }} as pre_num_value,
        first_value(daily_changes.pre_den_value) over {{ unit_running_window }} as pre_den_value
    from daily_changes
),

changed_rows as (
    -- Per-unit values: conversion as an indicator, winsorisation cap on the unit total; the value
    -- the day before is the running total without this day (exact), transformed the same way.
    -- Every day with a raw change is kept (even if the transformed value does not move), so the
    -- stored raw changes add up to the unit's total for the next incremental run's carry.
    -- Pre rows (values 0, no change) count the unit towards n_units_with_pre_period and the pre
    -- moments.
    select
        {%- for column in key_columns %}
        cumulative.{{ column }},
        {%- endfor %}
        cumulative.metric_key,
        cumulative.activity_date,
        cumulative.is_pre_period_entry,
        cumulative.num_raw,
        cumulative.den_raw,
        {%- for component in ['num', 'den'] %}
        case when cumulative.is_pre_period_entry = 1 then 0.0 else
            {{ unit_value('cumulative.' ~ component ~ '_cumulative', 'definitions.' ~ component ~ '_is_indicator', 'definitions.' ~ component ~ '_cap') }}
        end as {{ component }}_value,
        case when cumulative.is_pre_period_entry = 1 then 0.0 else
            {{ unit_value('cumulative.' ~ component ~ '_cumulative - cumulative.' ~ component ~ '_raw', 'definitions.' ~ component ~ '_is_indicator', 'definitions.' ~ component ~ '_cap') }}
        end as previous_{{ component }}_value,
        {%- endfor %}
        coalesce(cumulative.pre_num_value, 0) as pre_num_value,
        coalesce(cumulative.pre_den_value, 0) as pre_den_value
    from cumulative
    inner join definitions
        on cumulative.metric_key = definitions.metric_key
    where (
        cumulative.is_pre_period_entry = 0
        and cumulative.activity_date >= {{ recompute_from }}
        and (cumulative.num_raw <> 0 or cumulative.den_raw <> 0)
    ) or (
        cumulative.is_pre_period_entry = 1
        and definitions.has_pre_period
    )
),

new_rows as (
    select
        units.experiment_id,
        definitions.metric_id,
        units.unit_id,
        units.arm_slice_key,
        coalesce(changed_rows.activity_date, units.exposure_date) as activity_date,
        cast(1 as integer) as sign,
        cast(changed_rows.is_pre_period_entry as integer) as is_pre_period_entry,
        {{ to_exact('changed_rows.num_raw') }} as num_raw,
        {{ to_exact('changed_rows.den_raw') }} as den_raw,
        {%- for column in value_columns %}
        cast(changed_rows.{{ column }} as double) as {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from changed_rows
    inner join units
        on {% for column in key_columns %}changed_rows.{{ column }} = units.{{ column }}{{ ' and ' if not loop.last }}{% endfor %}
    inner join definitions
        on changed_rows.metric_key = definitions.metric_key
    -- a pre-period row only for units first exposed on or after R (the others keep theirs)
    where changed_rows.is_pre_period_entry = 0
        or units.exposure_date >= {{ recompute_from }}
)
{%- if incremental %},

excluded_units as (
    -- units analysed before R that exposure rows on or after R exclude: a few, so the join below
    -- builds on them and only probes the stored rows
    select
        excluded.experiment_id,
        excluded.unit_id
    from {{ ref('int_exposure_units_excluded') }} as excluded
),

reversals as (
    -- units analysed before R and excluded by exposure rows that arrived on or after R: a sign -1
    -- copy of every earlier row not cancelled yet (a rerun must not cancel a unit twice)
    select
        previous.experiment_id,
        previous.metric_id,
        previous.unit_id,
        previous.arm_slice_key,
        previous.activity_date,
        cast(-sum(previous.sign) as integer) as sign,
        previous.is_pre_period_entry,
        previous.num_raw,
        previous.den_raw,
        {%- for column in value_columns %}
        previous.{{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ this }} as previous
    inner join excluded_units
        on previous.experiment_id = excluded_units.experiment_id
        and previous.unit_id = excluded_units.unit_id
    where previous.activity_date < {{ recompute_from }}
        and previous.activity_date >= {{ excluded_units_first_date() }}
    group by
        previous.experiment_id,
        previous.metric_id,
        previous.unit_id,
        previous.arm_slice_key,
        previous.activity_date,
        previous.is_pre_period_entry,
        previous.num_raw,
        previous.den_raw,
        {%- for column in value_columns %}
        previous.{{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    having sum(previous.sign) <> 0
)
{%- endif %}

select
    changed.*,
    {{ built_as_of_column() }},
    {{ run_loaded_at() }} as loaded_at
from (
    select * from new_rows
    {%- if incremental %}
    union all
    select * from reversals
    {%- endif %}
) as changed
