-- Grain: one row per registry problem (empty when the registry is valid). The build stops here
-- with an error that names every offending row, before any fact model runs: a registry error
-- is a configuration mistake, not dirty data, so it is not quarantined. (The same rules are also
-- dbt data tests on the seeds; this model turns them into one readable message.)
{%- set problems_sql %}
with experiments as (
    select * from {{ ref('experiments') }}
),

variants as (
    select * from {{ ref('variants') }}
),

metrics as (
    select * from {{ ref('metrics') }}
),

experiment_metrics as (
    select * from {{ ref('experiment_metrics') }}
),

experiment_dimensions as (
    select * from {{ ref('experiment_dimensions') }}
),

variant_totals as (
    select
        experiments.experiment_id,
        count(variants.variant_id) as n_variants,
        sum(case when variants.is_control then 1 else 0 end) as n_controls,
        sum(variants.traffic_weight) as total_weight,
        sum(case when variants.factor_a_level is null or variants.factor_b_level is null then 1 else 0 end)
            as n_variants_without_factor_levels
    from experiments
    left join variants
        on experiments.experiment_id = variants.experiment_id
    group by experiments.experiment_id
),

primary_counts as (
    select
        experiments.experiment_id,
        sum(case when experiment_metrics.metric_role = 'primary' then 1 else 0 end) as n_primary
    from experiments
    left join experiment_metrics
        on experiments.experiment_id = experiment_metrics.experiment_id
    group by experiments.experiment_id
),

