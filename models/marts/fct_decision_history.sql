-- Grain: one row per (experiment_id, analysis_date): the decision trail. Each run records the
-- decision of every analysis date not recorded yet, and re-records the dates on or after its
-- as-of date (re-running the same date replaces that row, it never duplicates it). Earlier rows
-- are never rewritten, so the trail keeps what was decided at the time, even when late data or
-- a changed registry would decide differently today. full_refresh = false: `dbt build
-- --full-refresh` rebuilds every fact table but keeps this history (drop the table by hand to
-- reset it).
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['experiment_id', 'analysis_date'],
    full_refresh=false,
    on_schema_change='append_new_columns'
) }}

with decisions as (
    select * from {{ ref('fct_decision_records') }}
)

select
    decisions.*,
    {{ as_of_date() }} as recorded_as_of_date,
    {{ run_loaded_at() }} as recorded_at,
    '{{ invocation_id }}' as dbt_invocation_id,
    decisions.analysis_date < {{ as_of_date() }} as is_backfilled
from decisions
{%- if is_incremental() %}
where decisions.analysis_date >= {{ as_of_date() }}
    or not exists (
        select 1
        from {{ this }} as recorded
        where recorded.experiment_id = decisions.experiment_id
            and recorded.analysis_date = decisions.analysis_date
    )
{%- endif %}
