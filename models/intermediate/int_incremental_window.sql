-- Grain: one row. The recompute date R of this run's incremental models (macros/incremental.sql):
--   * the smallest as-of date the six day-dated incremental models were last built with (their
--     latest row in incremental_watermarks, written by each model's post-hook; for a model built
--     before that table existed, the largest built_as_of of its rows), + 1 day
--     - var('late_arrival_days'), never after this run's as-of date + 1 - var('late_arrival_days')
--     (an as-of date moved back recomputes from there);
--   * and never after the first day whose raw rows differ from what the last complete run
--     processed (first_changed_date: int_raw_days_fingerprinted against the previous
--     int_raw_days_processed), so rows that arrive late, on any day, are picked up.
-- 1900-01-01 (the incremental models rebuild in full) on the first run, when a model is missing,
-- or when no processed fingerprint exists yet, or when exposure rows were removed or rewritten
-- since the last run (exposure_rows_removed). recompute_reason says which bound applied.
{%- set late_days = var('late_arrival_days', 0) %}
{%- if not (late_days | string | trim).isdigit() %}
    {{ exceptions.raise_compiler_error("var late_arrival_days must be a whole number >= 0, got: " ~ late_days) }}
{%- endif %}
{{ config(pre_hook="{{ create_incremental_watermarks() }}") }}
{%- set watermarks = [] %}
{%- set processed = none %}
{%- if execute %}
    {%- set recorded_relation = adapter.get_relation(database=this.database, schema=this.schema, identifier='incremental_watermarks') %}
    {%- set recorded_models = [] %}
    {%- if recorded_relation is not none %}
        {%- set recorded_models = run_query('select distinct model_name from ' ~ recorded_relation).columns[0].values() | list %}
    {%- endif %}
    {%- for model_name in ['int_unit_event_days', 'int_unit_metric_deltas', 'int_arm_metric_deltas', 'int_metric_events_rejected', 'int_event_days_counted', 'int_exposure_rows_counted'] %}
        {%- set relation = adapter.get_relation(database=this.database, schema=this.schema, identifier=model_name) %}
        {%- set has_watermark = relation is not none
            and (adapter.get_columns_in_relation(relation) | selectattr('name', 'equalto', 'built_as_of') | list | length) > 0 %}
        {%- if has_watermark and model_name in recorded_models %}
            {#- the latest build's as-of date, also when that build appended no row -#}
            {%- do watermarks.append(
                "select latest.built_as_of from (select recorded.built_as_of, row_number() over (order by recorded.loaded_at desc) as recency from "
                ~ recorded_relation ~ " as recorded where recorded.model_name = '" ~ model_name ~ "') as latest where latest.recency = 1") %}
        {%- elif has_watermark %}
            {%- do watermarks.append('select max(previous_rows.built_as_of) as built_as_of from ' ~ relation ~ ' as previous_rows') %}
        {%- else %}
            {%- do watermarks.append('select cast(null as date) as built_as_of') %}
        {%- endif %}
    {%- endfor %}
    {%- set processed_relation = adapter.get_relation(database=this.database, schema=this.schema, identifier='int_raw_days_processed') %}
    {%- if processed_relation is not none
        and (adapter.get_columns_in_relation(processed_relation) | selectattr('name', 'equalto', 'row_checksum') | list | length) > 0 %}
        {%- set processed = processed_relation %}
    {%- endif %}
{%- endif %}

with previous_runs as (
    {%- if watermarks %}
    {{ watermarks | join('\n    union all\n    ') }}
    {%- else %}
    select cast(null as date) as built_as_of
    {%- endif %}
),

previous as (
    select
        -- any model never built (null) -> no previous state
        case when count(previous_runs.built_as_of) = count(*) then min(previous_runs.built_as_of) end
            as previous_as_of
    from previous_runs
),

current_fingerprints as (
    select * from {{ ref('int_raw_days_fingerprinted') }}
),

{%- if processed is not none %}

processed_fingerprints as (
    select
        processed_days.source_table,
        processed_days.row_date,
        processed_days.n_rows,
        processed_days.row_checksum
    from {{ processed }} as processed_days
),

changed_days as (
    -- days with rows added or removed; with checksums on both sides, also rows rewritten in place
    select
        min(coalesce(current_fingerprints.row_date, processed_fingerprints.row_date)) as first_changed_date,
        -- exposure rows removed (fewer rows on a day) or, with checksums, rewritten (same count,
        -- other rows): a unit can then lose its exclusion or move its first exposure later, so its
        -- rows from before R are stale; the exposure-side models rebuild in full (rare: exposure
        -- logs are append-only; added rows only add exclusions or move first exposures earlier)
        coalesce(max(
            case
                when processed_fingerprints.source_table = 'exposures'
                    and (
                        coalesce(current_fingerprints.n_rows, 0) < processed_fingerprints.n_rows
                        or (
                            current_fingerprints.n_rows = processed_fingerprints.n_rows
                            and current_fingerprints.row_checksum <> processed_fingerprints.row_checksum
                        )
                    )
                    then 1
                else 0
            end
        ), 0) = 1 as has_removed_exposure_rows
    from current_fingerprints
    full outer join processed_fingerprints
        on current_fingerprints.source_table = processed_fingerprints.source_table
        and current_fingerprints.row_date = processed_fingerprints.row_date
    where current_fingerprints.n_rows is null
        or processed_fingerprints.n_rows is null
        or current_fingerprints.n_rows <> processed_fingerprints.n_rows
        or current_fingerprints.row_checksum <> processed_fingerprints.row_checksum
),
{%- else %}

changed_days as (
    select
        cast(null as date) as first_changed_date,
        false as has_removed_exposure_rows
),
{%- endif %}

bounds as (
    select
        previous.previous_as_of,
        case
            when previous.previous_as_of < {{ as_of_date() }}
                then cast({{ dbt.dateadd('day', 1 - (late_days | int), 'previous.previous_as_of') }} as date)
            else cast({{ dbt.dateadd('day', 1 - (late_days | int), as_of_date()) }} as date)
        end as window_start,
        changed_days.first_changed_date,
        changed_days.has_removed_exposure_rows,
        {{ 'true' if processed is not none else 'false' }} as has_processed_fingerprints
    from previous
    cross join changed_days
)

select
    bounds.previous_as_of,
    {{ as_of_date() }} as as_of_date,
    {{ late_days }} as late_arrival_days,
    '{{ var('raw_change_detection', 'row_count') }}' as raw_change_detection,
    bounds.first_changed_date,
    case
        when bounds.previous_as_of is null or not bounds.has_processed_fingerprints
            or bounds.has_removed_exposure_rows
            then cast('1900-01-01' as date)
        when bounds.first_changed_date < bounds.window_start then bounds.first_changed_date
        else bounds.window_start
    end as recompute_from,
    case
        when bounds.previous_as_of is null then 'first_run'
        when not bounds.has_processed_fingerprints then 'no_processed_fingerprints'
        when bounds.has_removed_exposure_rows then 'exposure_rows_removed'
        when bounds.first_changed_date < bounds.window_start then 'changed_raw_rows'
        when bounds.previous_as_of >= {{ as_of_date() }} then 'same_or_earlier_as_of_date'
        else 'new_days'
    end as recompute_reason
from bounds
