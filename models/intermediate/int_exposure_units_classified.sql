-- Grain: one row per (experiment_id, unit_id) with at least one valid exposure row.
-- Decides the unit's first exposure, its variant and dimensions, and whether it is excluded.
-- Incremental (macros/incremental.sql): a run rebuilds, from all their rows, only the units with an
-- exposure row dated on or after R (int_exposure_units_changed); the others cannot have changed.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_changed_exposure_units() }}"
) }}
-- depends_on: {{ ref('int_incremental_window') }}
-- depends_on: {{ ref('int_exposure_units_changed') }}

with valid_rows as (
    select exposure_rows.*
    from {{ ref('int_exposures_validated') }} as exposure_rows
    {%- if rebuilds_changed_units_only() %}
    inner join {{ ref('int_exposure_units_changed') }} as changed_units
        on exposure_rows.experiment_id = changed_units.experiment_id
        and exposure_rows.unit_id = changed_units.unit_id
    {%- endif %}
    where exposure_rows.rejection_reason is null
),

unit_summary as (
    select
        valid_rows.experiment_id,
        valid_rows.unit_id,
        count(*) as n_exposure_rows,
        min(valid_rows.variant_id) <> max(valid_rows.variant_id) as has_multiple_variants,
        max(case when valid_rows.is_internal then 1 else 0 end) = 1 as has_internal_row,
        max(case when valid_rows.is_bot then 1 else 0 end) = 1 as has_bot_row,
        min(valid_rows.exposed_at) as first_exposed_at
    from valid_rows
    group by valid_rows.experiment_id, valid_rows.unit_id
),

first_rows as (
    -- the unit's rows at its first exposure instant (one, except for exact ties, broken by the
    -- dimensions and the variant); ranking only these keeps the sort small
    select
        valid_rows.experiment_id,
        valid_rows.unit_id,
        valid_rows.variant_id,
        valid_rows.platform,
        valid_rows.country,
        valid_rows.city,
        row_number() over (
            partition by valid_rows.experiment_id, valid_rows.unit_id
            order by
                valid_rows.platform,
                valid_rows.country,
                valid_rows.city,
                valid_rows.variant_id
        ) as exposure_rank
    from valid_rows
    inner join unit_summary
        on valid_rows.experiment_id = unit_summary.experiment_id
        and valid_rows.unit_id = unit_summary.unit_id
        and valid_rows.exposed_at = unit_summary.first_exposed_at
)

select
    unit_summary.experiment_id,
    unit_summary.unit_id,
    first_rows.variant_id,
    unit_summary.first_exposed_at,
    cast(unit_summary.first_exposed_at as date) as exposure_date,
    first_rows.platform,
    first_rows.country,
    first_rows.city,
    unit_summary.n_exposure_rows,
    case
        when unit_summary.has_internal_row then 'internal_traffic'
        when unit_summary.has_bot_row then 'bot_traffic'
        when unit_summary.has_multiple_variants then 'multiple_variants'
    end as exclusion_reason
from unit_summary
inner join first_rows
    on unit_summary.experiment_id = first_rows.experiment_id
    and unit_summary.unit_id = first_rows.unit_id
    and first_rows.exposure_rank = 1
