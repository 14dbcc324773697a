"""The bad-input corpus: hand-written registries and raw rows, each case asserting its exact
outcome (issue: "Build a corpus of bad inputs as tests").

Every row-level problem lands in fct_quarantine with its source, reason and counts, the clean rows
reach fct_exposures / fct_arm_statistics with exact n and sums, degenerate experiments get result
rows with a status instead of a crash, and every registry problem stops the build with a message
naming the row. Scenarios (one dbt build each, see corpus_data.ScenarioRunner):

* ``typed``: raw tables with the exact schema.sql DDL (TIMESTAMP / DOUBLE columns): NULL / blank
  ids, unknown experiment / variant, duplicates, units in two arms, internal / bot traffic,
  window boundaries, events before exposure / after the window / in the future, NaN, +-inf,
  negative and large values, an experiment with zero exposures, a metric with no events.
* ``text``: every timestamp and the value as VARCHAR: timezone-shifted strings (offsets and Z are
  instants, converted to UTC), unparseable timestamps, non-numeric value strings.
* ``absurd_values``: event values too large for the exact decimal(38, 12) sums.
* ``registry_problems``: a registry with one problem per experiment / metric.
"""
from __future__ import annotations

import datetime as dt

import pytest

from .corpus_data import (
    Registry,
    experiment,
    experiment_metric,
    metric,
    quarantine_counts,
    registry_error_lines,
    scenario_runner,
    variant,
)

pytestmark = pytest.mark.integration

NAN, INF = float("nan"), float("inf")
FINAL = "2026-10-25"  # end_date of the typed experiments (as_of_date is 2026-10-31)


def ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def arm_stats(built, experiment_id, metric_id, analysis_date, dimension_name="overall", dimension_value="all"):
    """{variant_id: row dict} of fct_arm_statistics for one experiment, metric, slice and date."""
    frame = built.query_df(
        f"select * from main.fct_arm_statistics where experiment_id = '{experiment_id}' "
        f"and metric_id = '{metric_id}' and analysis_date = date '{analysis_date}' "
        f"and dimension_name = '{dimension_name}' and dimension_value = '{dimension_value}'"
    )
    return {row["variant_id"]: row for row in frame.to_dict("records")}


def n_and_sums(rows: dict) -> dict:
    return {v: (int(r["n_units"]), r["sum_num"], r["sum_num_sq"]) for v, r in rows.items()}


# =============================================================================================
# Scenario "typed": the schema.sql DDL
# =============================================================================================

def typed_registry() -> Registry:
    return Registry(
        experiments=[experiment("exp_a"), experiment("exp_empty")],
        variants=[
            variant("exp_a", "control", True), variant("exp_a", "treatment", False),
            variant("exp_empty", "control", True), variant("exp_empty", "treatment", False),
        ],
        metrics=[
            metric("revenue", "sum", "purchase"),
            metric("clicks", "count", "click"),
            metric("signup_rate", "conversion", "signup"),  # no signup event exists at all
        ],
        experiment_metrics=[
            experiment_metric("exp_a", "revenue", "primary"),
            experiment_metric("exp_a", "clicks", "secondary"),
            experiment_metric("exp_a", "signup_rate", "secondary"),
            experiment_metric("exp_empty", "revenue", "primary"),
        ],
        experiment_dimensions=[{"experiment_id": "exp_a", "dimension_name": "platform"}],
    )


def _x(experiment_id, unit_id, variant_id, exposed_at, platform="ios", country="DE", city="Berlin",
       is_internal=None, is_bot=None):
    return (experiment_id, unit_id, variant_id, exposed_at, platform, country, city, is_internal, is_bot)


