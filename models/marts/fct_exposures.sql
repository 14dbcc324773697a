-- Grain: one row per (experiment_id, unit_id) analysed: the unit's first exposure, its single
-- variant and its dimensions at first exposure. Excluded units are in fct_quarantine.
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
where units.exclusion_reason is null
