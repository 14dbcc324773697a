-- One row per raw metric event: identifiers trimmed, value parsed with try_cast so a
-- non-numeric string becomes a flagged row instead of a failed build. No rows are dropped here.
with source_rows as (
    select * from {{ raw_source('metric_events') }}
),

parsed as (
    select
        {{ clean_text('source_rows.unit_id') }} as unit_id,
        {{ clean_text('source_rows.event_name') }} as event_name,
        cast(source_rows.event_at as timestamp) as event_at,
        source_rows.value is not null as has_value,
        {{ try_cast_double('source_rows.value') }} as parsed_value
    from source_rows
)

select
    parsed.unit_id,
    parsed.event_name,
    parsed.event_at,
    case when {{ is_finite('parsed.parsed_value') }} then parsed.parsed_value end as value,
    parsed.has_value
        and (parsed.parsed_value is null or not {{ is_finite('parsed.parsed_value') }}) as has_invalid_value
from parsed