TYPED_EXPOSURES = [
    # ---- kept units -------------------------------------------------------------------------
    _x("exp_a", "u01", "control", ts("2026-10-02 10:00:00"), "ios", is_internal=False, is_bot=False),
    _x("exp_a", "u01", "control", ts("2026-10-03 08:00:00"), "android"),      # repeat: collapsed
    _x("exp_a", "u02", "control", ts("2026-10-02 11:00:00"), "android", None, None),
    _x("exp_a", " u02 ", "control", ts("2026-10-02 11:00:00"), "web"),        # same unit after trim,
    #                                                    same instant: tie -> smallest platform
    _x("exp_a", "u03", "control", ts("2026-10-01 00:00:00")),                 # first instant of start_date
    _x(" exp_a ", "u03", " control ", ts("2026-10-04 00:00:00"), "web"),      # ids trimmed: a repeat
    _x("exp_a", "u11", "treatment", ts("2026-10-03 09:00:00")),
    _x("exp_a", "u11", "treatment_9", ts("2026-10-03 09:30:00")),             # unknown_variant (unit kept)
    _x("exp_a", "u12", "treatment", ts("2026-10-04 12:00:00"), "web"),
    _x("exp_a", "u13", "treatment", ts("2026-10-25 23:59:59.999999")),        # last instant of end_date
    _x("exp_a", "u14", "treatment", ts("2026-10-05 08:00:00"), "android"),
    # ---- row-level quarantine -------------------------------------------------------------------
    _x("exp_a", None, "control", ts("2026-10-02 10:00:00")),                  # missing_unit_id
    _x("exp_a", "", "control", ts("2026-10-02 10:00:00")),                    # missing_unit_id
    _x("exp_a", "   ", "treatment", ts("2026-10-02 10:00:00")),               # missing_unit_id
    _x("exp_nope", "u90", "control", ts("2026-10-02 10:00:00")),              # unknown_experiment
    _x(None, "u91", "control", ts("2026-10-02 10:00:00")),                    # unknown_experiment, (missing)
    _x("EXP_A", "u92", "control", ts("2026-10-02 10:00:00")),                 # case-sensitive: unknown
    _x("exp_a", "u93", None, ts("2026-10-02 10:00:00")),                      # unknown_variant (null)
    _x("exp_a", "u94", "Control", ts("2026-10-02 10:00:00")),                 # unknown_variant (case)
    _x("exp_a", "u95", "control", None),                                      # missing_exposed_at
    _x("exp_a", "u96", "control", ts("2026-11-01 00:00:00")),                 # exposed_after_as_of_date
    _x("exp_a", "u97", "treatment", ts("2027-01-01 00:00:00")),               # exposed_after_as_of_date
    _x("exp_a", "u98", "control", ts("2026-09-30 23:59:59.999999")),          # before start_date
    _x("exp_a", "u99", "treatment", ts("2026-10-26 00:00:00")),               # after end_date
    # ---- unit-level quarantine ------------------------------------------------------------------
    _x("exp_a", "u20", "control", ts("2026-10-06 10:00:00"), is_internal=True),
    _x("exp_a", "u20", "control", ts("2026-10-06 11:00:00")),                 # internal: all its rows
    _x("exp_a", "u21", "treatment", ts("2026-10-06 10:00:00"), is_bot=True),  # bot_traffic
    _x("exp_a", "u22", "treatment", ts("2026-10-06 10:00:00"), is_internal=True, is_bot=True),  # internal wins
    _x("exp_a", "u23", "control", ts("2026-10-07 10:00:00")),                 # multiple_variants
    _x("exp_a", "u23", "treatment", ts("2026-10-07 10:05:00")),
    _x("exp_a", "u24", "control", ts("2026-10-07 10:00:00")),                 # multiple_variants (3 rows)
    _x("exp_a", "u24", "control", ts("2026-10-08 10:00:00")),
    _x("exp_a", "u24", "treatment", ts("2026-10-09 10:00:00")),
    # ---- row-level problems come first: these units stay analysed ------------------------------
    _x("exp_a", "u26", "treatment", ts("2026-10-08 09:00:00")),
    _x("exp_a", "u26", "control", ts("2026-10-26 09:00:00")),                 # outside window, not 2 arms
    _x("exp_a", "u27", "control", ts("2026-10-08 10:00:00"), "web"),
    _x("exp_a", "u27", "control", None, is_internal=True),                    # missing_exposed_at wins
]


def _e(unit_id, event_name, event_at, value=None):
    return (unit_id, event_name, event_at, value)


