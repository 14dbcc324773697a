"""Incremental runs equal a full refresh; the decision trail survives a full refresh; a killed run
is repaired by the next run; two runs at once get a clear lock error (issue: trustworthy runs)."""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone

import duckdb
import pandas as pd
import pytest

from .project import ScratchProject

FACT_TABLES = [
    "fct_exposures", "fct_quarantine", "fct_arm_statistics", "fct_srm_checks", "fct_experiment_results",
    "fct_decision_records", "fct_experiment_health", "int_exposure_units_classified",
]
SCALE, SEED = 0.05, 7


def _generate(database):
    subprocess.run([sys.executable, "-m", "exptools.demo_data", "--database", str(database), "--scale", str(SCALE),
                    "--seed", str(SEED)], check=True, capture_output=True)


def _append_late_data(project: ScratchProject):
    """Rows that arrive after the 2026-10-20 run, dated before it: an order completion of an
    analysed chatbot unit, a new exposure of an analysed unit in the other arm (the unit becomes
    excluded: its earlier rows must be reversed), a repeat exposure of an analysed unit in its own
    arm (collapsed: n_exposure_rows grows), a brand-new unit, an event 15 days late, and one
    unit's events of 2026-10-08 deleted. No late_arrival_days window covers the last two: the
    change detection (int_raw_days_fingerprinted) must find them."""
    unit = project.sql(
        "select unit_id from main.fct_exposures where experiment_id = 'chatbot_delivery_estimate' "
        "and exposure_date = date '2026-10-03' order by unit_id limit 1")[0][0]
    switcher, variant = project.sql(
        "select unit_id, variant_id from main.fct_exposures where experiment_id = 'chatbot_delivery_estimate' "
        "and exposure_date = date '2026-10-02' order by unit_id limit 1")[0]
    other = "control" if variant == "treatment" else "treatment"
    repeater, repeater_variant = project.sql(
        "select unit_id, variant_id from main.fct_exposures where experiment_id = 'chatbot_delivery_estimate' "
        "and exposure_date = date '2026-10-04' order by unit_id limit 1")[0]
    return [
        ("insert into raw.metric_events values (?, 'order_completed', timestamp '2026-10-19 10:00:00', null)", [unit]),
        ("insert into raw.exposures values ('chatbot_delivery_estimate', ?, ?, timestamp '2026-10-19 09:00:00', "
         "'ios', 'DE', 'Berlin', false, false)", [switcher, other]),
        ("insert into raw.exposures values ('chatbot_delivery_estimate', ?, ?, timestamp '2026-10-18 12:00:00', "
         "'android', 'FR', 'Paris', false, false)", [repeater, repeater_variant]),
        ("insert into raw.exposures values ('chatbot_delivery_estimate', 'late_new_unit', 'control', "
         "timestamp '2026-10-19 08:00:00', 'web', 'DE', 'Berlin', false, false)", []),
        ("insert into raw.metric_events values ('late_new_unit', 'order_completed', timestamp '2026-10-19 20:00:00', null)",
         []),
        ("insert into raw.metric_events values (?, 'order_completed', timestamp '2026-10-05 11:00:00', null)", [unit]),
        ("delete from raw.metric_events where cast(event_at as date) = date '2026-10-08' and unit_id = "
         "(select min(unit_id) from raw.metric_events where cast(event_at as date) = date '2026-10-08')", []),
    ], switcher


def _tables(database, tables=FACT_TABLES) -> dict[str, pd.DataFrame]:
    out = {}
    with duckdb.connect(str(database), read_only=True) as connection:
        for table in tables:
            frame = connection.execute(f"select * from main.{table}").df()
            out[table] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    return out


def _assert_same(left: dict, right: dict):
    for table in left:
        pd.testing.assert_frame_equal(left[table], right[table], check_exact=True, obj=table)


