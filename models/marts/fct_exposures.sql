-- Grain: one row per (experiment_id, unit_id) analysed: the unit's first exposure, its single
-- variant and its dimensions at first exposure. Excluded units are in fct_quarantine.
-- Incremental like int_exposure_units_classified: a run replaces only the changed units.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_changed_exposure_units() }}"
) }}
-- depends_on: {{ ref('int_incremental_window') }}
-- depends_on: {{ ref('int_exposure_units_changed') }}
select
    units.experiment_id,
    units.unit_id,
    units.variant_id,
    units.first_exposed_at,
    units.exposure_date,
    units.platform,
    units.country,
    units.city,
    units.n_exposure_rows
from {{ ref('int_exposure_units_classified') }} as units
{%- if rebuilds_changed_units_only() %}
inner join {{ ref('int_exposure_units_changed') }} as changed_units
    on units.experiment_id = changed_units.experiment_id
    and units.unit_id = changed_units.unit_id
{%- endif %}
where units.exclusion_reason is null