TYPED_EVENTS = [
    # ---- revenue (sum of purchase values, 7-day window) -------------------------------------
    _e("u01", "purchase", ts("2026-10-02 12:00:00"), 10.0),
    _e("u01", "purchase", ts("2026-10-03 12:00:00"), -4.0),                   # negative: summed
    _e("u01", "purchase", ts("2026-10-09 09:59:59.999999"), 1.0),             # last instant of window
    _e("u01", "purchase", ts("2026-10-09 10:00:00"), 100.0),                  # after window (info)
    _e("u02", "purchase", ts("2026-10-02 10:30:00"), 50.0),                   # 30 min before exposure (info)
    _e("u02", "purchase", ts("2026-10-01 10:59:59"), 70.0),                   # > 24 h before: ignored
    _e("u02", "purchase", ts("2026-10-04 09:00:00"), 2.5),
    _e("u02", "purchase", ts("2026-10-05 09:00:00"), None),                   # null value: valid, not summed
    _e("u03", "purchase", ts("2026-10-02 00:00:00"), NAN),                    # invalid_value
    _e("u11", "purchase", ts("2026-10-03 10:00:00"), 1e12),                   # large, inside the exact range
    _e("u11", "purchase", ts("2026-10-04 10:00:00"), 0.25),
    _e("u12", "purchase", ts("2026-10-04 13:00:00"), INF),                    # invalid_value
    _e("u12", "purchase", ts("2026-10-04 14:00:00"), -INF),                   # invalid_value
    _e("u12", "purchase", ts("2026-10-05 14:00:00"), 5.25),
    _e("u13", "purchase", ts("2026-10-26 01:00:00"), 3.0),                    # in window, after the final date
    _e("u14", "purchase", ts("2026-11-01 00:00:00"), 8.0),                    # event_after_as_of_date
    _e("u14", "purchase", ts("2099-12-31 23:59:59"), 8.0),                    # event_after_as_of_date
    _e("u14", "purchase", ts("2026-10-31 23:59:59.999999"), 9.0),             # valid, after window (info)
    _e("u26", "purchase", ts("2026-10-08 09:00:00"), -1.5),                   # exactly at first exposure
    _e("u26", "purchase", ts("2026-10-08 08:59:59"), 1000.0),                 # 1 s before exposure (info)
    _e("u27", "purchase", ts("2026-10-08 11:00:00"), 0.0),
    _e("u20", "purchase", ts("2026-10-06 12:00:00"), 7.0),                    # excluded unit: not analysed
    _e("u_never", "purchase", ts("2026-10-06 12:00:00"), 7.0),                # never exposed: ignored
    _e("u01", "unknown_event", ts("2026-10-02 12:00:00"), 7.0),              # no metric uses it: ignored
    # ---- clicks (count, 7-day window) ----------------------------------------------------------
    _e("u01", "click", ts("2026-10-02 10:00:00")),                            # 3 identical rows: 3 clicks
    _e("u01", "click", ts("2026-10-02 10:00:00")),
    _e("u01", "click", ts("2026-10-02 10:00:00")),
    _e("u01", "click", ts("2026-10-02 10:05:00"), NAN),                       # invalid_value (not counted)
    _e("u11", "click", ts("2026-10-03 09:00:00"), 2.0),                       # value ignored by count
    _e("u12", "click", ts("2026-10-04 12:30:00"), -7.0),
    _e("u13", "click", ts("2026-10-26 00:00:00")),                            # after the final date
    # ---- row-level quarantine of events ---------------------------------------------------------
    _e(None, "purchase", ts("2026-10-03 10:00:00"), 1.0),                     # missing_unit_id
    _e("  ", "click", ts("2026-10-03 10:00:00")),                             # missing_unit_id
    _e(None, None, None, NAN),                                                # missing_unit_id wins
    _e("u01", None, ts("2026-10-03 10:00:00"), 1.0),                          # missing_event_name
    _e("u01", " ", ts("2026-10-03 10:00:00"), 1.0),                           # missing_event_name
    _e("u01", "purchase", None, 1.0),                                         # missing_event_at
    _e("u02", "purchase", ts("2026-11-02 00:00:00"), NAN),                    # future wins over NaN
]

TYPED_QUARANTINE = {
    # (source_table, experiment_id, reason): (is_exclusion, n_rows, n_units)
    ("exposures", "exp_a", "missing_unit_id"): (True, 3, 0),
    ("exposures", "exp_nope", "unknown_experiment"): (True, 1, 1),
    ("exposures", "(missing)", "unknown_experiment"): (True, 1, 1),
    ("exposures", "EXP_A", "unknown_experiment"): (True, 1, 1),
    ("exposures", "exp_a", "unknown_variant"): (True, 3, 3),
    ("exposures", "exp_a", "missing_exposed_at"): (True, 2, 2),
    ("exposures", "exp_a", "exposed_after_as_of_date"): (True, 2, 2),
    ("exposures", "exp_a", "exposed_outside_experiment_window"): (True, 3, 3),
    ("exposures", "exp_a", "internal_traffic"): (True, 3, 2),
    ("exposures", "exp_a", "bot_traffic"): (True, 1, 1),
    ("exposures", "exp_a", "multiple_variants"): (True, 5, 2),
    ("exposures", "exp_a", "repeat_exposure_collapsed"): (False, 3, 0),
    ("metric_events", None, "missing_unit_id"): (True, 3, 0),
    ("metric_events", None, "missing_event_name"): (True, 2, 1),
    ("metric_events", None, "missing_event_at"): (True, 1, 1),
    ("metric_events", None, "event_after_as_of_date"): (True, 3, 2),
    ("metric_events", None, "invalid_value"): (True, 4, 3),
    ("metric_events", "exp_a", "event_after_attribution_window"): (False, 2, 2),
    ("metric_events", "exp_a", "event_before_exposure"): (False, 2, 2),
}

TYPED_KEPT_UNITS = {
    # unit: (variant, first_exposed_at, exposure_date, platform, country, city, n_exposure_rows)
    "u01": ("control", ts("2026-10-02 10:00:00"), dt.date(2026, 10, 2), "ios", "DE", "Berlin", 2),
    "u02": ("control", ts("2026-10-02 11:00:00"), dt.date(2026, 10, 2), "android", "(unknown)", "(unknown)", 2),
    "u03": ("control", ts("2026-10-01 00:00:00"), dt.date(2026, 10, 1), "ios", "DE", "Berlin", 2),
    "u27": ("control", ts("2026-10-08 10:00:00"), dt.date(2026, 10, 8), "web", "DE", "Berlin", 1),
    "u11": ("treatment", ts("2026-10-03 09:00:00"), dt.date(2026, 10, 3), "ios", "DE", "Berlin", 1),
    "u12": ("treatment", ts("2026-10-04 12:00:00"), dt.date(2026, 10, 4), "web", "DE", "Berlin", 1),
    "u13": ("treatment", ts("2026-10-25 23:59:59.999999"), dt.date(2026, 10, 25), "ios", "DE", "Berlin", 1),
    "u14": ("treatment", ts("2026-10-05 08:00:00"), dt.date(2026, 10, 5), "android", "DE", "Berlin", 1),
    "u26": ("treatment", ts("2026-10-08 09:00:00"), dt.date(2026, 10, 8), "ios", "DE", "Berlin", 1),
}


