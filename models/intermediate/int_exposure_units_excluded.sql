-- Grain: one row per (experiment_id, unit_id): the units with exposure rows on or after R that
-- were first exposed before R and are excluded now (a second arm, a bot or internal flag). Those
-- that were analysed until now have rows in the stored per-unit tables (all dated before R), which
-- this run cancels: sign -1 copies in int_unit_event_days and int_unit_metric_deltas, deleted in
-- int_unit_events_unattributed (macros/incremental.sql). Units excluded already have no such rows
-- left (the copies net to zero), so they add nothing; they are not told apart by their previous
-- classification, which a killed run may have updated before the per-unit tables. Empty when the
-- run rebuilds in full (R is 1900-01-01).
-- Only the changed units (int_exposure_units_changed) the last run held with a first exposure
-- before R can have such rows: a unit first exposed on or after R has every row dated on or after
-- its exposure date, and most changed units are new (at L, day 30: 146k of 687k). Such a unit
-- keeps its first exposure, so it is analysed now unless int_exposure_units_classified excludes
-- it. A table, computed once for the three models that probe their stored rows with it (a few
-- hundred units: the probes build their hash tables on this side). The probes also skip the rows
-- dated before the earliest stored first exposure of these units (excluded_units_first_date):
-- exclusions mostly come within days of the first exposure, and the tables a daily schedule
-- appends to are ordered by date, so the probes read the last days' row groups, not the history.
-- depends_on: {{ ref('int_incremental_window') }}

with seen_before as (
    -- with no previous state to tell (has_previous_state null), every changed unit
    select
        changed_units.experiment_id,
        changed_units.unit_id,
        cast(changed_units.previous_first_exposed_at as date) as previous_exposure_date
    from {{ ref('int_exposure_units_changed') }} as changed_units
    where changed_units.has_previous_state is null
        or changed_units.previous_first_exposed_at < {{ recompute_from_timestamp() }}
),

excluded_now as (
    select
        classified.experiment_id,
        classified.unit_id
    from {{ ref('int_exposure_units_classified') }} as classified
    where classified.exclusion_reason is not null
)

select
    seen_before.experiment_id,
    seen_before.unit_id,
    -- the stored first exposure date (null without a previous state): no stored row of the unit is
    -- dated before it (excluded_units_first_date)
    seen_before.previous_exposure_date
from seen_before
inner join excluded_now
    on seen_before.experiment_id = excluded_now.experiment_id
    and seen_before.unit_id = excluded_now.unit_id
