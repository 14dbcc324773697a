-- Grain: one row per (experiment_id, unit_id) with an exposure row dated on or after the recompute
-- date R (any row, valid or not): the only units whose first exposure, variant, dimensions or
-- exclusion can have changed since the previous run (macros/incremental.sql). The exposure-side
-- incremental models rebuild exactly these units. Empty when there is no previous state (R is
-- 1900-01-01): every incremental model then rebuilds in full.
-- previous_*: the unit's row in int_exposure_units_classified as the last run left it (null for a
-- unit it does not hold), read here because that model's pre_hook deletes it before its select
-- runs. int_exposure_units_classified merges it with the unit's rows on or after R instead of
-- re-reading the unit's whole exposure history, when no stored row has a row on or after R.
-- depends_on: {{ ref('int_incremental_window') }}
{%- set recompute_from = recompute_from_date() %}
{%- set previous_state = previous_exposure_units_relation() %}

with changed_units as (
    select distinct
        exposure_rows.experiment_id,
        exposure_rows.unit_id
    from {{ ref('int_exposures_validated') }} as exposure_rows
    where exposure_rows.exposed_at >= cast({{ recompute_from }} as timestamp)
        and exposure_rows.experiment_id is not null
        and exposure_rows.unit_id is not null
        and {{ recompute_from }} > cast('1900-01-01' as date)
)

select
    changed_units.experiment_id,
    changed_units.unit_id,
    {%- if previous_state is not none %}
    previous.unit_id is not null as has_previous_state,
    previous.variant_id as previous_variant_id,
    previous.first_exposed_at as previous_first_exposed_at,
    previous.last_exposed_at as previous_last_exposed_at,
    previous.platform as previous_platform,
    previous.country as previous_country,
    previous.city as previous_city,
    previous.n_exposure_rows as previous_n_exposure_rows,
    previous.exclusion_reason as previous_exclusion_reason
    {%- else %}
    cast(null as boolean) as has_previous_state,
    cast(null as {{ dbt.type_string() }}) as previous_variant_id,
    cast(null as {{ dbt.type_timestamp() }}) as previous_first_exposed_at,
    cast(null as {{ dbt.type_timestamp() }}) as previous_last_exposed_at,
    cast(null as {{ dbt.type_string() }}) as previous_platform,
    cast(null as {{ dbt.type_string() }}) as previous_country,
    cast(null as {{ dbt.type_string() }}) as previous_city,
    cast(null as {{ dbt.type_bigint() }}) as previous_n_exposure_rows,
    cast(null as {{ dbt.type_string() }}) as previous_exclusion_reason
    {%- endif %}
from changed_units
{%- if previous_state is not none %}
left join {{ previous_state }} as previous
    on changed_units.experiment_id = previous.experiment_id
    and changed_units.unit_id = previous.unit_id
{%- endif %}