problems as (
    select
        'experiments' as registry_table,
        'experiment_id=' || coalesce(experiments.experiment_id, 'NULL') as registry_row,
        'experiment_id is duplicated or null' as problem
    from experiments
    where experiments.experiment_id is null
        or experiments.experiment_id in (
            select duplicated.experiment_id from experiments as duplicated
            group by duplicated.experiment_id having count(*) > 1
        )

    union all
    select
        'experiments',
        'experiment_id=' || experiments.experiment_id,
        'analysis_method ' || coalesce('''' || experiments.analysis_method || '''', 'NULL')
            || ' is not one of fixed_horizon, group_sequential, msprt'
    from experiments
    where coalesce(experiments.analysis_method, '') not in ('fixed_horizon', 'group_sequential', 'msprt')

    union all
    select
        'experiments',
        'experiment_id=' || experiments.experiment_id,
        'group_sequential needs sequential_looks between 1 and 100'
    from experiments
    where experiments.analysis_method = 'group_sequential'
        and not coalesce(experiments.sequential_looks between 1 and 100, false)

    union all
    select
        'experiments',
        'experiment_id=' || experiments.experiment_id,
        'start_date / end_date missing or start_date after end_date'
    from experiments
    where not coalesce(experiments.start_date <= experiments.end_date, false)

    union all
    select
        'variants',
        'experiment_id=' || variant_totals.experiment_id,
        'traffic weights sum to ' || coalesce(cast(variant_totals.total_weight as {{ dbt.type_string() }}), 'NULL')
            || ', not 1'
    from variant_totals
    where variant_totals.n_variants > 0
        and not coalesce(abs(variant_totals.total_weight - 1) <= 1e-6, false)

    union all
    select
        'variants',
        'experiment_id=' || variant_totals.experiment_id,
        'has ' || cast(variant_totals.n_variants as {{ dbt.type_string() }})
            || ' variant(s); an experiment needs a control and at least one treatment'
    from variant_totals
    where variant_totals.n_variants < 2

    union all
    select
        'variants',
        'experiment_id=' || variant_totals.experiment_id,
        'has ' || cast(variant_totals.n_controls as {{ dbt.type_string() }}) || ' control variants, needs exactly 1'
    from variant_totals
    where variant_totals.n_variants >= 2
        and variant_totals.n_controls <> 1

    union all
    select
        'variants',
        'experiment_id=' || coalesce(variants.experiment_id, 'NULL') || ', variant_id=' || coalesce(variants.variant_id, 'NULL'),
        'unknown experiment_id, null variant_id or null is_control'
    from variants
    left join experiments
        on variants.experiment_id = experiments.experiment_id
    where experiments.experiment_id is null
        or variants.variant_id is null
        or variants.is_control is null

    union all
    select
        'variants',
        'experiment_id=' || variant_totals.experiment_id,
        'design factorial needs factor_a_level and factor_b_level on every variant'
    from variant_totals
    inner join experiments
        on variant_totals.experiment_id = experiments.experiment_id
    where experiments.design = 'factorial'
        and variant_totals.n_variants_without_factor_levels > 0

    union all
    select
        'experiment_metrics',
        'experiment_id=' || coalesce(experiment_metrics.experiment_id, 'NULL')
            || ', metric_id=' || coalesce(experiment_metrics.metric_id, 'NULL'),
        case
            when experiments.experiment_id is null then 'unknown experiment_id'
            when metrics.metric_id is null then 'unknown metric_id'
            else 'metric_role ' || coalesce('''' || experiment_metrics.metric_role || '''', 'NULL')
                || ' is not one of primary, secondary, guardrail'
        end
    from experiment_metrics
    left join experiments
        on experiment_metrics.experiment_id = experiments.experiment_id
    left join metrics
        on experiment_metrics.metric_id = metrics.metric_id
    where experiments.experiment_id is null
        or metrics.metric_id is null
        or coalesce(experiment_metrics.metric_role, '') not in ('primary', 'secondary', 'guardrail')

    union all
    select
        'experiment_metrics',
        'experiment_id=' || primary_counts.experiment_id,
        'has ' || cast(primary_counts.n_primary as {{ dbt.type_string() }}) || ' primary metrics, needs exactly 1'
    from primary_counts
    where primary_counts.n_primary <> 1

    union all
    select
        'metrics',
        'metric_id=' || coalesce(metrics.metric_id, 'NULL'),
        case
            when metrics.aggregation = 'ratio' then 'ratio metric needs known numerator_metric_id and denominator_metric_id (non-ratio metrics)'
            when coalesce(metrics.aggregation, '') not in ('conversion', 'count', 'sum', 'mean')
                then 'aggregation ' || coalesce('''' || metrics.aggregation || '''', 'NULL')
                    || ' is not one of conversion, count, sum, mean, ratio'
            else 'non-ratio metric needs a source_event'
        end
    from metrics
    left join metrics as numerator
        on metrics.numerator_metric_id = numerator.metric_id
        and numerator.aggregation <> 'ratio'
    left join metrics as denominator
        on metrics.denominator_metric_id = denominator.metric_id
        and denominator.aggregation <> 'ratio'
    where (metrics.aggregation = 'ratio' and (numerator.metric_id is null or denominator.metric_id is null))
        or coalesce(metrics.aggregation, '') not in ('conversion', 'count', 'sum', 'mean', 'ratio')
        or (metrics.aggregation <> 'ratio' and metrics.source_event is null)

    union all
    select
        'experiment_dimensions',
        'experiment_id=' || coalesce(experiment_dimensions.experiment_id, 'NULL')
            || ', dimension_name=' || coalesce(experiment_dimensions.dimension_name, 'NULL'),
        'dimension_name is not one of {{ dimension_columns() | join(", ") }} or experiment_id unknown'
    from experiment_dimensions
    left join experiments
        on experiment_dimensions.experiment_id = experiments.experiment_id
    where experiments.experiment_id is null
        or coalesce(experiment_dimensions.dimension_name, '') not in ('{{ dimension_columns() | join("', '") }}')
)

select
    problems.registry_table,
    problems.registry_row,
    problems.problem
from problems
{%- endset %}

{%- if execute and not flags.WHICH in ('compile', 'parse', 'docs', 'list', 'ls', 'show') %}
    {%- set found = run_query(problems_sql ~ ' order by 1, 2, 3') %}
    {%- if found.rows | length > 0 %}
        {%- set lines = [] %}
        {%- for row in found.rows %}
            {%- do lines.append('  - ' ~ row[0] ~ ' (' ~ row[1] ~ '): ' ~ row[2]) %}
        {%- endfor %}
        {{ exceptions.raise_compiler_error('Invalid experiment registry (seeds/), fix these rows:\n' ~ (lines | join('\n'))) }}
    {%- endif %}
{%- endif %}

{{ problems_sql }}