@pytest.fixture(scope="module")
def typed(tmp_path_factory):
    built = scenario_runner(tmp_path_factory).build("typed", typed_registry(), TYPED_EXPOSURES, TYPED_EVENTS)
    built.assert_succeeded()
    return built


def test_typed_every_bad_row_is_quarantined_with_its_reason_and_counts(typed):
    assert quarantine_counts(typed) == TYPED_QUARANTINE


def test_typed_kept_units_are_exactly_the_clean_ones(typed):
    rows = typed.sql(
        "select unit_id, variant_id, first_exposed_at, exposure_date, platform, country, city, n_exposure_rows "
        "from main.fct_exposures where experiment_id = 'exp_a'"
    )
    assert {row[0]: tuple(row[1:]) for row in rows} == TYPED_KEPT_UNITS
    assert typed.sql("select count(*) from main.fct_exposures where experiment_id <> 'exp_a'") == [(0,)]


def test_typed_every_raw_exposure_row_is_accounted_for(typed):
    (raw_rows,), = typed.sql("select count(*) from raw.exposures")
    (kept_rows,), = typed.sql("select sum(n_exposure_rows) from main.fct_exposures")
    (excluded_rows,), = typed.sql(
        "select sum(n_rows) from main.fct_quarantine where source_table = 'exposures' and is_exclusion")
    assert (raw_rows, kept_rows, excluded_rows) == (len(TYPED_EXPOSURES), 12, 25)
    assert raw_rows == kept_rows + excluded_rows


def test_typed_revenue_sums_negative_and_large_values_exactly(typed):
    # control: u01 10 - 4 + 1 (last instant of the window) = 7, u02 2.5 (null value ignored),
    # u03 0 (its only purchase is NaN), u27 0; treatment: u11 1e12 + 0.25, u12 5.25 (+-inf
    # dropped), u13 0 (its purchase is after the final analysis date), u14 0, u26 -1.5.
    stats = n_and_sums(arm_stats(typed, "exp_a", "revenue", FINAL))
    assert stats["control"] == (4, 9.5, 55.25)
    n, sum_num, sum_num_sq = stats["treatment"]
    assert (n, sum_num) == (5, 1e12 + 4.0)
    assert sum_num_sq == pytest.approx((1e12 + 0.25) ** 2 + 5.25 ** 2 + 1.5 ** 2, rel=1e-15)


def test_typed_revenue_by_analysis_date(typed):
    # units count from their exposure date, events from their (UTC) day
    big_sq = pytest.approx((1e12 + 0.25) ** 2 + 5.25 ** 2 + 1.5 ** 2, rel=1e-15)
    by_date = {
        "2026-10-01": {"control": (1, 0.0, 0.0), "treatment": (0, 0.0, 0.0)},
        "2026-10-02": {"control": (3, 10.0, 100.0), "treatment": (0, 0.0, 0.0)},
        "2026-10-03": {"control": (3, 6.0, 36.0), "treatment": (1, 1e12, pytest.approx(1e24, rel=1e-15))},
        "2026-10-08": {"control": (4, 8.5, 42.25), "treatment": (4, 1e12 + 4.0, big_sq)},
        "2026-10-09": {"control": (4, 9.5, 55.25), "treatment": (4, 1e12 + 4.0, big_sq)},
        "2026-10-24": {"control": (4, 9.5, 55.25), "treatment": (4, 1e12 + 4.0, big_sq)},
    }
    for analysis_date, expected in by_date.items():
        assert n_and_sums(arm_stats(typed, "exp_a", "revenue", analysis_date)) == expected, analysis_date


def test_typed_revenue_by_platform_slice(typed):
    stats = n_and_sums(arm_stats(typed, "exp_a", "revenue", FINAL, "platform", "ios"))
    assert stats["control"] == (2, 7.0, 49.0)  # u01, u03
    assert stats["treatment"][:2] == (3, 1e12 + 0.25 - 1.5)  # u11, u13, u26
    assert n_and_sums(arm_stats(typed, "exp_a", "revenue", FINAL, "platform", "web")) == {
        "control": (1, 0.0, 0.0), "treatment": (1, 5.25, 27.5625)}
    assert n_and_sums(arm_stats(typed, "exp_a", "revenue", FINAL, "platform", "android")) == {
        "control": (1, 2.5, 6.25), "treatment": (1, 0.0, 0.0)}
    platforms = typed.sql(
        "select distinct dimension_value from main.fct_arm_statistics where experiment_id = 'exp_a' "
        "and dimension_name = 'platform' order by 1")
    assert platforms == [("android",), ("ios",), ("web",)]


def test_typed_counts_duplicate_events_and_ignores_values_of_count_events(typed):
    # u01: three identical click rows (its NaN click is quarantined); u11, u12: one each
    assert n_and_sums(arm_stats(typed, "exp_a", "clicks", FINAL)) == {
        "control": (4, 3.0, 9.0), "treatment": (5, 2.0, 2.0)}


