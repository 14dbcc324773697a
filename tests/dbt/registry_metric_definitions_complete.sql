-- Non-ratio metrics need a source event and no components; ratio metrics need two components
-- that exist and are themselves conversion / count / sum metrics.
select metrics.metric_id, metrics.aggregation,
    numerator.aggregation as numerator_aggregation,
    denominator.aggregation as denominator_aggregation
from {{ ref('metrics') }} as metrics
left join {{ ref('metrics') }} as numerator
    on metrics.numerator_metric_id = numerator.metric_id
left join {{ ref('metrics') }} as denominator
    on metrics.denominator_metric_id = denominator.metric_id
where (metrics.aggregation <> 'ratio' and (
        metrics.source_event is null
        or metrics.numerator_metric_id is not null
        or metrics.denominator_metric_id is not null))
    or (metrics.aggregation = 'ratio' and (
        numerator.aggregation is null
        or denominator.aggregation is null
        or numerator.aggregation not in ('conversion', 'count', 'sum')
        or denominator.aggregation not in ('conversion', 'count', 'sum')))
