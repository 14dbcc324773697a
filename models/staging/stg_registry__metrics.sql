-- depends_on: {{ ref('int_registry_problems') }}
-- (a registry with problems stops the build before any model reads it)
select
    metrics.metric_id,
    metrics.metric_name,
    metrics.description,
    metrics.aggregation,
    metrics.source_event,
    metrics.numerator_metric_id,
    metrics.denominator_metric_id,
    coalesce(metrics.attribution_window_days, 0) as attribution_window_days,
    coalesce(metrics.pre_period_days, 0) as pre_period_days,
    metrics.desired_direction,
    metrics.winsorize_cap
from {{ ref('metrics') }} as metrics