def test_typed_metric_without_any_event_gives_zero_sums_and_a_status(typed):
    assert n_and_sums(arm_stats(typed, "exp_a", "signup_rate", FINAL)) == {
        "control": (4, 0.0, 0.0), "treatment": (5, 0.0, 0.0)}
    rows = typed.sql(
        "select n_control, n_treatment, mean_control, mean_treatment, status, status_reason "
        "from main.fct_experiment_results where experiment_id = 'exp_a' and metric_id = 'signup_rate' "
        f"and dimension_name = 'overall' and analysis_date = date '{FINAL}'")
    assert len(rows) == 1
    n_control, n_treatment, mean_control, mean_treatment, status, status_reason = rows[0]
    assert (n_control, n_treatment, mean_control, mean_treatment) == (4, 5, 0.0, 0.0)
    assert status == "insufficient_data"
    assert status_reason.split("; ")[0] == "zero_variance", status_reason


def test_typed_experiment_with_zero_exposures_gets_rows_with_a_status(typed):
    stats = typed.sql(
        "select count(*), sum(n_units), count(distinct analysis_date) from main.fct_arm_statistics "
        "where experiment_id = 'exp_empty'")
    assert stats == [(2 * 25, 0, 25)]  # 2 arms x 25 analysis dates, overall slice only
    results = typed.sql(
        "select analysis_date, n_control, n_treatment, status, status_reason from main.fct_experiment_results "
        "where experiment_id = 'exp_empty' order by analysis_date")
    assert len(results) == 25
    assert {(r[1], r[2], r[3]) for r in results} == {(0, 0, "insufficient_data")}
    assert all("n_control_below_minimum" in r[4] and "n_treatment_below_minimum" in r[4] for r in results)
    srm = typed.sql(
        "select n_units_total, observed_units, chi_square, srm_p_value, is_srm from main.fct_srm_checks "
        f"where experiment_id = 'exp_empty' and dimension_name = 'overall' and analysis_date = date '{FINAL}'")
    assert srm == [(0, "control=0, treatment=0", None, None, False)]
    decisions = typed.sql(
        "select analysis_date, is_final_analysis, decision, decision_reasons from main.fct_decision_records "
        "where experiment_id = 'exp_empty' order by analysis_date")
    assert len(decisions) == 25
    assert {d[2] for d in decisions[:-1]} == {"keep_running"}
    assert decisions[-1][1] is True and decisions[-1][2] == "rerun"
    assert "SRM check unavailable" in decisions[-1][3]
    assert "insufficient data at the final analysis (n_control_below_minimum; n_treatment_below_minimum)" \
        in decisions[-1][3]


def test_typed_results_and_decisions_exist_for_every_metric_and_date(typed):
    # no crash in the Python step: one result per experiment x metric x slice x date
    counts = dict(typed.sql(
        "select experiment_id || '/' || metric_id, count(*) from main.fct_experiment_results group by 1"))
    # exp_a: 25 dates x (overall + platform values seen); slices exist from the first date
    assert counts == {"exp_a/revenue": 25 * 4, "exp_a/clicks": 25 * 4, "exp_a/signup_rate": 25 * 4,
                      "exp_empty/revenue": 25}
    final = typed.sql(
        "select status, status_reason from main.fct_experiment_results where experiment_id = 'exp_a' "
        f"and metric_id = 'revenue' and dimension_name = 'overall' and analysis_date = date '{FINAL}'")
    assert final[0][0] == "ok", final
    assert typed.sql("select count(*) from main.fct_decision_records where experiment_id = 'exp_a'") == [(25,)]


# =============================================================================================
# Scenario "text": timestamps and values as VARCHAR
# =============================================================================================

def text_registry() -> Registry:
    return Registry(
        experiments=[experiment("exp_tz", "2026-10-01", "2026-10-31")],
        variants=[variant("exp_tz", "control", True), variant("exp_tz", "treatment", False)],
        metrics=[metric("revenue", "sum", "purchase"), metric("clicks", "count", "click")],
        experiment_metrics=[
            experiment_metric("exp_tz", "revenue", "primary"),
            experiment_metric("exp_tz", "clicks", "secondary"),
        ],
    )


def _t(unit_id, variant_id, exposed_at, is_internal=None):
    return ("exp_tz", unit_id, variant_id, exposed_at, "ios", "DE", "Berlin", is_internal, None)


