-- Grain: one row per (source_table, row_date): the raw-table fingerprint
-- (int_raw_days_fingerprinted) that the last complete run processed. Built after every model
-- that reads the raw rows incrementally, so a run that fails or is killed before them leaves the
-- previous snapshot in place and the next run detects the same changes again.
-- int_incremental_window reads this table's previous contents (not through ref, which would be a
-- cycle) before it is replaced. The fingerprint was taken at the start of the run: rows that
-- arrive while a run is going make the next run's fingerprint differ, so they are not lost.
-- depends_on: {{ ref('int_unit_event_days') }}
-- depends_on: {{ ref('int_unit_events_unattributed') }}
-- depends_on: {{ ref('int_unit_metric_deltas') }}
-- depends_on: {{ ref('int_arm_metric_deltas') }}
-- depends_on: {{ ref('int_metric_events_rejected') }}
-- depends_on: {{ ref('int_exposure_units_classified') }}
-- depends_on: {{ ref('fct_exposures') }}

select
    fingerprints.source_table,
    fingerprints.row_date,
    fingerprints.n_rows,
    fingerprints.row_checksum,
    {{ built_as_of_column() }}
from {{ ref('int_raw_days_fingerprinted') }} as fingerprints
