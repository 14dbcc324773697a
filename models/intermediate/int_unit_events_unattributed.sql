-- Grain: one row per (experiment_id, unit_id, reason): the analysed units with events that no
-- metric window counts (fct_quarantine, informational), with the first day such an event was
-- seen (first_activity_date):
--   event_after_attribution_window  an event after the unit's longest attribution window
--   event_before_exposure           an event in the 24 hours before the unit's first exposure
-- fct_quarantine counts the units from here: a distinct count over int_unit_event_days, which
-- has one row per unit and day, was its slowest part (at L, 23M rows into 10M groups: 8 s).
-- Incremental like int_unit_event_days (macros/incremental.sql): a unit's row is replaced only if
-- its first day is on or after R or its event days were rebuilt; a unit already seen before R
-- stays seen, so a run adds only the units whose first such day is on or after R.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=["{{ delete_rows_from_recompute_date('first_activity_date') }}", "{{ delete_rebuilt_unit_rows() }}"]
) }}
-- depends_on: {{ ref('int_incremental_window') }}
-- depends_on: {{ ref('int_exposure_units_excluded') }}
{%- set incremental = is_incremental() %}
{#- an incremental run reads only days on or after R, where no sign -1 copy is -#}
{%- set net_out_reversals = not incremental and event_days_have_reversals() %}

with unattributed_days as (
    select
        unit_days.experiment_id,
        unit_days.unit_id,
        case
            when unit_days.period = 'after_window' then 'event_after_attribution_window'
            else 'event_before_exposure'
        end as reason,
        unit_days.activity_date
        {%- if net_out_reversals %},
        unit_days.sign
        {%- endif %}
    from {{ ref('int_unit_event_days') }} as unit_days
    {{ join_counting_window('unit_days') }}
    where (
        unit_days.period = 'after_window'
        or (unit_days.period = 'pre' and unit_days.near_exposure_count > 0)
    )
    {%- if incremental %}
        -- the rows before R of a unit still here were seen by an earlier run; rows of rebuilt
        -- units are all dated on or after R (int_unit_event_days)
        and unit_days.activity_date >= {{ recompute_from_date() }}
    {%- endif %}
),

first_days as (
    select
        unattributed_days.experiment_id,
        unattributed_days.unit_id,
        unattributed_days.reason,
        min(unattributed_days.activity_date) as first_activity_date
    from unattributed_days
    group by
        unattributed_days.experiment_id,
        unattributed_days.unit_id,
        unattributed_days.reason
    {%- if net_out_reversals %}
    -- a unit excluded by an incremental run: its rows and their sign -1 copies cancel out
    having sum(unattributed_days.sign) > 0
    {%- endif %}
)

select
    first_days.experiment_id,
    first_days.unit_id,
    first_days.reason,
    first_days.first_activity_date,
    {{ built_as_of_column() }}
from first_days
{%- if incremental %}
where not exists (
    select 1
    from {{ this }} as seen
    where seen.experiment_id = first_days.experiment_id
        and seen.unit_id = first_days.unit_id
        and seen.reason = first_days.reason
)
{%- endif %}
