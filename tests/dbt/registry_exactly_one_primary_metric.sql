-- Each experiment has exactly one primary metric: the one that decides it.
select experiments.experiment_id,
    sum(case when experiment_metrics.metric_role = 'primary' then 1 else 0 end) as n_primary
from {{ ref('experiments') }} as experiments
left join {{ ref('experiment_metrics') }} as experiment_metrics
    on experiments.experiment_id = experiment_metrics.experiment_id
group by experiments.experiment_id
having sum(case when experiment_metrics.metric_role = 'primary' then 1 else 0 end) <> 1
