-- Grain: one row per (experiment_id, metric_id) analysed. Resolves every aggregation into a
-- numerator component and, for mean / ratio, a denominator component:
--   measure: event_count | value_sum | value_count; is_indicator: conversion (0/1 per unit).
-- depends_on: {{ ref('int_registry_problems') }}
with experiment_metrics as (
    select * from {{ ref('stg_registry__experiment_metrics') }}
),

metrics as (
    select * from {{ ref('stg_registry__metrics') }}
),

experiments as (
    select * from {{ ref('stg_registry__experiments') }}
),

analysed as (
    select
        experiment_metrics.experiment_id,
        experiment_metrics.metric_role,
        experiment_metrics.practical_threshold,
        experiment_metrics.threshold_scale,
        experiment_metrics.guardrail_tolerance,
        metrics.*
    from experiment_metrics
    inner join metrics
        on experiment_metrics.metric_id = metrics.metric_id
),

components as (
    -- The per-unit definition of a non-ratio metric as a component.
    select
        metrics.metric_id,
        metrics.source_event as event_name,
        case metrics.aggregation
            when 'sum' then 'value_sum'
            else 'event_count'
        end as measure,
        metrics.aggregation = 'conversion' as is_indicator,
        metrics.winsorize_cap as cap
    from metrics
    where metrics.aggregation in ('conversion', 'count', 'sum')
)

select
    analysed.experiment_id,
    analysed.metric_id,
    analysed.metric_role,
    analysed.aggregation,
    analysed.desired_direction,
    analysed.practical_threshold,
    analysed.threshold_scale,
    analysed.guardrail_tolerance,
    analysed.attribution_window_days,
    analysed.pre_period_days,
    analysed.pre_period_days > 0 as has_pre_period,
    case
        when analysed.aggregation = 'ratio' then numerator.event_name
        else analysed.source_event
    end as num_event,
    case
        when analysed.aggregation = 'ratio' then numerator.measure
        when analysed.aggregation in ('sum', 'mean') then 'value_sum'
        else 'event_count'
    end as num_measure,
    case
        when analysed.aggregation = 'ratio' then numerator.is_indicator
        else analysed.aggregation = 'conversion'
    end as num_is_indicator,
    case
        when analysed.aggregation = 'ratio' then numerator.cap
        when analysed.aggregation in ('sum', 'count') then analysed.winsorize_cap
    end as num_cap,
    case
        when analysed.aggregation = 'ratio' then denominator.event_name
        when analysed.aggregation = 'mean' then analysed.source_event
    end as den_event,
    case
        when analysed.aggregation = 'ratio' then denominator.measure
        when analysed.aggregation = 'mean' then 'value_count'
    end as den_measure,
    coalesce(analysed.aggregation = 'ratio' and denominator.is_indicator, false) as den_is_indicator,
    case when analysed.aggregation = 'ratio' then denominator.cap end as den_cap,
    analysed.aggregation in ('mean', 'ratio') as has_denominator,
    experiments.alpha,
    experiments.use_cuped,
    experiments.analysis_method,
    experiments.power,
    experiments.design,
    experiments.sequential_looks,
    experiments.msprt_mixing_sd,
    experiments.start_date,
    experiments.end_date
from analysed
inner join experiments
    on analysed.experiment_id = experiments.experiment_id
left join components as numerator
    on analysed.numerator_metric_id = numerator.metric_id
left join components as denominator
    on analysed.denominator_metric_id = denominator.metric_id