@pytest.fixture(scope="module")
def incremental_and_full(tmp_path_factory):
    base = tmp_path_factory.mktemp("incremental")
    incremental = ScratchProject(base / "incremental")
    _generate(incremental.database)
    incremental.dbt(["build"], {"as_of_date": "2026-10-12"})
    incremental.dbt(["build"], {"as_of_date": "2026-10-20"})
    statements, switcher = _append_late_data(incremental)
    for sql, params in statements:
        incremental.sql(sql, params)
    incremental.dbt(["build"], {"as_of_date": "2026-10-31"})
    window_after_late_rows = incremental.query_df("select * from main.int_incremental_window")
    excluded_after_late_rows = incremental.query_df("select * from main.int_exposure_units_excluded")
    history_before = _tables(incremental.database, ["fct_decision_history"])["fct_decision_history"]
    rerun_started = datetime.now(timezone.utc).replace(tzinfo=None)
    incremental.dbt(["build"], {"as_of_date": "2026-10-31"})  # same date again: idempotent

    full = ScratchProject(base / "full")
    _generate(full.database)
    for sql, params in statements:
        full.sql(sql, params)
    full.dbt(["build"], {"as_of_date": "2026-10-31"})
    return (incremental, full, switcher, history_before, excluded_after_late_rows, window_after_late_rows,
            rerun_started)


def test_incremental_runs_equal_full_refresh(incremental_and_full):
    incremental, full, switcher, _, excluded, *_ = incremental_and_full
    _assert_same(_tables(incremental.database), _tables(full.database))
    # the late rows took effect: the switching unit is excluded, the late unit analysed
    kept = incremental.query_df("select unit_id from main.fct_exposures where experiment_id = 'chatbot_delivery_estimate'")
    assert switcher not in set(kept.unit_id) and "late_new_unit" in set(kept.unit_id)
    # the run after the late rows listed it among the excluded units whose stored rows it cancels;
    # only units analysed before R and excluded now are listed (not the new unit, no kept unit)
    listed = set(zip(excluded.experiment_id, excluded.unit_id))
    assert ("chatbot_delivery_estimate", switcher) in listed
    # with its stored first exposure date, which bounds the dates the probes read (its rows start
    # there: the reversals below cover them all, or the tables would differ from a full refresh)
    switcher_row = excluded[excluded.unit_id == switcher]
    assert str(switcher_row.previous_exposure_date.iloc[0])[:10] == "2026-10-02"
    assert not any(unit_id in set(kept.unit_id) or unit_id == "late_new_unit" for _, unit_id in listed)
    reversals = incremental.query_df(
        "select count(*) as n from main.int_unit_metric_deltas where sign < 0 "
        f"and unit_id = '{switcher}'")
    assert reversals.n[0] > 0
    # its event days before R (2026-10-05) were reversed too, and int_event_days_counted took them
    # off its stored day totals (a correction row next to the day's total)
    event_day_reversals = incremental.query_df(
        "select count(*) as n, max(activity_date) as last_day from main.int_unit_event_days "
        f"where sign < 0 and unit_id = '{switcher}'")
    assert event_day_reversals.n[0] > 0 and str(event_day_reversals.last_day[0])[:10] < "2026-10-05"
    corrected_days = incremental.query_df(
        "select count(*) as n from (select experiment_id, activity_date from main.int_event_days_counted "
        "group by all having count(*) > 1)")
    assert corrected_days.n[0] > 0


def test_late_and_deleted_rows_set_the_recompute_date(incremental_and_full):
    """The 2026-10-31 run after the late rows: the earliest changed day (the 15-days-late event)
    is where it recomputed from, with the default late_arrival_days 0."""
    *_, window, _ = incremental_and_full
    assert str(window.previous_as_of[0])[:10] == "2026-10-20"
    assert str(window.first_changed_date[0])[:10] == "2026-10-05"
    assert str(window.recompute_from[0])[:10] == "2026-10-05"
    assert window.recompute_reason[0] == "changed_raw_rows" and window.late_arrival_days[0] == 0


def test_rerun_with_unchanged_data_recomputes_nothing(incremental_and_full):
    incremental, *_, rerun_started = incremental_and_full
    window = incremental.query_df("select * from main.int_incremental_window")
    assert str(window.previous_as_of[0])[:10] == "2026-10-31" and str(window.recompute_from[0])[:10] == "2026-11-01"
    assert window.recompute_reason[0] == "same_or_earlier_as_of_date" and window.first_changed_date.isna()[0]
    for table in ["int_unit_metric_deltas", "int_arm_metric_deltas"]:
        appended = incremental.query_df(f"select count(*) as n from main.{table} where loaded_at >= '{rerun_started}'")
        assert appended.n[0] == 0, table
    processed = incremental.query_df("select max(built_as_of) as b from main.int_raw_days_processed")
    assert str(processed.b[0])[:10] == "2026-10-31"


