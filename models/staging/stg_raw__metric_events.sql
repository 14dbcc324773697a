-- One row per raw metric event: identifiers trimmed, value parsed with try_cast so a
-- non-numeric string becomes a flagged row instead of a failed build. No rows are dropped here.
with source_rows as (
    select * from {{ raw_source('metric_events') }}
),

parsed as (
    select
        {{ clean_text('source_rows.unit_id') }} as unit_id,
        {{ clean_text('source_rows.event_name') }} as event_name,
        source_rows.event_at is not null as has_event_at,
        {{ utc_timestamp('source_rows.event_at', raw_column_type('metric_events', 'event_at')) }} as event_at,
        source_rows.value is not null as has_value,
        {{ try_cast_double('source_rows.value') }} as parsed_value
    from source_rows
)

select
    parsed.unit_id,
    parsed.event_name,
    parsed.event_at,
    parsed.has_event_at and parsed.event_at is null as has_invalid_event_at,
    case
        when {{ is_finite('parsed.parsed_value') }} and abs(parsed.parsed_value) < {{ max_event_value() }}
            then parsed.parsed_value
    end as value,
    parsed.has_value
        and (parsed.parsed_value is null or not {{ is_finite('parsed.parsed_value') }}) as has_invalid_value,
    -- beyond what the exact decimal sums hold (docs/semantics.md, "Exactness")
    coalesce(abs(parsed.parsed_value) >= {{ max_event_value() }}, false) as has_out_of_range_value
from parsed
