-- Grain: one row per (experiment_id, metric_id, variant_id, dimension_name, dimension_value,
-- analysis_date): the arm's sufficient statistics as of the end of analysis_date. Every
-- registered variant has a row for every slice value seen and every analysis date (n_units = 0
-- when empty). den moments are null for conversion / count / sum metrics; pre-period moments are
-- null when the metric has no pre-period.
{%- set moments = arm_moment_columns() %}

with metric_deltas as (
    select * from {{ ref('int_arm_metric_deltas') }}
),

daily_units as (
    -- units counted on their exposure date (for every metric of their experiment, below)
    {{ exposed_units_by_day() }}
),

daily as (
    select
        metric_deltas.experiment_id,
        metric_deltas.metric_id,
        metric_deltas.variant_id,
        metric_deltas.platform,
        metric_deltas.country,
        metric_deltas.city,
        metric_deltas.activity_date,
        {%- for column in moments %}
        {{ '0' if column == 'n_units' else 'metric_deltas.' ~ column }} as {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from metric_deltas
    union all
    select
        daily_units.experiment_id,
        unit_metrics.metric_id,
        daily_units.variant_id,
        daily_units.platform,
        daily_units.country,
        daily_units.city,
        daily_units.activity_date,
        {%- for column in moments %}
        {{ 'daily_units.n_units' if column == 'n_units' else '0' }} as {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from daily_units
    inner join {{ ref('int_experiment_metrics_defined') }} as unit_metrics
        on daily_units.experiment_id = unit_metrics.experiment_id
),

dimensions as (
    select * from {{ ref('stg_registry__experiment_dimensions') }}
),

sliced as (
    {{ rollup_slices('daily', ['experiment_id', 'metric_id', 'variant_id', 'activity_date'], moments, 'dimensions') }}
),

slice_values as (
    select distinct
        sliced.experiment_id,
        sliced.dimension_name,
        sliced.dimension_value
    from sliced
    union
    select
        experiments.experiment_id,
        'overall' as dimension_name,
        'all' as dimension_value
    from {{ ref('stg_registry__experiments') }} as experiments
),

grid as (
    select
        definitions.experiment_id,
        definitions.metric_id,
        variants.variant_id,
        slice_values.dimension_name,
        slice_values.dimension_value,
        analysis_dates.analysis_date,
        definitions.has_denominator,
        definitions.has_pre_period
    from {{ ref('int_experiment_metrics_defined') }} as definitions
    inner join {{ ref('stg_registry__variants') }} as variants
        on definitions.experiment_id = variants.experiment_id
    inner join slice_values
        on definitions.experiment_id = slice_values.experiment_id
    inner join {{ ref('int_experiment_analysis_dates') }} as analysis_dates
        on definitions.experiment_id = analysis_dates.experiment_id
),

cumulated as (
    select
        grid.experiment_id,
        grid.metric_id,
        grid.variant_id,
        grid.dimension_name,
        grid.dimension_value,
        grid.analysis_date,
        grid.has_denominator,
        grid.has_pre_period,
        {%- for column in moments %}
        sum(coalesce(sliced.{{ column }}, 0)) over (
            partition by
                grid.experiment_id, grid.metric_id, grid.variant_id,
                grid.dimension_name, grid.dimension_value
            order by grid.analysis_date
            rows between unbounded preceding and current row
        ) as {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from grid
    left join sliced
        on grid.experiment_id = sliced.experiment_id
        and grid.metric_id = sliced.metric_id
        and grid.variant_id = sliced.variant_id
        and grid.dimension_name = sliced.dimension_name
        and grid.dimension_value = sliced.dimension_value
        and grid.analysis_date = sliced.activity_date
)

select
    cumulated.experiment_id,
    cumulated.metric_id,
    cumulated.variant_id,
    cumulated.dimension_name,
    cumulated.dimension_value,
    cumulated.analysis_date,
    {%- for column in moments %}
    {%- if column.startswith('n_') %}
    cast(cumulated.{{ column }} as bigint) as {{ column }}{{ "," if not loop.last }}
    {%- else %}
    case
        when {{ 'not cumulated.has_denominator' if is_denominator_moment(column) else 'false' }} then null
        when {{ 'not cumulated.has_pre_period' if is_pre_period_moment(column) else 'false' }} then null
        else cast(cumulated.{{ column }} as double)
    end as {{ column }}{{ "," if not loop.last }}
    {%- endif %}
    {%- endfor %}
from cumulated