def test_runs_that_append_no_row_still_advance_the_recompute_date(incremental_and_full, tmp_path):
    """Daily runs over days without new raw rows: the models append nothing (no event, no rejected
    row), yet each records the as-of date it was built with (incremental_watermarks), so the next
    run recomputes from the day after it, not from the last day that had rows. Before, the
    watermark was the largest built_as_of of a model's rows: a clean day (no rejected event) held
    R back, and every later run recomputed from there. The result equals a full refresh."""
    incremental, *_ = incremental_and_full
    copy = ScratchProject(tmp_path / "quiet", database=tmp_path / "quiet.duckdb")
    shutil.copy(incremental.database, copy.database)
    # no undated and no future events (every run recounts those, which hid the problem in the demo
    # data): a run after 2026-10-31 finds no rejected event to count
    copy.sql("delete from raw.metric_events where event_at is null or event_at >= timestamp '2026-11-01'")
    copy.dbt(["build"], {"as_of_date": "2026-11-01"})
    rejected = copy.query_df("select count(*) as n from main.int_metric_events_rejected "
                             "where built_as_of = date '2026-11-01'")
    assert rejected.n[0] == 0
    copy.dbt(["build"], {"as_of_date": "2026-11-02"})
    window = copy.query_df("select * from main.int_incremental_window")
    assert str(window.previous_as_of[0])[:10] == "2026-11-01" and str(window.recompute_from[0])[:10] == "2026-11-02"
    assert window.recompute_reason[0] == "new_days"
    recorded = copy.query_df("select model_name, max(built_as_of) as built_as_of from main.incremental_watermarks "
                             "group by model_name order by model_name")
    assert len(recorded) == 6 and set(recorded.built_as_of.astype(str).str[:10]) == {"2026-11-02"}
    refreshed = ScratchProject(tmp_path / "refreshed", database=tmp_path / "refreshed.duckdb")
    shutil.copy(copy.database, refreshed.database)
    refreshed.dbt(["build", "--full-refresh"], {"as_of_date": "2026-11-02"})
    _assert_same(_tables(copy.database), _tables(refreshed.database))


def test_checksum_detects_a_row_rewritten_in_place(incremental_and_full, tmp_path):
    """raw_change_detection = 'checksum': an event's value corrected in place (same row count) is
    found and the result equals a full refresh; the default row count does not see it."""
    incremental, *_ = incremental_and_full
    vars_ = {"as_of_date": "2026-10-31", "raw_change_detection": "checksum"}
    copy = ScratchProject(tmp_path / "checksum", database=tmp_path / "checksum.duckdb")
    shutil.copy(incremental.database, copy.database)
    copy.dbt(["build"], vars_)  # the first checksum fingerprint (no change)
    assert copy.query_df("select recompute_from from main.int_incremental_window").recompute_from.astype(str)[0][:10] \
        == "2026-11-01"
    copy.sql("update raw.metric_events set value = 77.5 where event_name = 'order_placed' and unit_id = "
             "(select min(unit_id) from raw.metric_events where event_name = 'order_placed' "
             "and cast(event_at as date) = date '2026-10-10') and cast(event_at as date) = date '2026-10-10'")
    copy.dbt(["build"], vars_)
    window = copy.query_df("select * from main.int_incremental_window")
    assert str(window.first_changed_date[0])[:10] == "2026-10-10" and window.recompute_reason[0] == "changed_raw_rows"
    refreshed = ScratchProject(tmp_path / "refreshed", database=tmp_path / "refreshed.duckdb")
    shutil.copy(copy.database, refreshed.database)
    refreshed.dbt(["build", "--full-refresh"], vars_)
    _assert_same(_tables(copy.database), _tables(refreshed.database))


