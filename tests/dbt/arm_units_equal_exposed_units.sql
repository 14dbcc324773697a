-- On every analysis date, the overall arm n of every metric equals the number of analysed units
-- first exposed by that date: every exposed unit is in exactly one arm, none lost or doubled.
with expected as (
    select
        analysis_dates.experiment_id,
        analysis_dates.analysis_date,
        count(exposures.unit_id) as n_exposed
    from {{ ref('int_experiment_analysis_dates') }} as analysis_dates
    left join {{ ref('fct_exposures') }} as exposures
        on analysis_dates.experiment_id = exposures.experiment_id
        and exposures.exposure_date <= analysis_dates.analysis_date
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
