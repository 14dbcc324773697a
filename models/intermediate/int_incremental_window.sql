-- Grain: one row. The recompute date R of this run's incremental models: the smallest as-of date
-- the four event-side models were last built with, + 1 day - var('late_arrival_days'), and never
-- after this run's as-of date + 1 (an as-of date moved back recomputes from there). Null
-- previous_as_of (first run, or a model missing): the models build in full anyway.
{%- set late_days = var('late_arrival_days', 3) %}
{%- if not (late_days | string | trim).isdigit() %}
    {{ exceptions.raise_compiler_error("var late_arrival_days must be a whole number >= 0, got: " ~ late_days) }}
{%- endif %}
{%- set watermarks = [] %}
{%- if execute %}
    {%- for model_name in ['int_unit_event_days', 'int_unit_metric_deltas', 'int_arm_metric_deltas', 'int_metric_events_rejected'] %}
        {%- set relation = adapter.get_relation(database=this.database, schema=this.schema, identifier=model_name) %}
        {%- set has_watermark = relation is not none
            and (adapter.get_columns_in_relation(relation) | selectattr('name', 'equalto', 'built_as_of') | list | length) > 0 %}
        {%- if has_watermark %}
            {%- do watermarks.append('select max(previous_rows.built_as_of) as built_as_of from ' ~ relation ~ ' as previous_rows') %}
        {%- else %}
            {%- do watermarks.append('select cast(null as date) as built_as_of') %}
        {%- endif %}
    {%- endfor %}
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
)

select
    previous.previous_as_of,
    {{ as_of_date() }} as as_of_date,
    {{ late_days }} as late_arrival_days,
    case
        when previous.previous_as_of is null then cast('1900-01-01' as date)
        when previous.previous_as_of < {{ as_of_date() }}
            then cast({{ dbt.dateadd('day', 1 - (late_days | int), 'previous.previous_as_of') }} as date)
        else cast({{ dbt.dateadd('day', 1 - (late_days | int), as_of_date()) }} as date)
    end as recompute_from
from previous
