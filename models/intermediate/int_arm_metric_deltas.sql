-- Grain: (experiment_id, metric_id, variant_id, platform, country, city, activity_date), with
-- more than one row per grain where an incremental run appended exclusion reversals for dates
-- before R (sum the rows; fct_arm_statistics does). The per-unit deltas summed at the finest
-- slice grain: the first stage of the two-stage aggregation; slices are rolled up from here
-- without touching units again. Every arm moment except n_units (fct_arm_statistics counts the
-- units of fct_exposures).
-- Incremental (macros/incremental.sql): dates on or after R are re-aggregated from
-- int_unit_metric_deltas; reversal rows it appended since this model's last run are added.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{% if is_incremental() %}delete from {{ this }} where activity_date >= {{ recompute_from_date() }}{% endif %}",
    post_hook="{{ record_incremental_watermark() }}"
) }}
-- depends_on: {{ ref('int_incremental_window') }}
{%- set incremental = is_incremental() %}
{%- set recompute_from = recompute_from_date() if incremental else "cast('1900-01-01' as date)" %}

with deltas as (
    select unit_deltas.*
    from {{ ref('int_unit_metric_deltas') }} as unit_deltas
    where {{ recomputed_or_newly_reversed('unit_deltas', recompute_from) }}
),

slice_sums as (
    -- summed on the 64-bit slice key; the strings are joined to the summed rows, not to the unit rows
    select
        deltas.experiment_id,
        deltas.metric_id,
        deltas.arm_slice_key,
        deltas.activity_date,
        {%- for column in arm_moment_columns() if column != 'n_units' %}
        {%- if column.startswith('n_') %}
        cast(sum({{ unit_delta_moment(column, 'deltas') }}) as bigint) as {{ column }}{{ ',' if not loop.last }}
        {%- else %}
        {{ to_exact('sum(' ~ unit_delta_moment(column, 'deltas') ~ ')') }} as {{ column }}{{ ',' if not loop.last }}
        {%- endif %}
        {%- endfor %}
    from deltas
    group by
        deltas.experiment_id,
        deltas.metric_id,
        deltas.arm_slice_key,
        deltas.activity_date
)

select
    slice_sums.experiment_id,
    slice_sums.metric_id,
    -- a key missing from int_arm_slices_keyed leaves these null (not_null tests), not a lost row
    slices.variant_id,
    slices.platform,
    slices.country,
    slices.city,
    slice_sums.activity_date,
    {%- for column in arm_moment_columns() if column != 'n_units' %}
    slice_sums.{{ column }},
    {%- endfor %}
    {{ built_as_of_column() }},
    {{ run_loaded_at() }} as loaded_at
from slice_sums
left join {{ ref('int_arm_slices_keyed') }} as slices
    on slice_sums.arm_slice_key = slices.arm_slice_key