def test_deleted_exposure_row_rebuilds_the_unit(incremental_and_full, tmp_path):
    """An exposure row deleted after it was processed: the switching unit's other-arm row of
    2026-10-19 is removed again, so the unit is analysed once more, from its first exposure on
    2026-10-02, with all its events from before 2026-10-19. Its remaining rows are all older than
    that day, so only a rebuild finds it: the run rebuilds in full (exposure_rows_removed) and
    equals a full refresh (it failed the exposure_rows_accounted_for data test before)."""
    incremental, _, switcher, *_ = incremental_and_full
    vars_ = {"as_of_date": "2026-10-31"}
    copy = ScratchProject(tmp_path / "deleted", database=tmp_path / "deleted.duckdb")
    shutil.copy(incremental.database, copy.database)
    copy.sql("delete from raw.exposures where experiment_id = 'chatbot_delivery_estimate' and unit_id = ? "
             "and exposed_at = timestamp '2026-10-19 09:00:00'", [switcher])
    copy.dbt(["build"], vars_)
    window = copy.query_df("select * from main.int_incremental_window")
    assert window.recompute_reason[0] == "exposure_rows_removed"
    assert str(window.recompute_from[0])[:10] == "1900-01-01"
    kept = copy.query_df("select unit_id from main.fct_exposures where experiment_id = 'chatbot_delivery_estimate'")
    assert switcher in set(kept.unit_id)
    refreshed = ScratchProject(tmp_path / "refreshed", database=tmp_path / "refreshed.duckdb")
    shutil.copy(copy.database, refreshed.database)
    refreshed.dbt(["build", "--full-refresh"], vars_)
    _assert_same(_tables(copy.database), _tables(refreshed.database))
    pd.testing.assert_frame_equal(_unit_deltas(copy.database), _unit_deltas(refreshed.database), check_exact=True)


def test_daily_run_merges_stored_exposure_units_with_new_rows(tmp_path):
    """A daily run (R = the previous as-of date + 1) reclassifies the units with exposure rows on
    or after R from their stored state plus those rows only (int_exposure_units_classified's merge
    path): a repeat in the unit's own arm, a second arm, a bot row, an internal row, an invalid row
    and a new unit. It equals a full refresh, fct_exposures and the statistics included."""
    vars_ = {"as_of_date": "2026-10-21"}
    daily = ScratchProject(tmp_path / "daily", database=tmp_path / "daily.duckdb")
    _generate(daily.database)
    daily.dbt(["build"], {"as_of_date": "2026-10-20"})
    units = daily.sql(
        "select unit_id, variant_id from main.fct_exposures where experiment_id = 'chatbot_delivery_estimate' "
        "and exposure_date < date '2026-10-10' order by unit_id limit 5")
    other = {"control": "treatment", "treatment": "control"}
    rows = [
        (units[0][0], units[0][1], False, False),          # repeat in its own arm
        (units[1][0], other[units[1][1]], False, False),   # a second arm: excluded
        (units[2][0], units[2][1], False, True),           # a bot row: excluded
        (units[3][0], other[units[3][1]], True, False),    # internal and a second arm: internal wins
        (units[4][0], "no_such_arm", False, False),        # invalid (unknown variant): no change
        ("daily_new_unit", "control", False, False),       # first seen on R
    ]
    for unit, variant, internal, bot in rows:
        daily.sql("insert into raw.exposures values ('chatbot_delivery_estimate', ?, ?, "
                  "timestamp '2026-10-21 10:00:00', 'web', 'DE', 'Berlin', ?, ?)", [unit, variant, internal, bot])
    daily.dbt(["build"], vars_)
    assert daily.query_df("select recompute_reason from main.int_incremental_window").recompute_reason[0] == "new_days"
    compiled = next((daily.base / "target" / "compiled").rglob("int_exposure_units_classified.sql")).read_text()
    assert "merged as (" in compiled and "exposure_rows.exposed_at >= cast(cast('2026-10-21' as date)" in compiled
    reasons = dict(daily.sql(
        "select unit_id, coalesce(exclusion_reason, 'kept') from main.int_exposure_units_classified "
        "where experiment_id = 'chatbot_delivery_estimate' and unit_id in (?, ?, ?, ?, ?, 'daily_new_unit')",
        [u for u, _ in units]))
    assert [reasons[u] for u, _ in units] + [reasons["daily_new_unit"]] == \
        ["kept", "multiple_variants", "bot_traffic", "internal_traffic", "kept", "kept"]
    refreshed = ScratchProject(tmp_path / "refreshed", database=tmp_path / "refreshed.duckdb")
    shutil.copy(daily.database, refreshed.database)
    refreshed.dbt(["build", "--full-refresh"], vars_)
    _assert_same(_tables(daily.database), _tables(refreshed.database))


