{#-
  Raw timestamps to UTC `timestamp` (without time zone), whatever type the raw column has.
  DuckDB silently drops the offset when casting '2026-10-05 10:00:00+02:00' to TIMESTAMP, so
  strings carrying an offset are parsed as instants and converted to UTC, zone-aware columns are
  converted to UTC, and naive timestamps are taken as UTC (the contract in schema.sql).
  Unparseable strings become null (the staging models flag them, they are quarantined).
-#}

{#- The warehouse type of one column of a raw table ('' when it cannot be determined). -#}
{% macro raw_column_type(table_name, column_name) -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {{ return(adapter.dispatch('raw_column_type', 'warehouse_experiments')(raw_source(table_name), column_name)) }}
{%- endmacro %}

{% macro default__raw_column_type(relation_sql, column_name) -%}
    {{ return('') }}
{%- endmacro %}

{% macro duckdb__raw_column_type(relation_sql, column_name) -%}
    {%- set described = run_query('describe select ' ~ adapter.quote(column_name) ~ ' from ' ~ relation_sql) -%}
    {{ return((described.columns['column_type'].values() | first) | string | upper) }}
{%- endmacro %}

{% macro spark__raw_column_type(relation_sql, column_name) -%}
    {%- set described = run_query('describe query select ' ~ column_name ~ ' from ' ~ relation_sql) -%}
    {{ return((described.columns['data_type'].values() | first) | string | upper) }}
{%- endmacro %}


{% macro utc_timestamp(expression, data_type) -%}
    {{ return(adapter.dispatch('utc_timestamp', 'warehouse_experiments')(expression, data_type | upper)) }}
{%- endmacro %}

{% macro default__utc_timestamp(expression, data_type) -%}
    cast({{ expression }} as timestamp)
{%- endmacro %}

{% macro duckdb__utc_timestamp(expression, data_type) -%}
    {%- if data_type in ('TIMESTAMP WITH TIME ZONE', 'TIMESTAMPTZ') -%}
        timezone('UTC', {{ expression }})
    {%- elif data_type.startswith('TIMESTAMP') or data_type == 'DATE' -%}
        cast({{ expression }} as timestamp)
    {%- else -%}
        {#- text (or unknown): an explicit offset or Z makes it an instant; naive text is UTC -#}
        case
            when regexp_matches(
                trim(cast({{ expression }} as varchar)),
                '[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?\s*(Z|z|UTC|[+-][0-9]{2}(:?[0-9]{2})?)$'
            )
                then timezone('UTC', try_cast(trim(cast({{ expression }} as varchar)) as timestamptz))
            else try_cast(trim(cast({{ expression }} as varchar)) as timestamp)
        end
    {%- endif -%}
{%- endmacro %}

{% macro spark__utc_timestamp(expression, data_type) -%}
    {#- Spark timestamps are instants and Spark parses offsets in strings; naive strings are read
        in spark.sql.session.timeZone, which must be UTC (README, Spark section). -#}
    {%- if data_type.startswith('TIMESTAMP') or data_type == 'DATE' -%}
        cast({{ expression }} as timestamp)
    {%- else -%}
        try_cast(trim(cast({{ expression }} as string)) as timestamp)
    {%- endif -%}
{%- endmacro %}
