-- Grain: one row per (experiment_id, metric_id, unit_id, activity_date, row_kind) on which the
-- unit's cumulative metric value changes, plus its entry row on exposure_date (row_kind 'value').
--
-- Why deltas: the arm statistics at analysis date D are sums over units of functions of each
-- unit's cumulative value at D (n, sum y, sum y^2, sum x*y, ...). Each such sum telescopes into
-- the sum, over dates <= D, of per-unit changes (y_t^2 - y_{t-1}^2, x*(y_t - y_{t-1}), ...),
-- so summing these changes per arm and day and taking a running total over days gives the
-- exact statistics for every analysis date without materialising units x dates.
--
-- Incremental (macros/incremental.sql): rows dated on or after R are recomputed for the units
-- active on or after R, starting from each unit's cumulative value before R (its earlier
-- event days collapsed into one carry row). A unit excluded by exposure rows that arrived on or
-- after R gets row_kind 'exclusion_reversal' rows that cancel its earlier rows exactly, so every
-- sum downstream equals a full refresh.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{% if is_incremental() %}delete from {{ this }} where activity_date >= {{ recompute_from_date() }}{% endif %}"
) }}
-- depends_on: {{ ref('int_incremental_window') }}
-- depends_on: {{ ref('int_exposures_validated') }}
{%- set incremental = is_incremental() %}
{%- set recompute_from = recompute_from_date() if incremental else "cast('1900-01-01' as date)" %}
{%- set moments = arm_moment_columns() %}


with definitions as (
    select * from {{ ref('int_experiment_metrics_defined') }}
),

all_units as (
    select * from {{ ref('fct_exposures') }}
),

{%- if incremental %}

active_units as (
    -- units whose statistics can change on or after R
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
    from all_units as new_units
    where new_units.exposure_date >= {{ recompute_from }}
),

units as (
    select all_units.*
    from all_units
    inner join active_units
        on all_units.experiment_id = active_units.experiment_id
        and all_units.unit_id = active_units.unit_id
),
{%- else %}

units as (
    select * from all_units
),
{%- endif %}

event_days as (
    select unit_days.*
    from {{ ref('int_unit_event_days') }} as unit_days
    {%- if incremental %}
    inner join active_units
        on unit_days.experiment_id = active_units.experiment_id
        and unit_days.unit_id = active_units.unit_id
    {%- endif %}
    where unit_days.period = 'post'
        or (unit_days.period = 'pre' and unit_days.pre_period_days > 0)
),

component_values as (
    -- Raw (untransformed) numerator and denominator per unit, metric, period and day; days
    -- before R (incremental runs) collapse into one carry day, R - 1.
    select
        definitions.experiment_id,
        definitions.metric_id,
        event_days.unit_id,
        event_days.period,
        {{ carry_date('event_days.activity_date', recompute_from) }} as activity_date,
        {{ component_measure_sum('event_days', 'definitions.num_event', 'definitions.num_measure') }}
            as num_raw,
        {{ component_measure_sum('event_days', 'definitions.den_event', 'definitions.den_measure') }}
            as den_raw
    from event_days
    inner join definitions
        on event_days.experiment_id = definitions.experiment_id
        and event_days.attribution_window_days = definitions.attribution_window_days
        and event_days.pre_period_days = definitions.pre_period_days
        and (
            event_days.event_name = definitions.num_event
            or event_days.event_name = definitions.den_event
        )
    group by
        definitions.experiment_id,
        definitions.metric_id,
        event_days.unit_id,
        event_days.period,
        {{ carry_date('event_days.activity_date', recompute_from) }}
),

unit_metrics as (
    -- Every analysed unit x every metric of its experiment, with its pre-period covariates.
    select
        units.experiment_id,
        definitions.metric_id,
        units.unit_id,
        units.variant_id,
        units.platform,
        units.country,
        units.city,
        units.exposure_date,
        definitions.has_pre_period,
        definitions.has_denominator,
        definitions.num_is_indicator,
        definitions.num_cap,
        definitions.den_is_indicator,
        definitions.den_cap,
        pre_values.unit_id is not null as has_pre_events,
        coalesce(pre_values.num_raw, {{ to_exact(0) }}) as pre_num_raw,
        coalesce(pre_values.den_raw, {{ to_exact(0) }}) as pre_den_raw
    from units
    inner join definitions
        on units.experiment_id = definitions.experiment_id
    left join component_values as pre_values
        on units.experiment_id = pre_values.experiment_id
        and definitions.metric_id = pre_values.metric_id
        and units.unit_id = pre_values.unit_id
        and pre_values.period = 'pre'
),