def _unit_deltas(database) -> pd.DataFrame:
    frame = _tables(database, ["int_unit_metric_deltas"])["int_unit_metric_deltas"].drop(columns=["loaded_at"])
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def test_string_unit_key_equals_hashed_unit_key(incremental_and_full, tmp_path):
    """int_unit_metric_deltas keys its window by a 64-bit hash of (experiment_id, unit_id) after a
    collision check; var unit_hash_key = false (the path taken on a collision) keys by the strings.
    Both give the same rows, in a full refresh and in an incremental run (one unit's events of
    2026-10-09 deleted: recompute from that day with string keys, then a hashed full refresh)."""
    _, full, *_ = incremental_and_full
    strings = {"as_of_date": "2026-10-31", "unit_hash_key": False}
    copy = ScratchProject(tmp_path / "strings", database=tmp_path / "strings.duckdb")
    shutil.copy(full.database, copy.database)
    copy.dbt(["run", "-s", "int_unit_metric_deltas", "--full-refresh"], strings)
    compiled = next((copy.base / "target").rglob("int_unit_metric_deltas.sql")).read_text()
    assert "unit_key" not in compiled and "partition by daily_changes.experiment_id, daily_changes.unit_id" in compiled
    pd.testing.assert_frame_equal(_unit_deltas(copy.database), _unit_deltas(full.database), check_exact=True)

    copy.sql("delete from raw.metric_events where cast(event_at as date) = date '2026-10-09' and unit_id = "
             "(select min(unit_id) from raw.metric_events where cast(event_at as date) = date '2026-10-09')")
    copy.dbt(["build"], strings)
    assert str(copy.query_df("select recompute_from from main.int_incremental_window").recompute_from[0])[:10] \
        == "2026-10-09"
    hashed = ScratchProject(tmp_path / "hashed", database=tmp_path / "hashed.duckdb")
    shutil.copy(copy.database, hashed.database)
    hashed.dbt(["build", "--full-refresh"], {"as_of_date": "2026-10-31"})
    compiled = next((hashed.base / "target").rglob("int_unit_metric_deltas.sql")).read_text()
    assert "partition by daily_changes.unit_key, daily_changes.metric_key" in compiled
    pd.testing.assert_frame_equal(_unit_deltas(copy.database), _unit_deltas(hashed.database), check_exact=True)
    _assert_same(_tables(copy.database), _tables(hashed.database))


def test_arm_unit_count_check_catches_a_lost_unit(incremental_and_full, tmp_path):
    """The singular dbt test arm_units_equal_exposed_units (units counted per exposure day, then
    summed up to each analysis date) passes on a built warehouse and fails once one analysed unit
    is missing from fct_exposures."""
    _, full, *_ = incremental_and_full
    copy = ScratchProject(tmp_path / "lost", database=tmp_path / "lost.duckdb")
    shutil.copy(full.database, copy.database)
    select = ["test", "-s", "arm_units_equal_exposed_units"]
    assert copy.dbt(select, {"as_of_date": "2026-10-31"}, check=False).returncode == 0
    copy.sql("delete from main.fct_exposures where experiment_id = 'chatbot_delivery_estimate' and unit_id = "
             "(select max(unit_id) from main.fct_exposures where experiment_id = 'chatbot_delivery_estimate' "
             "and exposure_date = date '2026-10-10')")
    failed = copy.dbt(select, {"as_of_date": "2026-10-31"}, check=False)
    assert failed.returncode != 0 and "FAIL" in failed.stdout and "arm_units_equal_exposed_units" in failed.stdout


# The tests below read the fixture's incremental warehouse as the incremental runs left it; they
# come before test_decision_history_is_kept..., which runs --full-refresh on it.

