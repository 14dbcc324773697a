-- Each dimension's slices add up to the overall arm statistics (n and sum of the numerator).
with overall as (
    select experiment_id, metric_id, variant_id, analysis_date, n_units, sum_num
    from {{ ref('fct_arm_statistics') }}
    where dimension_name = 'overall'
),

by_dimension as (
    select experiment_id, metric_id, variant_id, analysis_date, dimension_name,
        sum(n_units) as n_units, sum(sum_num) as sum_num
    from {{ ref('fct_arm_statistics') }}
    where dimension_name <> 'overall'
    group by experiment_id, metric_id, variant_id, analysis_date, dimension_name
)

select by_dimension.*, overall.n_units as overall_n_units, overall.sum_num as overall_sum_num
from by_dimension
inner join overall
    on by_dimension.experiment_id = overall.experiment_id
    and by_dimension.metric_id = overall.metric_id
    and by_dimension.variant_id = overall.variant_id
    and by_dimension.analysis_date = overall.analysis_date
where by_dimension.n_units <> overall.n_units
    or abs(by_dimension.sum_num - overall.sum_num) > 1e-6 * (1 + abs(overall.sum_num))