daily_values as (
    -- The entry row (exposure_date, no change) plus one row per day with post-period events.
    select
        unit_metrics.experiment_id,
        unit_metrics.metric_id,
        unit_metrics.unit_id,
        {{ carry_date('unit_metrics.exposure_date', recompute_from) }} as activity_date,
        {{ to_exact(0) }} as num_raw,
        {{ to_exact(0) }} as den_raw
    from unit_metrics
    union all
    select
        component_values.experiment_id,
        component_values.metric_id,
        component_values.unit_id,
        component_values.activity_date,
        component_values.num_raw,
        component_values.den_raw
    from component_values
    where component_values.period = 'post'
),

daily_totals as (
    select
        daily_values.experiment_id,
        daily_values.metric_id,
        daily_values.unit_id,
        daily_values.activity_date,
        sum(daily_values.num_raw) as num_raw,
        sum(daily_values.den_raw) as den_raw
    from daily_values
    group by
        daily_values.experiment_id,
        daily_values.metric_id,
        daily_values.unit_id,
        daily_values.activity_date
),

cumulative as (
    select
        daily_totals.experiment_id,
        daily_totals.metric_id,
        daily_totals.unit_id,
        daily_totals.activity_date,
        sum(daily_totals.num_raw) over (
            partition by daily_totals.experiment_id, daily_totals.metric_id, daily_totals.unit_id
            order by daily_totals.activity_date
            rows between unbounded preceding and current row
        ) as num_cumulative,
        sum(daily_totals.den_raw) over (
            partition by daily_totals.experiment_id, daily_totals.metric_id, daily_totals.unit_id
            order by daily_totals.activity_date
            rows between unbounded preceding and current row
        ) as den_cumulative,
        daily_totals.num_raw,
        daily_totals.den_raw
    from daily_totals
),

transformed as (
    -- Per-unit values: conversion as an indicator, winsorisation cap on the unit total.
    select
        cumulative.experiment_id,
        cumulative.metric_id,
        cumulative.unit_id,
        cumulative.activity_date,
        cumulative.activity_date = unit_metrics.exposure_date as is_entry,
        unit_metrics.variant_id,
        unit_metrics.platform,
        unit_metrics.country,
        unit_metrics.city,
        unit_metrics.has_pre_period,
        unit_metrics.has_denominator,
        unit_metrics.has_pre_events,
        {{ unit_value('cumulative.num_cumulative', 'unit_metrics.num_is_indicator', 'unit_metrics.num_cap') }} as num_value,
        {{ unit_value('cumulative.den_cumulative', 'unit_metrics.den_is_indicator', 'unit_metrics.den_cap') }} as den_value,
        -- the value the day before: the running total without this day (exact), transformed the
        -- same way (saves a second window pass, lag, over the largest intermediate)
        {{ unit_value('cumulative.num_cumulative - cumulative.num_raw', 'unit_metrics.num_is_indicator', 'unit_metrics.num_cap') }}
            as previous_num_value,
        {{ unit_value('cumulative.den_cumulative - cumulative.den_raw', 'unit_metrics.den_is_indicator', 'unit_metrics.den_cap') }}
            as previous_den_value,
        {{ unit_value('unit_metrics.pre_num_raw', 'unit_metrics.num_is_indicator', 'unit_metrics.num_cap') }} as pre_num_value,
        {{ unit_value('unit_metrics.pre_den_raw', 'unit_metrics.den_is_indicator', 'unit_metrics.den_cap') }} as pre_den_value
    from cumulative
    inner join unit_metrics
        on cumulative.experiment_id = unit_metrics.experiment_id
        and cumulative.metric_id = unit_metrics.metric_id
        and cumulative.unit_id = unit_metrics.unit_id
),