def test_exposure_unit_checks_scope_to_the_rebuilt_units(incremental_and_full, tmp_path):
    """exposure_units_well_formed (one scan for the fct_exposures row checks): after an incremental
    run it checks only the units the run rebuilt (int_exposure_units_changed), whose rows are the
    only ones the run rewrote; with test_changed_units_only false, or after a full refresh, every
    row. A duplicated unit and a null variant are caught."""
    incremental, *_ = incremental_and_full
    copy = ScratchProject(tmp_path / "checks", database=tmp_path / "checks.duckdb")
    shutil.copy(incremental.database, copy.database)
    vars_ = {"as_of_date": "2026-10-31"}
    every_row = {**vars_, "test_changed_units_only": False}
    select = ["test", "-s", "fct_exposures,test_name:exposure_units_well_formed"]
    assert str(copy.query_df("select recompute_from from main.int_incremental_window").recompute_from[0])[:10] \
        > "1900-01-01"
    assert copy.dbt(select, vars_, check=False).returncode == 0
    assert copy.dbt(select, every_row, check=False).returncode == 0
    # a unit the last run did not rebuild, duplicated: outside the incremental scope, caught by the full check
    unit, other = [row[0] for row in copy.sql(
        "select unit_id from main.fct_exposures where experiment_id = 'chatbot_delivery_estimate' "
        "and exposure_date = date '2026-10-06' order by unit_id limit 2")]
    copy.sql("insert into main.fct_exposures select * from main.fct_exposures "
             "where experiment_id = 'chatbot_delivery_estimate' and unit_id = ?", [unit])
    assert copy.dbt(select, vars_, check=False).returncode == 0
    failed = copy.dbt(select, every_row, check=False)
    assert failed.returncode != 0 and "exposure_units_well_formed" in failed.stdout and "Got 1 result" in failed.stdout
    # the same unit as if this run had rebuilt it: now in scope
    copy.sql("insert into main.int_exposure_units_changed (experiment_id, unit_id) "
             "values ('chatbot_delivery_estimate', ?)", [unit])
    failed = copy.dbt(select, vars_, check=False)
    assert failed.returncode != 0 and "Got 1 result" in failed.stdout
    # a rebuilt unit with a null variant, next to the duplicate
    copy.sql("insert into main.int_exposure_units_changed (experiment_id, unit_id) "
             "values ('chatbot_delivery_estimate', ?)", [other])
    copy.sql("update main.fct_exposures set variant_id = null "
             "where experiment_id = 'chatbot_delivery_estimate' and unit_id = ?", [other])
    failed = copy.dbt(select, vars_, check=False)
    assert failed.returncode != 0 and "Got 2 results" in failed.stdout


def test_models_rebuilt_over_reversed_event_days_equal_full_refresh(incremental_and_full, tmp_path):
    """The models that read int_unit_event_days, rebuilt with --full-refresh on their own while it
    still holds an excluded unit's rows and their sign -1 copies (left by the incremental runs):
    those rows net out, and every table equals a full refresh."""
    incremental, full, switcher, *_ = incremental_and_full
    copy = ScratchProject(tmp_path / "reversed", database=tmp_path / "reversed.duckdb")
    shutil.copy(incremental.database, copy.database)
    assert copy.query_df(
        f"select count(*) as n from main.int_unit_event_days where sign < 0 and unit_id = '{switcher}'").n[0] > 0
    copy.dbt(["build", "--full-refresh", "-s",
              "int_unit_metric_deltas+", "int_unit_events_unattributed+", "int_event_days_counted+"],
             {"as_of_date": "2026-10-31"})
    _assert_same(_tables(copy.database), _tables(full.database))
    assert copy.query_df("select count(*) as n from main.int_unit_metric_deltas where sign < 0").n[0] == 0


def test_reversed_unit_alone_in_its_slice_keeps_its_slice_key(incremental_and_full, tmp_path):
    """int_unit_metric_deltas stores a unit's slice as a 64-bit key that int_arm_slices_keyed maps
    back to the strings. A unit alone in its slice (city 'Atlantis'), analysed and then excluded
    by a late exposure row in the other arm, is cancelled by sign -1 copies carrying its old key,
    while its slice is gone from fct_exposures: the key must still map to its strings (else the
    arm sums would lose the variant, which the not_null test turns into a failed build), and
    every mart equals a full refresh over the same raw rows."""
    incremental, *_ = incremental_and_full
    copy = ScratchProject(tmp_path / "solo", database=tmp_path / "solo.duckdb")
    shutil.copy(incremental.database, copy.database)
    as_of = {"as_of_date": "2026-10-31"}
    copy.sql("insert into raw.exposures values ('chatbot_delivery_estimate', 'solo_unit', 'control', "
             "timestamp '2026-10-24 09:00:00', 'web', 'DE', 'Atlantis', false, false)")
    copy.sql("insert into raw.metric_events values ('solo_unit', 'order_completed', timestamp '2026-10-25 10:00:00', null)")
    copy.dbt(["build"], as_of)
    slice_rows = ("select sign, count(*) as n from main.int_unit_metric_deltas as deltas "
                  "inner join main.int_arm_slices_keyed as slices on deltas.arm_slice_key = slices.arm_slice_key "
                  "where slices.city = 'Atlantis' group by sign order by sign")
    analysed = copy.query_df(slice_rows)
    assert list(analysed.sign) == [1] and analysed.n[0] >= 1

    copy.sql("insert into raw.exposures values ('chatbot_delivery_estimate', 'solo_unit', 'treatment', "
             "timestamp '2026-10-27 09:00:00', 'web', 'DE', 'Atlantis', false, false)")
    copy.dbt(["build"], as_of)
    assert copy.query_df("select count(*) as n from main.fct_exposures where city = 'Atlantis'").n[0] == 0
    reversed_rows = copy.query_df(slice_rows)
    assert list(reversed_rows.sign) == [-1, 1] and list(reversed_rows.n) == [analysed.n[0]] * 2
    atlantis = copy.query_df("select count(*) as n, sum(sum_num) as sum_num from main.int_arm_metric_deltas "
                             "where city = 'Atlantis'")
    assert atlantis.n[0] >= 1 and atlantis.sum_num[0] == 0
    assert copy.query_df("select count(*) as n from main.int_arm_metric_deltas where variant_id is null").n[0] == 0

    refreshed = ScratchProject(tmp_path / "solo_full", database=tmp_path / "solo_full.duckdb")
    shutil.copy(copy.database, refreshed.database)
    refreshed.dbt(["build", "--full-refresh"], as_of)
    _assert_same(_tables(copy.database), _tables(refreshed.database))


