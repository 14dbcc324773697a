-- Grain: one row per (source_table, experiment_id, reason). Every raw row that does not reach the
-- analysis is counted here with why. is_exclusion = false marks informational rows (repeat
-- exposures of a kept unit are collapsed, not lost). experiment_id is null for metric events
-- (rows of the event log are not tied to an experiment) and '(missing)' for exposure rows
-- without one.
with rejected_exposures as (
    -- the rejected exposure rows per day, reason and unit (int_exposure_rows_counted: not the
    -- exposure log itself)
    select * from {{ ref('int_exposure_rows_counted') }}
    where rejection_reason is not null
),

exposure_units as (
    select * from {{ ref('int_exposure_units_classified') }}
),

rejected_exposure_rows as (
    select
        'exposures' as source_table,
        coalesce(rejected_exposures.experiment_id, '(missing)') as experiment_id,
        rejected_exposures.rejection_reason as reason,
        true as is_exclusion,
        sum(rejected_exposures.n_rows) as n_rows,
        count(distinct rejected_exposures.unit_id) as n_units
    from rejected_exposures
    group by
        coalesce(rejected_exposures.experiment_id, '(missing)'),
        rejected_exposures.rejection_reason
),

excluded_units as (
    select
        'exposures' as source_table,
        exposure_units.experiment_id,
        exposure_units.exclusion_reason as reason,
        true as is_exclusion,
        sum(exposure_units.n_exposure_rows) as n_rows,
        count(*) as n_units
    from exposure_units
    where exposure_units.exclusion_reason is not null
    group by exposure_units.experiment_id, exposure_units.exclusion_reason
),

collapsed_repeats as (
    select
        'exposures' as source_table,
        exposure_units.experiment_id,
        'repeat_exposure_collapsed' as reason,
        false as is_exclusion,
        sum(exposure_units.n_exposure_rows - 1) as n_rows,
        0 as n_units
    from exposure_units
    where exposure_units.exclusion_reason is null
        and exposure_units.n_exposure_rows > 1
    group by exposure_units.experiment_id
),

rejected_event_rows as (
    select
        'metric_events' as source_table,
        cast(null as {{ dbt.type_string() }}) as experiment_id,
        rejected_events.rejection_reason as reason,
        true as is_exclusion,
        sum(rejected_events.n_rows) as n_rows,
        count(distinct rejected_events.unit_id) as n_units
    from {{ ref('int_metric_events_rejected') }} as rejected_events
    group by rejected_events.rejection_reason
),

unattributed_reasons as (
    select 'event_after_attribution_window' as reason
    union all
    select 'event_before_exposure' as reason
),

unattributed_row_counts as (
    -- events of analysed units that no metric window counts (informational): after the longest
    -- attribution window, or in the 24 hours before the unit's first exposure
    -- (int_event_days_counted)
    select
        counted.experiment_id,
        unattributed_reasons.reason,
        sum(case
            when unattributed_reasons.reason = 'event_after_attribution_window' then counted.n_events_after_window
            else counted.n_events_before_exposure
        end) as n_rows
    from {{ ref('int_event_days_counted') }} as counted
    cross join unattributed_reasons
    group by counted.experiment_id, unattributed_reasons.reason
),

unattributed_rows as (
    -- a reason without such events has no row
    select * from unattributed_row_counts
    where unattributed_row_counts.n_rows > 0
),

unattributed_units as (
    -- the same units, one row each (int_unit_events_unattributed): no distinct count over days
    select
        unattributed.experiment_id,
        unattributed.reason,
        count(*) as n_units
    from {{ ref('int_unit_events_unattributed') }} as unattributed
    group by unattributed.experiment_id, unattributed.reason
),

unattributed_events as (
    select
        'metric_events' as source_table,
        coalesce(unattributed_rows.experiment_id, unattributed_units.experiment_id) as experiment_id,
        coalesce(unattributed_rows.reason, unattributed_units.reason) as reason,
        false as is_exclusion,
        coalesce(unattributed_rows.n_rows, 0) as n_rows,
        coalesce(unattributed_units.n_units, 0) as n_units
    from unattributed_rows
    full outer join unattributed_units
        on unattributed_rows.experiment_id = unattributed_units.experiment_id
        and unattributed_rows.reason = unattributed_units.reason
),

unioned as (
    select * from rejected_exposure_rows
    union all
    select * from excluded_units
    union all
    select * from collapsed_repeats
    union all
    select * from rejected_event_rows
    union all
    select * from unattributed_events
)

select
    unioned.source_table,
    unioned.experiment_id,
    unioned.reason,
    unioned.is_exclusion,
    cast(unioned.n_rows as bigint) as n_rows,
    cast(unioned.n_units as bigint) as n_units
from unioned