TEXT_EXPOSURES = [
    _t("t01", "control", "2026-10-05 01:30:00+02:00"),          # 2026-10-04 23:30 UTC
    _t("t02", "control", "2026-10-04T22:00:00Z"),               # 2026-10-04 22:00 UTC
    _t("t03", "treatment", "2026-10-04 20:00:00-05:00"),        # 2026-10-05 01:00 UTC
    _t("t04", "treatment", " 2026-10-04 12:00:00 "),            # naive text is UTC (trimmed)
    _t("t05", "treatment", "2026-10-04 12:00:00.123456+0530"),  # 2026-10-04 06:30:00.123456 UTC
    _t("t06", "control", "not a timestamp"),                    # invalid_exposed_at
    _t("t06", "control", "2026-10-05 25:00:00"),                # invalid_exposed_at (hour 25)
    _t("t07", "control", "2026-10-01 01:00:00+02:00"),          # 2026-09-30 23:00 UTC: before start
    _t("t08", "treatment", "2026-11-01 00:30:00+01:00"),        # 2026-10-31 23:30 UTC: kept
    _t("t09", "control", "2026-11-01 00:00:00"),                # exposed_after_as_of_date
    _t("t10", "control", "2026-10-31 23:00:00-01:00"),          # 2026-11-01 00:00 UTC: future
    _t("t11", "control", None),                                 # missing_exposed_at
    _t("t12", "control", ""),                                   # blank text: invalid_exposed_at
]

TEXT_EVENTS = [
    _e("t01", "purchase", "2026-10-05 01:30:00+02:00", "12.5"),    # = t01's first exposure, day 10-04
    _e("t02", "purchase", "2026-10-04 23:30:00-01:00", " 7 "),     # 2026-10-05 00:30 UTC, trimmed value
    _e("t02", "purchase", "2026-10-04T21:59:59Z", "100"),          # 1 s before exposure (info)
    _e("t03", "purchase", "2026-10-05 02:00:00+01:00", "-3"),      # = t03's first exposure
    _e("t03", "purchase", "2026-10-06 10:00:00", "abc"),           # invalid_value
    _e("t03", "purchase", "2026-10-06 10:00:00", "1,5"),           # invalid_value
    _e("t04", "purchase", "2026-10-06 10:00:00", "NaN"),           # invalid_value
    _e("t04", "purchase", "2026-10-06 10:00:00", "Infinity"),      # invalid_value
    _e("t04", "purchase", "2026-10-06 10:00:00", "-inf"),          # invalid_value
    _e("t04", "purchase", "2026-10-06 10:00:00", "1e400"),         # overflows to inf: invalid_value
    _e("t04", "purchase", "2026-10-06 10:00:00", "12 EUR"),        # invalid_value
    _e("t04", "purchase", "2026-10-06 11:00:00", "1e3"),
    _e("t04", "purchase", "2026-10-06 12:00:00", "+0.5"),
    _e("t04", "click", "2026-10-06 12:00:00", None),
    _e("t05", "click", "2026-10-04 12:00:00+05:30", None),         # 0.123456 s before exposure (info)
    _e("t05", "click", "2026-10-04 12:00:01+05:30", None),
    _e("t08", "purchase", "2026-11-01 00:45:00+01:00", "4"),       # 2026-10-31 23:45 UTC: counted
    _e("t08", "purchase", "2026-11-01 01:00:00+01:00", "5"),       # 2026-11-01 00:00 UTC: future
    _e("t01", "purchase", "yesterday", "1"),                       # invalid_event_at
    _e("t01", "purchase", "2026-10-05 25:00:00", "1"),             # invalid_event_at
    _e("t01", "purchase", None, "1"),                              # missing_event_at
    _e("t01", "purchase", "   ", "1"),                             # blank text: invalid_event_at
    # blank value text is a present, unparseable value (as in tests/reference_pipeline.py)
    _e("t04", "click", "2026-10-06 13:00:00", ""),                 # invalid_value: not counted
    _e("t04", "click", "2026-10-06 13:00:00", "   "),              # invalid_value: not counted
]

TEXT_QUARANTINE = {
    ("exposures", "exp_tz", "invalid_exposed_at"): (True, 3, 2),
    ("exposures", "exp_tz", "missing_exposed_at"): (True, 1, 1),
    ("exposures", "exp_tz", "exposed_outside_experiment_window"): (True, 1, 1),
    ("exposures", "exp_tz", "exposed_after_as_of_date"): (True, 2, 2),
    ("metric_events", None, "invalid_value"): (True, 9, 2),
    ("metric_events", None, "invalid_event_at"): (True, 3, 1),
    ("metric_events", None, "missing_event_at"): (True, 1, 1),
    ("metric_events", None, "event_after_as_of_date"): (True, 1, 1),
    ("metric_events", "exp_tz", "event_before_exposure"): (False, 2, 2),
}


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    built = scenario_runner(tmp_path_factory).build(
        "text", text_registry(), TEXT_EXPOSURES, TEXT_EVENTS,
        exposed_at_type="varchar", event_at_type="varchar", value_type="varchar",
    )
    built.assert_succeeded()
    return built


def test_text_columns_are_detected_as_varchar(text):
    types = dict(text.sql(
        "select table_name || '.' || column_name, data_type from information_schema.columns "
        "where table_schema = 'raw' and column_name in ('exposed_at', 'event_at', 'value')"))
    assert types == {"exposures.exposed_at": "VARCHAR", "metric_events.event_at": "VARCHAR",
                     "metric_events.value": "VARCHAR"}


