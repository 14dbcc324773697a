-- Grain: one row per (experiment_id, metric_id, variant_id, platform, country, city,
-- activity_date): the per-unit deltas summed at the finest slice grain (first stage of the
-- two-stage aggregation; slices are rolled up from here without touching units again).
with deltas as (
    select * from {{ ref('int_unit_metric_deltas') }}
)

select
    deltas.experiment_id,
    deltas.metric_id,
    deltas.variant_id,
    deltas.platform,
    deltas.country,
    deltas.city,
    deltas.activity_date,
    {%- for column in arm_moment_columns() %}
    sum(deltas.{{ column }}) as {{ column }}{{ "," if not loop.last }}
    {%- endfor %}
from deltas
group by
    deltas.experiment_id,
    deltas.metric_id,
    deltas.variant_id,
    deltas.platform,
    deltas.country,
    deltas.city,
    deltas.activity_date
