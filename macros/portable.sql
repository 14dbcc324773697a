{#-
  Dialect differences, dispatched per adapter (duckdb is the embedded default, spark the first
  distributed target). dbt.safe_cast is a plain cast on DuckDB and Spark, so it is not used.
-#}

{% macro try_cast_double(expression) -%}
    {{ return(adapter.dispatch('try_cast_double', 'warehouse_experiments')(expression)) }}
{%- endmacro %}

{% macro default__try_cast_double(expression) -%}
    try_cast({{ expression }} as double)
{%- endmacro %}

{% macro duckdb__try_cast_double(expression) -%}
    try_cast(trim(cast({{ expression }} as varchar)) as double)
{%- endmacro %}

{% macro spark__try_cast_double(expression) -%}
    try_cast(trim(cast({{ expression }} as string)) as double)
{%- endmacro %}


{#- True when a double is neither NaN nor +-infinity (null stays null). -#}
{% macro is_finite(expression) -%}
    {{ return(adapter.dispatch('is_finite', 'warehouse_experiments')(expression)) }}
{%- endmacro %}

{% macro default__is_finite(expression) -%}
    ({{ expression }} = {{ expression }} and abs({{ expression }}) < cast('Infinity' as double))
{%- endmacro %}

{% macro duckdb__is_finite(expression) -%}
    isfinite({{ expression }})
{%- endmacro %}

{% macro spark__is_finite(expression) -%}
    (not isnan({{ expression }}) and abs({{ expression }}) < double('Infinity'))
{%- endmacro %}


{#- Timestamp plus a whole number of days; the number may be a column. -#}
{% macro add_days(timestamp_expression, days_expression) -%}
    {{ return(adapter.dispatch('add_days', 'warehouse_experiments')(timestamp_expression, days_expression)) }}
{%- endmacro %}

{% macro default__add_days(timestamp_expression, days_expression) -%}
    ({{ timestamp_expression }} + cast({{ days_expression }} as integer) * interval '1' day)
{%- endmacro %}

{% macro duckdb__add_days(timestamp_expression, days_expression) -%}
    (cast({{ timestamp_expression }} as timestamp) + to_days(cast({{ days_expression }} as integer)))
{%- endmacro %}

{% macro spark__add_days(timestamp_expression, days_expression) -%}
    timestampadd(DAY, cast({{ days_expression }} as int), cast({{ timestamp_expression }} as timestamp))
{%- endmacro %}


{#- Trimmed text; blank becomes null. -#}
{% macro clean_text(expression) -%}
    nullif(trim(cast({{ expression }} as {{ dbt.type_string() }})), '')
{%- endmacro %}


{#- The analysis as-of date: var('as_of_date') (validated YYYY-MM-DD) or the current date. -#}
{% macro as_of_date() -%}
    {%- set value = var('as_of_date', none) -%}
    {%- if value is none or (value | string | trim) in ('', 'none', 'None', 'null') -%}
        current_date
    {%- else -%}
        {%- set text = value | string | trim -%}
        {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', text) -%}
            {{ exceptions.raise_compiler_error("var as_of_date must be YYYY-MM-DD, got: " ~ text) }}
        {%- endif -%}
        cast('{{ text }}' as date)
    {%- endif -%}
{%- endmacro %}

{#- First instant after the as-of date: rows at or after it are in the future. -#}
{% macro as_of_cutoff() -%}
    {{ add_days('cast(' ~ as_of_date() ~ ' as timestamp)', 1) }}
{%- endmacro %}


{#-
  Cross-row sums of non-integer values are taken in this exact fixed-point type, not DOUBLE:
  floating-point addition is not associative, so a parallel engine summing doubles in a
  different order gives different last bits on every run. Fixed-point sums are exact, so
  re-runs, slices rolled up in any order and incremental runs agree to the last digit.
  Resolution 1e-12 absolute, range +-1e26.
-#}
{% macro exact_sum_type() -%}
    decimal(38, 12)
{%- endmacro %}

{% macro to_exact(expression) -%}
    cast({{ expression }} as {{ exact_sum_type() }})
{%- endmacro %}


{#- Event values at or beyond this magnitude are quarantined (value_out_of_range): a unit's square
    must fit the exact sum type (|x| < 1e26), see docs/semantics.md "Exactness". -#}
{% macro max_event_value() -%}
    1e13
{%- endmacro %}


{#- An order-independent checksum of a set of rows: the exact sum of a 64-bit hash of the given
    columns, as decimal(38, 0) (no overflow: 2^64 * 10^18 rows < 10^38). Used by the incremental
    change detection (int_raw_days_fingerprinted) to notice raw rows rewritten in place. -#}
{% macro row_checksum(columns) -%}
    {{ return(adapter.dispatch('row_checksum', 'warehouse_experiments')(columns)) }}
{%- endmacro %}

{% macro default__row_checksum(columns) -%}
    {{ exceptions.raise_compiler_error("var raw_change_detection = 'checksum' is not implemented for adapter " ~ adapter.type() ~ "; use 'row_count'") }}
{%- endmacro %}

{% macro duckdb__row_checksum(columns) -%}
    cast(sum(hash({{ columns | join(', ') }})) as decimal(38, 0))
{%- endmacro %}

{% macro spark__row_checksum(columns) -%}
    cast(sum(cast(xxhash64({{ columns | join(', ') }}) as decimal(20, 0))) as decimal(38, 0))
{%- endmacro %}


{#- A 64-bit hash of a unit's (experiment_id, unit_id), or '' where the adapter has none. The
    per-unit window of int_unit_metric_deltas sorts and joins on it instead of the two strings
    (at L, 60M rows: the deltas query 151 s -> 120 s, docs/benchmarks.md). Only used after
    unit_hash_is_unique has checked the units in play for collisions. -#}
{% macro unit_hash(relation_alias) -%}
    {{ return(adapter.dispatch('unit_hash', 'warehouse_experiments')(relation_alias)) }}
{%- endmacro %}

{% macro default__unit_hash(relation_alias) -%}
{%- endmacro %}

{% macro duckdb__unit_hash(relation_alias) -%}
    hash({{ relation_alias }}.experiment_id, {{ relation_alias }}.unit_id)
{%- endmacro %}

{% macro spark__unit_hash(relation_alias) -%}
    xxhash64({{ relation_alias }}.experiment_id, {{ relation_alias }}.unit_id)
{%- endmacro %}

{#- A 64-bit key of an arm slice (experiment_id, variant_id, platform, country, city; the slice
    columns may be null): int_unit_metric_deltas stores it instead of the four strings, and
    int_arm_slices_keyed maps it back (at M the deltas' write took 5.7 s with the strings and
    4.0-4.2 s with the key). A collision fails that model's unique test rather than merging two
    slices. Spark's xxhash64 skips null arguments, so the null flags keep (a, null) and (null, a)
    apart. -#}
{% macro arm_slice_hash(relation_alias) -%}
    {{ return(adapter.dispatch('arm_slice_hash', 'warehouse_experiments')(relation_alias)) }}
{%- endmacro %}

{% macro default__arm_slice_hash(relation_alias) -%}
    {{ exceptions.raise_compiler_error('arm_slice_hash: no 64-bit hash for adapter ' ~ adapter.type() ~ '; add a ' ~ adapter.type() ~ '__arm_slice_hash macro') }}
{%- endmacro %}

{% macro duckdb__arm_slice_hash(relation_alias) -%}
    hash({{ relation_alias }}.experiment_id, {{ relation_alias }}.variant_id, {{ relation_alias }}.platform, {{ relation_alias }}.country, {{ relation_alias }}.city)
{%- endmacro %}

{% macro spark__arm_slice_hash(relation_alias) -%}
    xxhash64({{ relation_alias }}.experiment_id, {{ relation_alias }}.variant_id, {{ relation_alias }}.platform, {{ relation_alias }}.country, {{ relation_alias }}.city,
        isnull({{ relation_alias }}.platform), isnull({{ relation_alias }}.country), isnull({{ relation_alias }}.city))
{%- endmacro %}

{#- True when unit_hash gives every unit of the relation (columns experiment_id, unit_id) its own
    value, so grouping and joining by it equals grouping and joining by the two strings. False
    where the adapter has no hash, when var('unit_hash_key') is false, or on a collision (about
    6 chances in a million among 15M units): the caller then keys by the strings. -#}
{% macro unit_hash_is_unique(relation) -%}
    {%- set expression = unit_hash('units') | trim -%}
    {%- if not expression or (var('unit_hash_key', true) | string | lower) in ['false', '0', 'no', 'none'] -%}
        {{ return(false) }}
    {%- endif -%}
    {%- if not execute -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set result = run_query('select count(*) - count(distinct ' ~ expression ~ ') from ' ~ relation ~ ' as units') -%}
    {{ return((result.columns[0].values()[0] | int) == 0) }}
{%- endmacro %}


{#- Microseconds from `earlier` to `later` (UTC timestamps) as a 64-bit integer: window checks
    in int_unit_event_days compare it with whole days (86,400,000,000 us; UTC has no DST, so
    this equals adding days to the timestamp). -#}
{% macro microseconds_between(later, earlier) -%}
    {{ return(adapter.dispatch('microseconds_between', 'warehouse_experiments')(later, earlier)) }}
{%- endmacro %}

{% macro default__microseconds_between(later, earlier) -%}
    {{ dbt.datediff(earlier, later, 'microsecond') }}
{%- endmacro %}

{% macro duckdb__microseconds_between(later, earlier) -%}
    (epoch_us({{ later }}) - epoch_us({{ earlier }}))
{%- endmacro %}

{% macro spark__microseconds_between(later, earlier) -%}
    (unix_micros({{ later }}) - unix_micros({{ earlier }}))
{%- endmacro %}

{% macro microseconds_per_day() -%}
    cast(86400000000 as bigint)
{%- endmacro %}


{#- The smallest of a group's records in lexicographic order (the first field, then the next on a
    tie, ...), as an aggregate: `fields` is a list of [name, expression] pairs; read a field of the
    result with `<alias>.<column>.<name>`. NULL fields sort as in the engine's default ascending
    ORDER BY (DuckDB: last; Spark: first), so it picks the row a `row_number()` over the same
    order would, without the window's sort (int_exposure_units_classified at L: 33.9 s -> 22.1 s). -#}
{% macro min_record(fields) -%}
    {{ return(adapter.dispatch('min_record', 'warehouse_experiments')(fields)) }}
{%- endmacro %}

{% macro default__min_record(fields) -%}
    {{ exceptions.raise_compiler_error('min_record: no ordered struct minimum for adapter ' ~ adapter.type() ~ '; add a ' ~ adapter.type() ~ '__min_record macro') }}
{%- endmacro %}

{% macro duckdb__min_record(fields) -%}
    min(struct_pack({% for name, expression in fields %}{{ name }} := {{ expression }}{{ ', ' if not loop.last }}{% endfor %}))
{%- endmacro %}

{% macro spark__min_record(fields) -%}
    min(named_struct({% for name, expression in fields %}'{{ name }}', {{ expression }}{{ ', ' if not loop.last }}{% endfor %}))
{%- endmacro %}