def test_text_columns_are_parsed_with_try_cast(text):
    # the adapter.dispatch macros try_cast_double / utc_timestamp, chosen by the detected type
    events = " ".join(text.compiled_sql("stg_raw__metric_events").split())
    assert "try_cast(trim(cast(source_rows.value as varchar)) as double)" in events
    assert "try_cast(trim(cast(source_rows.event_at as varchar)) as timestamptz)" in events
    exposures = " ".join(text.compiled_sql("stg_raw__exposures").split())
    assert "try_cast(trim(cast(source_rows.exposed_at as varchar)) as timestamptz)" in exposures


def test_text_timezone_shifted_exposures_are_converted_to_utc(text):
    rows = text.sql("select unit_id, variant_id, first_exposed_at, exposure_date from main.fct_exposures")
    assert {r[0]: tuple(r[1:]) for r in rows} == {
        "t01": ("control", ts("2026-10-04 23:30:00"), dt.date(2026, 10, 4)),
        "t02": ("control", ts("2026-10-04 22:00:00"), dt.date(2026, 10, 4)),
        "t03": ("treatment", ts("2026-10-05 01:00:00"), dt.date(2026, 10, 5)),
        "t04": ("treatment", ts("2026-10-04 12:00:00"), dt.date(2026, 10, 4)),
        "t05": ("treatment", ts("2026-10-04 06:30:00.123456"), dt.date(2026, 10, 4)),
        "t08": ("treatment", ts("2026-10-31 23:30:00"), dt.date(2026, 10, 31)),
    }


def test_text_bad_timestamps_and_values_are_quarantined(text):
    assert quarantine_counts(text) == TEXT_QUARANTINE


def test_text_timezone_shifted_event_is_counted_on_its_utc_day(text):
    # '2026-10-05 01:30:00+02:00' is 2026-10-04 23:30 UTC: in the 2026-10-04 analysis
    assert n_and_sums(arm_stats(text, "exp_tz", "revenue", "2026-10-04")) == {
        "control": (2, 12.5, 156.25), "treatment": (2, 0.0, 0.0)}
    # '2026-10-04 23:30:00-01:00' is 2026-10-05 00:30 UTC: not before the 2026-10-05 analysis
    assert n_and_sums(arm_stats(text, "exp_tz", "revenue", "2026-10-05")) == {
        "control": (2, 19.5, 12.5 ** 2 + 49.0), "treatment": (3, -3.0, 9.0)}


def test_text_parsed_values_are_summed_exactly(text):
    # treatment: t03 -3, t04 1e3 + 0.5, t05 0, t08 4 (its 2026-11-01 01:00+01:00 purchase is in the future)
    assert n_and_sums(arm_stats(text, "exp_tz", "revenue", "2026-10-31")) == {
        "control": (2, 19.5, 205.25), "treatment": (4, 1001.5, 9.0 + 1000.5 ** 2 + 16.0)}
    assert n_and_sums(arm_stats(text, "exp_tz", "clicks", "2026-10-31")) == {
        "control": (2, 0.0, 0.0), "treatment": (4, 2.0, 2.0)}  # t04 1, t05 1 (its first click is early)


def test_text_results_have_a_row_per_date(text):
    assert text.sql(
        "select count(*), count(distinct analysis_date) from main.fct_experiment_results "
        "where metric_id = 'revenue' and dimension_name = 'overall'") == [(31, 31)]
    assert text.sql("select count(*) from main.fct_decision_records") == [(31,)]


# =============================================================================================
# Scenario "absurd_values": values beyond what the exact decimal(38, 12) sums can hold
# =============================================================================================

ABSURD_EXPOSURES = [
    _x("exp_a", "u01", "control", ts("2026-10-02 10:00:00")),
    _x("exp_a", "u02", "control", ts("2026-10-02 10:00:00")),
    _x("exp_a", "u11", "treatment", ts("2026-10-02 10:00:00")),
    _x("exp_a", "u12", "treatment", ts("2026-10-02 10:00:00")),
]
ABSURD_EVENTS = [
    _e("u01", "purchase", ts("2026-10-02 12:00:00"), 10.0),
    _e("u02", "purchase", ts("2026-10-02 12:00:00"), 1e15),     # >= 1e13: its square would not fit
    _e("u11", "purchase", ts("2026-10-02 12:00:00"), 1e30),     # beyond the exact range
    _e("u12", "purchase", ts("2026-10-02 12:00:00"), -1e30),
    _e("u12", "purchase", ts("2026-10-02 13:00:00"), 2.0),
]


@pytest.fixture(scope="module")
def absurd(tmp_path_factory):
    registry = typed_registry()
    registry.experiments = registry.experiments[:1]
    registry.variants = registry.variants[:2]
    registry.experiment_metrics = registry.experiment_metrics[:1]
    registry.metrics = registry.metrics[:1]
    return scenario_runner(tmp_path_factory).build("absurd_values", registry, ABSURD_EXPOSURES, ABSURD_EVENTS)


def test_absurdly_large_values_do_not_crash_the_build(absurd):
    absurd.assert_succeeded()


