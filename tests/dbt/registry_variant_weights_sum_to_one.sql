-- Each experiment's traffic weights must sum to 1 (within 1e-9).
select experiment_id, sum(traffic_weight) as total_weight, count(*) as n_variants
from {{ ref('variants') }}
group by experiment_id
having abs(sum(traffic_weight) - 1) > 1e-9
