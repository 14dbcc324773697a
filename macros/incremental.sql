{#-
  Incremental runs (docs/semantics.md, "Incremental runs"). The fact models that grow with the
  event log (int_unit_event_days, int_unit_metric_deltas, int_arm_metric_deltas) recompute only
  what can have changed since their last run: every row dated on or after the recompute date R,
  plus the units whose exposure rows arrived on or after R. R is the previous run's as-of date
  + 1 - var('late_arrival_days'), so data arriving up to that many days late is picked up; it is
  computed once per run in int_incremental_window from the rows the three models hold, so a run
  killed between two of them is repaired by the next run.
-#}

{#- The recompute date R as a date literal, read from int_incremental_window when the model runs
    (a literal, not a subquery, so the engine can prune files and row groups by date). Models that
    use it declare `-- depends_on: {{ ref('int_incremental_window') }}`. -#}
{% macro recompute_from_date() -%}
    {{ return(date_literal_from_query('recompute_from', 'from ' ~ ref('int_incremental_window'), 'int_incremental_window.recompute_from')) }}
{%- endmacro %}

{#- The date one query computes (select `expression` `from_clause`, one row), as a date literal;
    1900-01-01 at parse time. -#}
{% macro date_literal_from_query(expression, from_clause, description) -%}
    {%- if not execute -%}
        {{ return("cast('1900-01-01' as date)") }}
    {%- endif -%}
    {%- set result = run_query('select cast(' ~ expression ~ ' as ' ~ dbt.type_string() ~ ') ' ~ from_clause) -%}
    {%- set value = result.columns[0].values()[0] | string -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value) -%}
        {{ exceptions.raise_compiler_error(description ~ ' is not a date: ' ~ value) }}
    {%- endif -%}
    {{ return("cast('" ~ value ~ "' as date)") }}
{%- endmacro %}

{#- R as a timestamp (midnight UTC). -#}
{% macro recompute_from_timestamp() -%}
    cast({{ recompute_from_date() }} as timestamp)
{%- endmacro %}

{#- Units with an exposure row on or after R (int_exposure_units_changed): the only units whose
    first exposure, variant or exclusion can have changed (exclusion only grows with new rows;
    first exposure only moves if a new row is earlier). -#}
{% macro recently_exposed_units() -%}
    select
        changed_units.experiment_id,
        changed_units.unit_id
    from {{ ref('int_exposure_units_changed') }} as changed_units
{%- endmacro %}

{#- True when this incremental model rebuilds only the changed exposure units: an incremental run
    with a previous state (R after 1900-01-01); otherwise the model rebuilds in full. -#}
{% macro rebuilds_changed_units_only() -%}
    {{ return(is_incremental() and recompute_from_date() != "cast('1900-01-01' as date)") }}
{%- endmacro %}

{#- pre_hook of the exposure-side incremental models (keyed by experiment_id, unit_id): delete
    the units this run rebuilds. -#}
{% macro delete_changed_exposure_units() -%}
    {%- if is_incremental() %}
    delete from {{ this }}
    {%- if rebuilds_changed_units_only() %}
    where exists (
        select 1
        from ({{ recently_exposed_units() }}) as recent
        where recent.experiment_id = {{ this }}.experiment_id
            and recent.unit_id = {{ this }}.unit_id
    )
    {%- endif %}
    {%- endif %}
{%- endmacro %}

{#- The raw-row counts dated by a timestamp column (int_metric_events_rejected,
    int_exposure_rows_counted): the filters of the parts a run reads, one query part each so each
    prunes the raw files by its own filter. Incremental: the rows on or after R and the rows
    without a valid timestamp (not dated, re-read by every run); the pre_hook
    delete_rows_counted_from_recompute_date deletes the same rows. A full build reads everything. -#}
{% macro recounted_day_filters(timestamp_column) -%}
    {%- if is_incremental() %}
        {{ return([timestamp_column ~ ' >= ' ~ recompute_from_timestamp(), timestamp_column ~ ' is null']) }}
    {%- endif %}
    {{ return(['true']) }}
{%- endmacro %}

{% macro delete_rows_counted_from_recompute_date(date_column) -%}
    {%- if is_incremental() %}
    delete from {{ this }}
    where {{ date_column }} >= {{ recompute_from_date() }} or {{ date_column }} is null
    {%- endif %}
{%- endmacro %}

{#- A date column of this run's as-of date, stored on every incremental row. -#}
{% macro built_as_of_column() -%}
    {{ as_of_date() }} as built_as_of
{%- endmacro %}

{#- The watermarks of the day-dated incremental models (int_incremental_window): one row per
    build of such a model, written by the model's post-hook, so a model that appends no row (e.g.
    int_metric_events_rejected after a day without bad events) still records the as-of date it was
    built with. Before this table, the watermark was max(built_as_of) of the model's rows, and a run
    that appended none left it behind: every later run recomputed from the last day with a row. A
    hook in the model's transaction, after its write: a run killed before it leaves the previous
    watermark, and the next run recomputes from there. -#}
{% macro incremental_watermarks_relation() -%}
    {{ return(api.Relation.create(database=this.database, schema=this.schema, identifier='incremental_watermarks')) }}
{%- endmacro %}

{#- pre_hook of int_incremental_window, which every day-dated incremental model depends on: the
    table exists before any of them runs (two threads creating it at once would conflict). -#}
{% macro create_incremental_watermarks() -%}
    create table if not exists {{ incremental_watermarks_relation() }} (
        model_name {{ dbt.type_string() }},
        built_as_of date,
        loaded_at {{ dbt.type_timestamp() }}
    )
{%- endmacro %}

{#- post_hook of each day-dated incremental model (full builds too). -#}
{% macro record_incremental_watermark() -%}
    insert into {{ incremental_watermarks_relation() }} (model_name, built_as_of, loaded_at)
    select '{{ this.identifier }}', {{ as_of_date() }}, {{ run_loaded_at() }}
{%- endmacro %}

{#- The largest value (days, at least 1) of a day-count column of the registry's metric definitions
    (int_experiment_metrics_defined), e.g. pre_period_days (the longest look-back before a first
    exposure that int_unit_event_days matches) or attribution_window_days (a unit with post-period
    events on or after R was first exposed less than this many days before R). -#}
{% macro longest_metric_days(column_name) -%}
    {%- if column_name not in ['pre_period_days', 'attribution_window_days'] -%}
        {{ exceptions.raise_compiler_error('longest_metric_days: unknown column ' ~ column_name) }}
    {%- endif -%}
    {%- if not execute -%}{{ return(1) }}{%- endif -%}
    {%- set result = run_query('select greatest(coalesce(max(' ~ column_name ~ '), 0), 1) from ' ~ ref('int_experiment_metrics_defined')) -%}
    {{ return(result.columns[0].values()[0] | int) }}
{%- endmacro %}

{#- pre_hooks of int_unit_event_days (date column activity_date) and int_unit_events_unattributed
    (first_activity_date): delete the rows dated on or after R (pruned by date); then, in
    int_unit_events_unattributed, every row of the units analysed before R that exposure rows on
    or after R exclude (is_rebuilt_unit), which probes the table with those few units
    (int_unit_event_days reverses their rows instead: reverse_rebuilt_unit_event_days). -#}
{% macro delete_rows_from_recompute_date(date_column) -%}
    {%- if is_incremental() %}
    delete from {{ this }}
    where {{ date_column }} >= {{ recompute_from_date() }}
    {%- endif %}
{%- endmacro %}

{% macro delete_rebuilt_unit_rows() -%}
    {%- if is_incremental() %}
    delete from {{ this }}
    where {{ is_rebuilt_unit(this) }}
    {%- endif %}
{%- endmacro %}

{#- pre_hook of int_unit_event_days, after the rows dated on or after R are deleted: the rows of
    the units this run rebuilds that are still counted (before R) get a sign -1 copy instead of
    being deleted, so int_event_days_counted can take its stored day totals down by exactly these
    rows (the copies this run appended: loaded_at) instead of recounting the whole table. Only
    units excluded on or after R have such rows (a unit first exposed on or after R has no row
    before R), and an exclusion stays until a full rebuild, so their rows net to zero from then
    on. Grouped on every column, so a rerun does not cancel a row twice. -#}
{% macro reverse_rebuilt_unit_event_days() -%}
    {%- if is_incremental() %}
    {%- set kept_columns = [
        'experiment_id', 'unit_id', 'event_name', 'attribution_window_days', 'pre_period_days',
        'period', 'activity_date', 'event_count', 'value_sum', 'value_count', 'near_exposure_count'] %}
    insert into {{ this }} ({{ kept_columns | join(', ') }}, built_as_of, sign, loaded_at)
    select
        {%- for column in kept_columns %}
        previous.{{ column }},
        {%- endfor %}
        {{ built_as_of_column() }},
        cast(-sum(previous.sign) as integer) as sign,
        {{ run_loaded_at() }} as loaded_at
    from {{ this }} as previous
    where previous.activity_date >= {{ excluded_units_first_date() }}
        and {{ is_rebuilt_unit('previous') }}
    group by
        {%- for column in kept_columns %}
        previous.{{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    having sum(previous.sign) <> 0
    {%- endif %}
{%- endmacro %}

{#- True for a row (table alias) of a unit first exposed before R that exposure rows on or after R
    left excluded (int_exposure_units_excluded; callers declare the dependency): the units analysed
    until now whose stored rows this run cancels, and units excluded already, whose rows net to
    zero. The callers run after the rows dated on or after R are deleted; a unit first exposed on
    or after R has no other rows. -#}
{% macro is_rebuilt_unit(alias) -%}
    exists (
        select 1
        from {{ ref('int_exposure_units_excluded') }} as excluded
        where excluded.experiment_id = {{ alias }}.experiment_id
            and excluded.unit_id = {{ alias }}.unit_id
    )
{%- endmacro %}

{#- A date literal: no stored row of the units in int_exposure_units_excluded is dated before it.
    A unit's rows (pre-period rows on its exposure date, the others on their event dates) are
    dated on or after the first exposure they were built with, and the stored first exposure
    (previous_exposure_date) can only have moved earlier since (exposure rows are only added; a
    removed one rebuilds in full). R when no unit is excluded (the probes then read nothing),
    1900-01-01 when a unit has no previous state. A literal, so the scans skip older row groups. -#}
{% macro excluded_units_first_date() -%}
    {{ return(date_literal_from_query(
        'case when count(*) = 0 then ' ~ recompute_from_date()
        ~ " when count(excluded.previous_exposure_date) < count(*) then cast('1900-01-01' as date)"
        ~ ' else min(excluded.previous_exposure_date) end',
        'from ' ~ ref('int_exposure_units_excluded') ~ ' as excluded',
        'the first date of the excluded units')) }}
{%- endmacro %}

{#- True when int_unit_event_days holds sign -1 copies (left by incremental runs; a full build has
    none): a model that reads all its rows rather than the days on or after R must then net them
    out. Checked when the model runs, so the common full build pays no extra aggregate. -#}
{% macro event_days_have_reversals() -%}
    {%- if not execute -%}{{ return(false) }}{%- endif -%}
    {%- set result = run_query('select count(*) from ' ~ ref('int_unit_event_days') ~ ' as event_days where event_days.sign < 0') -%}
    {{ return((result.columns[0].values()[0] | int) > 0) }}
{%- endmacro %}

{#- The rows (table alias) of an incremental per-unit table a downstream incremental sum must read:
    the rows dated on or after R, and, on an incremental run, the sign -1 copies appended since
    this model's own last run (loaded_at), which it adds to its stored totals for earlier dates
    (int_arm_metric_deltas, int_event_days_counted). A run killed before this model leaves its
    loaded_at behind, so the next run picks up the copies too. -#}
{% macro recomputed_or_newly_reversed(alias, recompute_from) -%}
    {{ alias }}.activity_date >= {{ recompute_from }}
    {%- if is_incremental() %}
        or (
            {{ alias }}.sign < 0
            and {{ alias }}.loaded_at > (
                select coalesce(max(previous.loaded_at), cast('1900-01-01' as timestamp))
                from {{ this }} as previous
            )
        )
    {%- endif %}
{%- endmacro %}

{#- This run's start (UTC) as a timestamp literal: marks the rows a run appended. -#}
{% macro run_loaded_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
{%- endmacro %}

{#- The stored int_exposure_units_classified (not a ref: it is built downstream of
    int_exposure_units_changed, which reads the state the last run left), or none when it does
    not exist yet or predates its last_exposed_at column (the run then re-reads every changed
    unit's exposure history). -#}
{% macro previous_exposure_units_relation() -%}
    {%- if not execute -%}{{ return(none) }}{%- endif -%}
    {%- set relation = adapter.get_relation(database=this.database, schema=this.schema, identifier='int_exposure_units_classified') -%}
    {%- if relation is none -%}{{ return(none) }}{%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
    {{ return(relation if 'last_exposed_at' in columns else none) }}
{%- endmacro %}