def test_values_beyond_the_exact_range_are_quarantined(absurd):
    # docs/semantics.md "Exactness": |value| >= 1e13 is quarantined as value_out_of_range (a
    # unit's square must fit the exact decimal(38, 12) sums)
    absurd.assert_succeeded()
    quarantine = quarantine_counts(absurd)
    assert quarantine[("metric_events", None, "value_out_of_range")] == (True, 3, 3)
    stats = n_and_sums(arm_stats(absurd, "exp_a", "revenue", FINAL))
    assert stats["treatment"][:2] == (2, 2.0)


def test_the_rest_of_the_unit_is_still_analysed(absurd):
    absurd.assert_succeeded()
    n, sum_num, sum_num_sq = n_and_sums(arm_stats(absurd, "exp_a", "revenue", FINAL))["control"]
    assert (n, sum_num, sum_num_sq) == (2, 10.0, 100.0)


# =============================================================================================
# Scenario "registry_problems": each problem fails the build with a line naming its row
# =============================================================================================

def problem_registry() -> Registry:
    experiments = ["exp_ok", "exp_weights", "exp_unknown_metric", "exp_ratio", "exp_no_control",
                   "exp_one_arm", "exp_two_controls", "exp_no_primary"]
    variants = [
        variant("exp_ok", "control", True), variant("exp_ok", "treatment", False),
        variant("exp_weights", "control", True, 0.5), variant("exp_weights", "treatment", False, 0.4),
        variant("exp_unknown_metric", "control", True), variant("exp_unknown_metric", "treatment", False),
        variant("exp_ratio", "control", True), variant("exp_ratio", "treatment", False),
        variant("exp_no_control", "a", False), variant("exp_no_control", "b", False),
        variant("exp_one_arm", "control", True, 1),
        variant("exp_two_controls", "control", True), variant("exp_two_controls", "control_2", True),
        variant("exp_no_primary", "control", True), variant("exp_no_primary", "treatment", False),
    ]
    metrics = [
        metric("revenue", "sum", "purchase"),
        metric("clicks", "count", "click"),
        metric("revenue_per_click", "ratio", "", numerator_metric_id="missing_numerator",
               denominator_metric_id="clicks"),
    ]
    experiment_metrics = [experiment_metric(e, "revenue", "primary") for e in experiments if e != "exp_no_primary"]
    experiment_metrics += [
        experiment_metric("exp_unknown_metric", "ghost_metric", "secondary"),
        experiment_metric("exp_ratio", "revenue_per_click", "secondary"),
        experiment_metric("exp_no_primary", "revenue", "secondary"),
    ]
    return Registry(
        experiments=[experiment(e) for e in experiments], variants=variants, metrics=metrics,
        experiment_metrics=experiment_metrics,
    )


REGISTRY_PROBLEM_LINES = {
    "weights_not_summing_to_1":
        "variants (experiment_id=exp_weights): traffic weights sum to 0.9, not 1",
    "unknown_metric_reference":
        "experiment_metrics (experiment_id=exp_unknown_metric, metric_id=ghost_metric): unknown metric_id",
    "ratio_with_unknown_numerator":
        "metrics (metric_id=revenue_per_click): ratio metric needs known numerator_metric_id and "
        "denominator_metric_id (non-ratio metrics)",
    "no_control":
        "variants (experiment_id=exp_no_control): has 0 control variants, needs exactly 1",
    "one_arm":
        "variants (experiment_id=exp_one_arm): has 1 variant(s); an experiment needs a control and at "
        "least one treatment",
    "two_controls":
        "variants (experiment_id=exp_two_controls): has 2 control variants, needs exactly 1",
    "no_primary_metric":
        "experiment_metrics (experiment_id=exp_no_primary): has 0 primary metrics, needs exactly 1",
}


@pytest.fixture(scope="module")
def registry_problems(tmp_path_factory):
    exposures = [_x("exp_ok", "u01", "control", ts("2026-10-02 10:00:00"))]
    return scenario_runner(tmp_path_factory).build("registry_problems", problem_registry(), exposures, [])


def test_registry_problems_fail_the_build(registry_problems):
    assert registry_problems.returncode != 0
    assert "Failure in model int_registry_problems" in registry_problems.output


def test_registry_problems_stop_the_build_before_any_fact_model(registry_problems):
    # int_registry_problems: "The build stops here ... before any fact model runs". Nothing may be
    # built from an invalid registry (a failed daily run must not leave some marts rebuilt from it
    # next to others from the previous run).
    built = {r[0] for r in registry_problems.sql(
        "select table_name from information_schema.tables where table_schema = 'main' "
        "and (table_name like 'fct%' or table_name like 'int%')")}
    not_reading_the_registry = {"int_incremental_window", "int_metric_events_validated", "int_raw_days_fingerprinted"}
    assert built - not_reading_the_registry == set(), sorted(built)


def test_registry_error_names_exactly_the_bad_rows(registry_problems):
    # one line per problem, and none for the valid experiment exp_ok
    assert registry_error_lines(registry_problems) == sorted(REGISTRY_PROBLEM_LINES.values())


@pytest.mark.parametrize("problem", sorted(REGISTRY_PROBLEM_LINES))
def test_registry_problem_is_named(registry_problems, problem):
    assert REGISTRY_PROBLEM_LINES[problem] in registry_error_lines(registry_problems)
