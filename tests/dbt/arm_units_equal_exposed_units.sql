-- On every analysis date, the overall arm n of every metric equals the number of analysed units
-- first exposed by that date: every exposed unit is in exactly one arm, none lost or doubled.
with units_per_day as (
    -- counted per exposure day first, so the date range join below pairs days, not units
    select
        exposures.experiment_id,
        exposures.exposure_date,
        count(*) as n_units
    from {{ ref('fct_exposures') }} as exposures
    group by exposures.experiment_id, exposures.exposure_date
),

expected as (
    select
        analysis_dates.experiment_id,
        analysis_dates.analysis_date,
        coalesce(sum(units_per_day.n_units), 0) as n_exposed
    from {{ ref('int_experiment_analysis_dates') }} as analysis_dates
    left join units_per_day
        on analysis_dates.experiment_id = units_per_day.experiment_id
        and units_per_day.exposure_date <= analysis_dates.analysis_date
    group by analysis_dates.experiment_id, analysis_dates.analysis_date
),

observed as (
    select experiment_id, metric_id, analysis_date, sum(n_units) as n_in_arms
    from {{ ref('fct_arm_statistics') }}
    where dimension_name = 'overall'
    group by experiment_id, metric_id, analysis_date
)

select observed.*, expected.n_exposed
from observed
inner join expected
    on observed.experiment_id = expected.experiment_id
    and observed.analysis_date = expected.analysis_date
where observed.n_in_arms <> expected.n_exposed
