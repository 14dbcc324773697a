-- Grain: one row per (event_date, rejection_reason, unit_id): the raw metric events that cannot be
-- used (int_metric_events_validated), counted for fct_quarantine. event_date is the event's UTC
-- date, null when the event has no valid timestamp; unit_id is null for events without one.
-- Incremental (macros/incremental.sql): a run recomputes the events dated on or after R and the
-- events without a date, so it reads only those days of the event log (the files are pruned by
-- their timestamp statistics), never the history.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_rows_counted_from_recompute_date('event_date') }}",
    post_hook="{{ record_incremental_watermark() }}"
) }}
-- depends_on: {{ ref('int_incremental_window') }}
-- depends_on: {{ ref('int_registry_problems') }} (nothing is built from a run whose registry is invalid)

{%- set day_filters = recounted_day_filters('validated.event_at') %}

with rejected as (
    {%- for day_filter in day_filters %}
    select
        cast(validated.event_at as date) as event_date,
        validated.rejection_reason,
        validated.unit_id
    from {{ ref('int_metric_events_validated') }} as validated
    where validated.rejection_reason is not null
        and {{ day_filter }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

select
    rejected.event_date,
    rejected.rejection_reason,
    rejected.unit_id,
    count(*) as n_rows,
    {{ built_as_of_column() }}
from rejected
group by
    rejected.event_date,
    rejected.rejection_reason,
    rejected.unit_id
