-- depends_on: {{ ref('int_registry_problems') }}
-- (a registry with problems stops the build before any model reads it)
select
    experiment_metrics.experiment_id,
    experiment_metrics.metric_id,
    experiment_metrics.metric_role,
    coalesce(experiment_metrics.practical_threshold, 0) as practical_threshold,
    coalesce(experiment_metrics.threshold_scale, 'relative') as threshold_scale,
    experiment_metrics.guardrail_tolerance
from {{ ref('experiment_metrics') }} as experiment_metrics
