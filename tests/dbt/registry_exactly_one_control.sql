-- Each experiment needs exactly one control and at least one treatment.
select experiments.experiment_id,
    sum(case when variants.is_control then 1 else 0 end) as n_controls,
    sum(case when variants.is_control then 0 else 1 end) as n_treatments
from {{ ref('experiments') }} as experiments
left join {{ ref('variants') }} as variants
    on experiments.experiment_id = variants.experiment_id
group by experiments.experiment_id
having sum(case when variants.is_control then 1 else 0 end) <> 1
    or sum(case when variants.is_control then 0 else 1 end) < 1