deltas as (
    select
        transformed.experiment_id,
        transformed.metric_id,
        transformed.unit_id,
        transformed.variant_id,
        transformed.platform,
        transformed.country,
        transformed.city,
        transformed.activity_date,
        transformed.has_pre_period,
        transformed.has_denominator,
        case when transformed.is_entry then 1 else 0 end as n_units,
        case when transformed.is_entry and transformed.has_pre_events then 1 else 0 end
            as n_units_with_pre_period,
        transformed.num_value - transformed.previous_num_value as sum_num,
        transformed.num_value * transformed.num_value
            - transformed.previous_num_value * transformed.previous_num_value as sum_num_sq,
        transformed.den_value - transformed.previous_den_value as sum_den,
        transformed.den_value * transformed.den_value
            - transformed.previous_den_value * transformed.previous_den_value as sum_den_sq,
        transformed.num_value * transformed.den_value
            - transformed.previous_num_value * transformed.previous_den_value as sum_num_den,
        case when transformed.is_entry then transformed.pre_num_value else 0 end as sum_pre_num,
        case when transformed.is_entry
            then transformed.pre_num_value * transformed.pre_num_value else 0 end as sum_pre_num_sq,
        case when transformed.is_entry then transformed.pre_den_value else 0 end as sum_pre_den,
        case when transformed.is_entry
            then transformed.pre_den_value * transformed.pre_den_value else 0 end as sum_pre_den_sq,
        case when transformed.is_entry
            then transformed.pre_num_value * transformed.pre_den_value else 0 end as sum_pre_num_pre_den,
        transformed.pre_num_value * (transformed.num_value - transformed.previous_num_value)
            as sum_num_pre_num,
        transformed.pre_den_value * (transformed.num_value - transformed.previous_num_value)
            as sum_num_pre_den,
        transformed.pre_num_value * (transformed.den_value - transformed.previous_den_value)
            as sum_den_pre_num,
        transformed.pre_den_value * (transformed.den_value - transformed.previous_den_value)
            as sum_den_pre_den
    from transformed
),

new_rows as (
    select
        deltas.experiment_id,
        deltas.metric_id,
        deltas.unit_id,
        deltas.variant_id,
        deltas.platform,
        deltas.country,
        deltas.city,
        deltas.activity_date,
        'value' as row_kind,
        cast(deltas.n_units as bigint) as n_units,
        cast(deltas.n_units_with_pre_period as bigint) as n_units_with_pre_period,
        {%- for column in moments if not column.startswith('n_') %}
        {{ to_exact('deltas.' ~ column) }} as {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from deltas
    where deltas.activity_date >= {{ recompute_from }}
        and (deltas.n_units = 1 or deltas.sum_num <> 0 or deltas.sum_den <> 0)
)
{%- if incremental %},

reversals as (
    -- units analysed before R and excluded by exposure rows that arrived on or after R: cancel
    -- every earlier row (rows already cancelled net to zero and are skipped)
    select
        previous.experiment_id,
        previous.metric_id,
        previous.unit_id,
        previous.variant_id,
        previous.platform,
        previous.country,
        previous.city,
        previous.activity_date,
        'exclusion_reversal' as row_kind,
        {%- for column in moments %}
        {%- if column.startswith('n_') %}
        cast(-sum(previous.{{ column }}) as bigint) as {{ column }}{{ "," if not loop.last }}
        {%- else %}
        {{ to_exact('-sum(previous.' ~ column ~ ')') }} as {{ column }}{{ "," if not loop.last }}
        {%- endif %}
        {%- endfor %}
    from {{ this }} as previous
    where previous.activity_date < {{ recompute_from }}
        and exists (
            select 1
            from ({{ recently_exposed_units() }}) as recent
            where recent.experiment_id = previous.experiment_id
                and recent.unit_id = previous.unit_id
        )
        and not exists (
            select 1
            from all_units as kept
            where kept.experiment_id = previous.experiment_id
                and kept.unit_id = previous.unit_id
        )
    group by
        previous.experiment_id,
        previous.metric_id,
        previous.unit_id,
        previous.variant_id,
        previous.platform,
        previous.country,
        previous.city,
        previous.activity_date
    having
        {%- for column in moments %}
        sum(previous.{{ column }}) <> 0{{ " or" if not loop.last }}
        {%- endfor %}
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
