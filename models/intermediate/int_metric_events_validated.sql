{{ config(materialized='view') }}
-- Every raw metric event with the first row-level reason it cannot be used (null when valid).
with events as (
    select * from {{ ref('stg_raw__metric_events') }}
)

select
    events.unit_id,
    events.event_name,
    events.event_at,
    events.value,
    case
        when events.unit_id is null then 'missing_unit_id'
        when events.event_name is null then 'missing_event_name'
        when events.has_invalid_event_at then 'invalid_event_at'
        when events.event_at is null then 'missing_event_at'
        when events.event_at >= {{ as_of_cutoff() }} then 'event_after_as_of_date'
        when events.has_invalid_value then 'invalid_value'
        when events.has_out_of_range_value then 'value_out_of_range'
    end as rejection_reason
from events
