-- Grain: one row per (experiment_id, dimension_name, dimension_value, analysis_date): Pearson's
-- chi-square goodness of fit of the observed units per variant against the configured weights
-- (k - 1 degrees of freedom). The p-value is added by the Python step (fct_srm_checks); the
-- SQL-only flag uses tabulated critical values so engines without Python still get the alarm.
with daily_units as (
    {{ exposed_units_by_day() }}
),

dimensions as (
    select * from {{ ref('stg_registry__experiment_dimensions') }}
),

sliced as (
    {{ rollup_slices('daily_units', ['experiment_id', 'variant_id', 'activity_date'], ['n_units'], 'dimensions') }}
),

slice_values as (
    select distinct sliced.experiment_id, sliced.dimension_name, sliced.dimension_value
    from sliced
    union
    select experiments.experiment_id, 'overall' as dimension_name, 'all' as dimension_value
    from {{ ref('stg_registry__experiments') }} as experiments
),

variants as (
    select
        variants.experiment_id,
        variants.variant_id,
        variants.traffic_weight / cast(sum({{ to_exact('variants.traffic_weight') }}) over (
            partition by variants.experiment_id
        ) as double) as weight_share
    from {{ ref('stg_registry__variants') }} as variants
),

cumulated as (
    select
        slice_values.experiment_id,
        slice_values.dimension_name,
        slice_values.dimension_value,
        analysis_dates.analysis_date,
        variants.variant_id,
        variants.weight_share,
        sum(coalesce(sliced.n_units, 0)) over (
            partition by
                slice_values.experiment_id, slice_values.dimension_name,
                slice_values.dimension_value, variants.variant_id
            order by analysis_dates.analysis_date
            rows between unbounded preceding and current row
        ) as n_units
    from slice_values
    inner join {{ ref('int_experiment_analysis_dates') }} as analysis_dates
        on slice_values.experiment_id = analysis_dates.experiment_id
    inner join variants
        on slice_values.experiment_id = variants.experiment_id
    left join sliced
        on slice_values.experiment_id = sliced.experiment_id
        and slice_values.dimension_name = sliced.dimension_name
        and slice_values.dimension_value = sliced.dimension_value
        and variants.variant_id = sliced.variant_id
        and analysis_dates.analysis_date = sliced.activity_date
),

with_expected as (
    select
        cumulated.*,
        sum(cumulated.n_units) over (
            partition by
                cumulated.experiment_id, cumulated.dimension_name,
                cumulated.dimension_value, cumulated.analysis_date
        ) * cumulated.weight_share as expected_units
    from cumulated
),

tests as (
    select
        with_expected.experiment_id,
        with_expected.dimension_name,
        with_expected.dimension_value,
        with_expected.analysis_date,
        cast(sum(with_expected.n_units) as bigint) as n_units_total,
        count(*) as n_variants,
        {{ dbt.listagg(
            "with_expected.variant_id || '=' || cast(cast(with_expected.n_units as bigint) as " ~ dbt.type_string() ~ ")",
            "', '", "order by with_expected.variant_id") }} as observed_units,
        cast(sum(
            case when with_expected.expected_units > 0 then {{ to_exact(
                '(cast(with_expected.n_units as double) - with_expected.expected_units)'
                ~ ' * (cast(with_expected.n_units as double) - with_expected.expected_units)'
                ~ ' / with_expected.expected_units') }}
            end
        ) as double) as chi_square
    from with_expected
    group by
        with_expected.experiment_id,
        with_expected.dimension_name,
        with_expected.dimension_value,
        with_expected.analysis_date
)

select
    tests.experiment_id,
    tests.dimension_name,
    tests.dimension_value,
    tests.analysis_date,
    tests.n_units_total,
    tests.observed_units,
    case when tests.n_units_total > 0 then tests.chi_square end as chi_square,
    cast(tests.n_variants - 1 as bigint) as degrees_of_freedom,
    experiments.srm_alpha,
    critical_values.critical_value as chi_square_critical_value,
    case
        when tests.n_units_total = 0 or critical_values.critical_value is null then null
        else tests.chi_square > critical_values.critical_value
    end as is_srm_by_critical_value
from tests
inner join {{ ref('stg_registry__experiments') }} as experiments
    on tests.experiment_id = experiments.experiment_id
left join {{ ref('chi_square_critical_values') }} as critical_values
    on tests.n_variants - 1 = critical_values.degrees_of_freedom
    and abs(experiments.srm_alpha - critical_values.alpha) < 1e-12
