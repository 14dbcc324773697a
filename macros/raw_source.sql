{#- The raw table, from the warehouse or from parquet files, by var raw_source. -#}
{% macro raw_source(table_name) -%}
    {%- set kind = var('raw_source', 'duckdb') -%}
    {%- if kind == 'parquet' -%}
        {{ source('raw_parquet', table_name) }}
    {%- elif kind == 'duckdb' -%}
        {{ source('raw', table_name) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("var raw_source must be 'duckdb' or 'parquet', got: " ~ kind) }}
    {%- endif -%}
{%- endmacro %}
