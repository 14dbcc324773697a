-- One row per raw exposure row: identifiers trimmed, flags defaulted. No rows are dropped here.
with source_rows as (
    select * from {{ raw_source('exposures') }}
)

select
    {{ clean_text('source_rows.experiment_id') }} as experiment_id,
    {{ clean_text('source_rows.unit_id') }} as unit_id,
    {{ clean_text('source_rows.variant_id') }} as variant_id,
    {{ utc_timestamp('source_rows.exposed_at', raw_column_type('exposures', 'exposed_at')) }} as exposed_at,
    source_rows.exposed_at is not null as has_exposed_at,
    coalesce({{ clean_text('source_rows.platform') }}, '(unknown)') as platform,
    coalesce({{ clean_text('source_rows.country') }}, '(unknown)') as country,
    coalesce({{ clean_text('source_rows.city') }}, '(unknown)') as city,
    coalesce(cast(source_rows.is_internal as boolean), false) as is_internal,
    coalesce(cast(source_rows.is_bot as boolean), false) as is_bot
from source_rows
