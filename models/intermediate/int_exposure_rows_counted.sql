-- Grain: one row per (exposure_date, experiment_id, rejection_reason, unit_id): the raw exposure
-- rows (int_exposures_validated) counted for fct_experiment_health and fct_quarantine, so neither
-- re-reads the exposure log. exposure_date is the row's UTC date (null when it has no valid
-- timestamp); rejection_reason is null for valid rows. unit_id is kept for rejected rows only
-- (fct_quarantine counts their distinct units) and is null for valid rows, which are counted per
-- day and experiment (fct_experiment_health: exposure rows per day).
-- Incremental like int_metric_events_rejected (macros/incremental.sql): a run recounts the rows
-- dated on or after R and the rows without a date, so it reads only those days of the exposure
-- log (the files are pruned by their timestamp statistics), never the history. Rows dated before
-- R are unchanged since the last run (int_raw_days_fingerprinted); their rejection reasons depend
-- on the registry, whose changes need a full refresh anyway (docs/semantics.md).
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_rows_counted_from_recompute_date('exposure_date') }}",
    post_hook="{{ record_incremental_watermark() }}"
) }}
-- depends_on: {{ ref('int_incremental_window') }}
-- depends_on: {{ ref('int_registry_problems') }} (nothing is built from a run whose registry is invalid)

{%- set day_filters = recounted_day_filters('validated.exposed_at') %}

with exposure_rows as (
    {%- for day_filter in day_filters %}
    select
        cast(validated.exposed_at as date) as exposure_date,
        validated.experiment_id,
        validated.rejection_reason,
        case when validated.rejection_reason is not null then validated.unit_id end as unit_id
    from {{ ref('int_exposures_validated') }} as validated
    where {{ day_filter }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

select
    exposure_rows.exposure_date,
    exposure_rows.experiment_id,
    exposure_rows.rejection_reason,
    exposure_rows.unit_id,
    count(*) as n_rows,
    {{ built_as_of_column() }}
from exposure_rows
group by
    exposure_rows.exposure_date,
    exposure_rows.experiment_id,
    exposure_rows.rejection_reason,
    exposure_rows.unit_id