def test_decision_history_is_kept_once_per_date_and_survives_full_refresh(incremental_and_full):
    incremental, _, _, history_before, *_ = incremental_and_full
    history = _tables(incremental.database, ["fct_decision_history"])["fct_decision_history"]
    keys = ["experiment_id", "analysis_date"]
    assert not history.duplicated(keys).any()
    decisions = incremental.query_df("select experiment_id, analysis_date from main.fct_decision_records")
    assert len(history) == len(decisions)
    # the 2026-10-12 run recorded its own date; the later runs did not rewrite it
    first = history[history.analysis_date == pd.Timestamp("2026-10-12")]
    assert len(first) > 0 and (first.recorded_as_of_date == pd.Timestamp("2026-10-12")).all()
    before = history_before.set_index(keys)
    after = history.set_index(keys)
    old = before.index[before.recorded_as_of_date < pd.Timestamp("2026-10-31")]
    pd.testing.assert_frame_equal(after.loc[old].sort_index(), before.loc[old].sort_index())

    incremental.dbt(["build", "--full-refresh"], {"as_of_date": "2026-10-31"})
    refreshed = _tables(incremental.database, ["fct_decision_history"])["fct_decision_history"].set_index(keys)
    assert len(refreshed) == len(after)
    pd.testing.assert_frame_equal(refreshed.loc[old].sort_index(), after.loc[old].sort_index())


def test_killed_run_is_repaired_by_the_next_run(incremental_and_full, tmp_path):
    incremental, full, *_ = incremental_and_full
    killed = ScratchProject(tmp_path / "killed")
    _generate(killed.database)
    killed.dbt(["build"], {"as_of_date": "2026-10-20"})
    statements, _ = _append_late_data(killed)
    for sql, params in statements:
        killed.sql(sql, params)
    process = subprocess.Popen(killed.command(["build"], {"as_of_date": "2026-10-31"}), env=killed.env(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=killed.dir)
    seen = []
    deadline = time.time() + 300
    for line in process.stdout:  # kill right after the incremental event scan committed
        seen.append(line)
        if "OK created sql incremental model main.int_unit_event_days" in line or time.time() > deadline:
            break
    process.kill()
    process.wait()
    assert any("int_unit_event_days" in line for line in seen), "".join(seen[-20:])
    killed.dbt(["build"], {"as_of_date": "2026-10-31"})
    _assert_same(_tables(killed.database), _tables(full.database))


def test_two_runs_at_once_get_a_clear_lock_error(incremental_and_full, tmp_path):
    incremental, *_ = incremental_and_full
    copy = tmp_path / "locked.duckdb"
    shutil.copy(incremental.database, copy)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); c.execute('begin transaction'); "
        "print('locked', flush=True); time.sleep(120)"), str(copy)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        second = ScratchProject(tmp_path / "second", database=copy)
        completed = second.dbt(["build"], {"as_of_date": "2026-10-31"}, check=False)
        assert completed.returncode != 0
        assert "Could not set lock on file" in completed.stdout + completed.stderr
    finally:
        holder.kill()
        holder.wait()
    # the file is intact: the other run's tables are all there and readable
    with duckdb.connect(str(copy), read_only=True) as connection:
        assert connection.execute("select count(*) from main.fct_decision_records").fetchone()[0] > 0

