"""Hand-worked cases for the independent reference pipeline (tests/reference_pipeline.py)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tests import reference_pipeline as ref

T = pd.Timestamp


def _frame(rows, columns):
    return pd.DataFrame.from_records(rows, columns=columns)


def make_registry(experiments, variants, metrics, experiment_metrics, dimensions=()) -> ref.Registry:
    exp = _frame(experiments, ["experiment_id", "start_date", "end_date"])
    exp["start_date"] = pd.to_datetime(exp["start_date"])
    exp["end_date"] = pd.to_datetime(exp["end_date"])
    var = _frame(variants, ["experiment_id", "variant_id"])
    var["traffic_weight"] = 1.0 / var.groupby("experiment_id")["variant_id"].transform("size")
    met = _frame(
        metrics,
        [
            "metric_id", "aggregation", "source_event", "numerator_metric_id", "denominator_metric_id",
            "attribution_window_days", "pre_period_days", "winsorize_cap",
        ],
    )
    em = _frame(experiment_metrics, ["experiment_id", "metric_id"])
    em["metric_role"] = "secondary"
    dims = _frame(list(dimensions), ["experiment_id", "dimension_name"])
    return ref.Registry(exp, var, met, em, dims)


EXPOSURE_COLUMNS = [
    "experiment_id", "unit_id", "variant_id", "exposed_at", "platform", "country", "city", "is_internal", "is_bot",
]
EVENT_COLUMNS = ["unit_id", "event_name", "event_at", "value"]


def _events(rows) -> pd.DataFrame:
    """Events with an object `value` column, so NULL (None) and a present NaN stay distinct."""
    frame = _frame([r[:3] for r in rows], EVENT_COLUMNS[:3])
    frame["value"] = pd.Series([r[3] for r in rows], dtype=object)
    return frame


# --------------------------------------------------------------------------------------------
# Exposures: row checks, unit checks, first exposure, quarantine
# --------------------------------------------------------------------------------------------


@pytest.fixture
def exposure_case():
    registry = make_registry(
        experiments=[("exp1", "2026-01-01", "2026-01-10")],
        variants=[("exp1", "control"), ("exp1", "treatment")],
        metrics=[("m", "conversion", "buy", None, None, 3, 0, None)],
        experiment_metrics=[("exp1", "m")],
    )
    ok = T("2026-01-05 10:00")
    geo = ("ios", "DE", "Berlin")
    rows = [
        # row-level rejections (first failing reason wins)
        ("nope", None, "control", ok, *geo, False, False),  # missing_unit_id (even if unknown exp)
        ("exp1", "   ", "control", ok, *geo, False, False),  # missing_unit_id (blank)
        ("nope", "r1", "control", ok, *geo, False, False),  # unknown_experiment
        (None, "r2", "control", ok, *geo, False, False),  # unknown_experiment, '(missing)'
        ("exp1", "r3", "Control", ok, *geo, False, False),  # unknown_variant (case-sensitive)
        ("exp1", "r4", "control", None, *geo, False, False),  # missing_exposed_at
        ("exp1", "r5", "control", T("2026-01-21"), *geo, False, False),  # after as-of (and window)
        ("exp1", "r6", "control", T("2026-01-11"), *geo, False, False),  # outside window (end excl.)
        ("exp1", "r7", "treatment", T("2025-12-31 23:59:59"), *geo, False, False),  # before start
        # unit-level exclusions
        ("exp1", "u_int", "control", ok, *geo, False, True),
        ("exp1", "u_int", "treatment", ok, *geo, True, False),  # internal beats bot and multi
        ("exp1", "u_bot", "control", ok, *geo, False, True),
        ("exp1", "u_bot", "treatment", ok, *geo, False, False),  # bot beats multi
        ("exp1", "u_multi", "control", ok, *geo, None, None),
        ("exp1", "u_multi", "treatment", ok, *geo, False, False),
        # kept units
        ("exp1", " u_keep ", " treatment", T("2026-01-06"), "android", "DE", "Berlin", False, False),
        ("exp1", "u_keep", "treatment", T("2026-01-03 08:00"), "web", "DE", "Berlin", False, False),
        ("exp1", "u_keep", "treatment", T("2026-01-03 08:00"), "ios", None, "  ", False, False),
        ("exp1", "u_keep2", "control", T("2026-01-10 23:59:59"), "web", "NL", "Amsterdam", False, False),
        ("exp1", "u_keep2", "treatment", T("2026-01-11"), "web", "NL", "Amsterdam", False, False),  # row rejected
        ("exp1", "u_start", "control", T("2026-01-01"), None, "", "Munich", False, False),
    ]
    return registry, _frame(rows, EXPOSURE_COLUMNS)


def test_exposure_row_reasons(exposure_case):
    registry, exposures = exposure_case
    validated = ref.validate_exposures(exposures, registry, "2026-01-20")
    assert list(validated["rejection_reason"].iloc[:9]) == [
        "missing_unit_id",
        "missing_unit_id",
        "unknown_experiment",
        "unknown_experiment",
        "unknown_variant",
        "missing_exposed_at",
        "exposed_after_as_of_date",
        "exposed_outside_experiment_window",
        "exposed_outside_experiment_window",
    ]
    assert validated["rejection_reason"].iloc[9:].tolist().count(None) == 11
    assert validated["rejection_reason"].iloc[19] == "exposed_outside_experiment_window"


def test_kept_units_first_exposure_and_dimensions(exposure_case):
    registry, exposures = exposure_case
    units = ref.kept_units(exposures, registry, "2026-01-20").set_index("unit_id")
    assert sorted(units.index) == ["u_keep", "u_keep2", "u_start"]
    keep = units.loc["u_keep"]
    # Two rows tie at 08:00: platform 'ios' < 'web' wins; its blank country / city -> (unknown).
    assert keep["first_exposed_at"] == T("2026-01-03 08:00")
    assert keep["exposure_date"] == T("2026-01-03")
    assert (keep["variant_id"], keep["platform"], keep["country"], keep["city"]) == (
        "treatment", "ios", "(unknown)", "(unknown)",
    )
    assert keep["n_exposure_rows"] == 3
    assert units.loc["u_keep2", "n_exposure_rows"] == 1  # the rejected row is not its row
    assert units.loc["u_keep2", "variant_id"] == "control"  # the other variant's row was rejected
    assert (units.loc["u_start", "platform"], units.loc["u_start", "country"]) == ("(unknown)", "(unknown)")


def test_quarantine_counts(exposure_case):
    registry, exposures = exposure_case
    events = _events(
        [
            (None, "buy", T("2026-01-05"), None),  # missing_unit_id
            (" ", None, T("2026-01-05"), None),  # missing_unit_id (first reason)
            ("u_keep", "  ", T("2026-01-05"), None),  # missing_event_name
            ("u_keep", "buy", None, "nan"),  # missing_event_at
            ("u_keep", "buy", T("2026-01-21"), None),  # after as-of
            ("u_keep2", "buy", T("2026-01-21 00:00"), "x"),  # after as-of beats invalid value
            ("u_keep", "buy", T("2026-01-05"), float("nan")),  # invalid_value (NaN present)
            ("u_keep2", "buy", T("2026-01-05"), "abc"),  # invalid_value (unparseable)
            ("u_keep2", "buy", T("2026-01-05"), float("-inf")),  # invalid_value
            ("u_keep", "buy", T("2026-01-20 23:59:59"), " 1.5 "),  # valid
            ("u_keep", "buy", T("2026-01-05"), None),  # valid (NULL value)
        ],
    )
    q = ref.quarantine_counts(exposures, events, registry, "2026-01-20")
    got = {(r.source_table, r.experiment_id, r.reason): (r.is_exclusion, r.n_rows, r.n_units) for r in q.itertuples()}
    assert got == {
        ("exposures", "(missing)", "unknown_experiment"): (True, 1, 1),
        ("exposures", "exp1", "bot_traffic"): (True, 2, 1),
        ("exposures", "exp1", "exposed_after_as_of_date"): (True, 1, 1),
        ("exposures", "exp1", "exposed_outside_experiment_window"): (True, 3, 3),
        ("exposures", "exp1", "internal_traffic"): (True, 2, 1),
        ("exposures", "exp1", "missing_exposed_at"): (True, 1, 1),
        ("exposures", "exp1", "missing_unit_id"): (True, 1, 0),
        ("exposures", "exp1", "multiple_variants"): (True, 2, 1),
        ("exposures", "exp1", "repeat_exposure_collapsed"): (False, 2, 0),
        ("exposures", "exp1", "unknown_variant"): (True, 1, 1),
        ("exposures", "nope", "missing_unit_id"): (True, 1, 0),
        ("exposures", "nope", "unknown_experiment"): (True, 1, 1),
        ("metric_events", None, "event_after_as_of_date"): (True, 2, 2),
        ("metric_events", None, "invalid_value"): (True, 3, 2),
        ("metric_events", None, "missing_event_at"): (True, 1, 1),
        ("metric_events", None, "missing_event_name"): (True, 1, 1),
        ("metric_events", None, "missing_unit_id"): (True, 2, 0),
        # u_keep (t0 = 01-03 08:00, window 3 days): its valid 01-20 23:59:59 buy is unattributed
        ("metric_events", "exp1", "event_after_attribution_window"): (False, 1, 1),
    }
    # Every raw exposure row is either behind a kept unit or counted as an exclusion.
    units = ref.kept_units(exposures, registry, "2026-01-20")
    assert units["n_exposure_rows"].sum() + q.loc[q["is_exclusion"] & (q["source_table"] == "exposures"), "n_rows"].sum() == len(exposures)
    valid = ref.valid_metric_events(events, "2026-01-20")
    assert len(valid) == 2
    assert valid["value"].iloc[0] == 1.5 and math.isnan(valid["value"].iloc[1])


def test_value_null_vs_nan_through_duckdb(tmp_path):
    duckdb = pytest.importorskip("duckdb")
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema raw")
        con.execute(
            "create table raw.exposures as select 'e' as experiment_id, 'u' as unit_id, 'control' as variant_id, "
            "timestamp '2026-01-01' as exposed_at, 'ios' as platform, 'DE' as country, 'Berlin' as city, "
            "false as is_internal, false as is_bot"
        )
        con.execute(
            "create table raw.metric_events as select * from (values "
            "('u', 'buy', timestamp '2026-01-01 01:00', null::double), "
            "('u', 'buy', timestamp '2026-01-01 02:00', 'nan'::double), "
            "('u', 'buy', timestamp '2026-01-01 03:00', 'inf'::double), "
            "('u', 'buy', timestamp '2026-01-01 04:00', 2.5::double)) t(unit_id, event_name, event_at, value)"
        )
    _, events = ref.read_raw_duckdb(path)
    validated = ref.validate_metric_events(events, "2026-01-05")
    assert validated["rejection_reason"].tolist() == [None, "invalid_value", "invalid_value", None]


def test_text_timestamps_are_parsed_or_flagged():
    registry = make_registry(
        experiments=[("exp1", "2026-01-01", "2026-01-10")],
        variants=[("exp1", "control")],
        metrics=[("m", "conversion", "buy", None, None, 3, 0, None)],
        experiment_metrics=[("exp1", "m")],
    )
    texts = [
        "2026-01-05 01:30:00+02:00",  # 01-04 23:30 UTC
        "2026-01-04T22:00:00Z",
        "2026-01-04 20:00:00-05:00",  # 01-05 01:00 UTC
        " 2026-01-04 12:00:00 ",  # naive text is UTC (trimmed)
        "2026-01-04 12:00:00.123456+0530",  # 01-04 06:30:00.123456 UTC
        "2026-01-04",  # midnight
        "2026-01-04 12:00 UTC",
        "not a timestamp",
        "2026-01-05 25:00:00",  # hour 25
        "2026-02-30 10:00:00",  # no such day
        "",  # blank text is present and unparseable
        None,  # NULL: missing, not invalid
    ]
    rows = [("exp1", f"u{i}", "control", text, "ios", "DE", "Berlin", False, False) for i, text in enumerate(texts)]
    rows.insert(0, ("exp1", "u_bad_variant", "nope", "garbage", "ios", "DE", "Berlin", False, False))
    validated = ref.validate_exposures(_frame(rows, EXPOSURE_COLUMNS), registry, "2026-01-20")
    assert validated["rejection_reason"].tolist() == [
        "unknown_variant",  # the variant is checked before the timestamp
        *[None] * 7,
        *["invalid_exposed_at"] * 4,
        "missing_exposed_at",
    ]
    assert validated["exposed_at"].iloc[1:8].tolist() == [
        T("2026-01-04 23:30"), T("2026-01-04 22:00"), T("2026-01-05 01:00"), T("2026-01-04 12:00"),
        T("2026-01-04 06:30:00.123456"), T("2026-01-04"), T("2026-01-04 12:00"),
    ]
    events = _events(
        [
            ("u1", "buy", "yesterday", "1"),  # invalid_event_at
            ("u1", "buy", "   ", "x"),  # invalid_event_at beats invalid_value
            (None, "buy", "yesterday", "1"),  # missing_unit_id first
            ("u1", "buy", None, "1"),  # missing_event_at
            ("u1", "buy", "2026-01-21 00:30:00+01:00", "x"),  # 01-20 23:30 UTC: invalid value
            ("u1", "buy", "2026-01-21 01:00:00+01:00", "1"),  # 01-21 00:00 UTC: after as-of
        ]
    )
    validated = ref.validate_metric_events(events, "2026-01-20")
    assert validated["rejection_reason"].tolist() == [
        "invalid_event_at", "invalid_event_at", "missing_unit_id", "missing_event_at", "invalid_value",
        "event_after_as_of_date",
    ]
    q = ref.quarantine_counts(_frame(rows, EXPOSURE_COLUMNS), events, registry, "2026-01-20")
    got = {(r.experiment_id, r.reason): (r.is_exclusion, r.n_rows, r.n_units) for r in q.itertuples()}
    assert got[("exp1", "invalid_exposed_at")] == (True, 4, 4)
    assert got[(None, "invalid_event_at")] == (True, 2, 1)


@pytest.fixture
def unattributed_case():
    # e1 reads 'buy' with windows 2 (conv) and 5 (cnt: the longest), 'pay' through the ratio's
    # components with the ratio's window 1 (its components' own windows do not matter), and
    # 'view' nowhere. e2 reads 'buy' with window 1.
    metrics = [
        ("conv", "conversion", "buy", None, None, 2, 0, None),
        ("cnt", "count", "buy", None, None, 5, 3, None),
        ("rev", "sum", "pay", None, None, 30, 0, None),
        ("rat", "ratio", None, "rev", "conv", 1, 7, None),
        ("e2conv", "conversion", "buy", None, None, 1, 0, None),
    ]
    registry = make_registry(
        experiments=[("e1", "2026-03-01", "2026-03-04"), ("e2", "2026-03-01", "2026-03-10")],
        variants=[("e1", "control"), ("e1", "treatment"), ("e2", "control"), ("e2", "treatment")],
        metrics=metrics,
        experiment_metrics=[("e1", "conv"), ("e1", "cnt"), ("e1", "rat"), ("e2", "e2conv")],
    )
    geo = ("ios", "DE", "Berlin")
    exposures = _frame(
        [
            ("e1", "a", "control", T("2026-03-01 12:00"), *geo, False, False),
            ("e1", "a", "control", T("2026-03-02 12:00"), *geo, False, False),  # a repeat
            ("e1", "b", "treatment", T("2026-03-02 00:00"), *geo, False, False),
            ("e1", "x", "control", T("2026-03-02 00:00"), *geo, False, False),  # multiple variants
            ("e1", "x", "treatment", T("2026-03-03 00:00"), *geo, False, False),
            ("e1", "y", "control", T("2026-03-03 09:00"), *geo, True, False),  # internal
            ("e1", "z", "control", T("2026-03-05 00:00"), *geo, False, False),  # after end: rejected
            ("e2", "a", "treatment", T("2026-03-05 00:00"), *geo, False, False),
        ],
        EXPOSURE_COLUMNS,
    )
    events = _events(
        [
            # a in e1: t0 = 03-01 12:00; buy window 5 days -> [03-01 12:00, 03-06 12:00)
            ("a", "buy", T("2026-02-28 12:00"), None),  # t0 - 1 day exactly: before exposure
            ("a", "buy", T("2026-02-28 11:59:59"), None),  # earlier: not reported
            ("a", "buy", T("2026-03-01 11:59:59"), None),  # before exposure
            ("a", "buy", T("2026-03-04 00:00"), None),  # post (after conv's 2 days, inside cnt's 5)
            ("a", "buy", T("2026-03-06 12:00"), None),  # t0 + 5 days: after window
            # a in e2: t0 = 03-05 00:00, window 1 day: 03-06 12:00 is after that window too
            ("a", "pay", T("2026-03-02 11:59:59"), 5.0),  # ratio window 1 day: post
            ("a", "pay", T("2026-03-02 12:00"), 5.0),  # after window (rev's own 30 days do not count)
            ("a", "view", T("2026-03-20"), None),  # no metric reads 'view'
            ("a", "buy", T("2026-03-05 12:00"), "nan"),  # invalid value: not counted anywhere
            ("a", "buy", T("2026-03-21"), None),  # after the as-of date: rejected
            # b in e1: t0 = 03-02 00:00
            ("b", "pay", T("2026-03-01 00:00"), 1.0),  # before exposure
            ("b", "buy", T("2026-03-09"), None),  # after window
            ("b", "pay", T("2026-03-03"), 1.0),  # after window
            # excluded or rejected units: not analysed
            ("x", "buy", T("2026-03-20"), None),
            ("y", "buy", T("2026-03-03 08:00"), None),
            ("z", "buy", T("2026-03-20"), None),
        ]
    )
    return registry, exposures, events


def test_counting_windows_take_the_longest_window(unattributed_case):
    registry, _, _ = unattributed_case
    windows = ref.counting_windows(registry)
    got = {(r.experiment_id, r.event_name): r.window_days for r in windows.itertuples()}
    assert got == {("e1", "buy"): 5, ("e1", "pay"): 1, ("e2", "buy"): 1}


def test_unattributed_events_in_quarantine(unattributed_case):
    registry, exposures, events = unattributed_case
    q = ref.quarantine_counts(exposures, events, registry, "2026-03-20")
    informational = {
        (r.experiment_id, r.reason): (r.is_exclusion, r.n_rows, r.n_units)
        for r in q.itertuples()
        if r.reason in ref.UNATTRIBUTED_EVENT_REASONS
    }
    assert informational == {
        ("e1", "event_before_exposure"): (False, 3, 2),  # a: 2, b: 1
        ("e1", "event_after_attribution_window"): (False, 4, 2),  # a: buy + pay, b: buy + pay
        # a in e2 (t0 = 03-05 00:00, window 1 day): its 03-06 12:00 buy is after the window,
        # its 03-04 00:00 buy exactly one day before exposure (its 03-05 12:00 buy is invalid)
        ("e2", "event_after_attribution_window"): (False, 1, 1),
        ("e2", "event_before_exposure"): (False, 1, 1),
    }
    units = ref.kept_units(exposures, registry, "2026-03-20")
    valid = ref.valid_metric_events(events, "2026-03-20")
    periods = ref.event_periods(units, valid, registry)
    a_e1 = periods[(periods["experiment_id"] == "e1") & (periods["unit_id"] == "a")]
    # by event_at: buy 02-28 11:59:59, buy 02-28 12:00, buy 03-01 11:59:59, pay 03-02 11:59:59,
    # pay 03-02 12:00, buy 03-04 00:00, buy 03-06 12:00
    assert a_e1["period"].tolist() == [
        None, "before_exposure", "before_exposure", "post", "after_window", "post", "after_window",
    ]


def test_experiment_health(unattributed_case):
    registry, exposures, events = unattributed_case
    health = ref.experiment_health(exposures, events, registry, "2026-03-20")
    assert tuple(health.columns) == ref.HEALTH_COLUMNS
    e1 = health[health["experiment_id"] == "e1"].set_index("analysis_date")
    assert list(e1.index) == [T("2026-03-01"), T("2026-03-02"), T("2026-03-03"), T("2026-03-04")]
    assert e1["is_final_analysis"].tolist() == [False, False, False, True]
    # exposed units (kept or excluded): a 03-01; b, x 03-02; y 03-03 (z's row is rejected)
    assert e1["n_units_exposed"].tolist() == [1, 3, 4, 4]
    assert e1["n_units_first_exposed_on_date"].tolist() == [1, 2, 1, 0]
    assert e1["n_units_multiple_variants"].tolist() == [0, 1, 1, 1]
    np.testing.assert_allclose(e1["multiple_variant_share"], [0.0, 1 / 3, 0.25, 0.25])
    # valid rows: 03-01 a; 03-02 a (repeat), b, x; 03-03 x, y
    assert e1["n_exposure_rows_on_date"].tolist() == [1, 3, 2, 0]
    assert e1["last_exposure_date"].tolist() == [T("2026-03-01"), T("2026-03-02"), T("2026-03-03"), T("2026-03-03")]
    assert e1["is_exposure_stopped"].tolist() == [False, False, False, True]
    # before exposure: a's two (exposed 03-01), b's one (03-02); post: a's pay 03-02 11:59:59,
    # a's buy 03-04 00:00
    assert e1["n_events_before_exposure"].tolist() == [2, 3, 3, 3]
    assert e1["n_events_after_exposure"].tolist() == [0, 1, 1, 2]
    np.testing.assert_allclose(e1["events_before_exposure_share"], [1.0, 0.75, 0.75, 0.6])
    e2 = health[health["experiment_id"] == "e2"].set_index("analysis_date")
    assert len(e2) == 10
    assert e2.loc[T("2026-03-04"), "n_units_exposed"] == 0
    assert math.isnan(e2.loc[T("2026-03-04"), "multiple_variant_share"])
    assert math.isnan(e2.loc[T("2026-03-04"), "events_before_exposure_share"])
    assert pd.isna(e2.loc[T("2026-03-04"), "last_exposure_date"])
    assert not e2.loc[T("2026-03-04"), "is_exposure_stopped"]  # never started
    assert e2["is_exposure_stopped"].tolist() == [False] * 5 + [True] * 5
    assert e2["n_events_after_exposure"].max() == 0  # a's only buy in e2's window is invalid
    assert e2["n_events_before_exposure"].tolist() == [0] * 4 + [1] * 6
    assert e2.loc[T("2026-03-05"), "events_before_exposure_share"] == 1.0


# --------------------------------------------------------------------------------------------
# Metric values: windows, pre-period, caps, NULL values, ratio components
# --------------------------------------------------------------------------------------------

METRICS = [
    # metric_id, aggregation, source_event, numerator, denominator, window, pre, cap
    ("conv", "conversion", "buy", None, None, 2, 0, None),
    ("cnt", "count", "buy", None, None, 2, 3, 2.0),
    ("rev", "sum", "pay", None, None, 2, 3, 100.0),
    ("avg", "mean", "pay", None, None, 2, 3, None),
    ("rat", "ratio", None, "rev", "cnt", 1, 2, None),
]


@pytest.fixture
def metric_case():
    registry = make_registry(
        experiments=[("e", "2026-03-01", "2026-03-05")],
        variants=[("e", "control"), ("e", "treatment")],
        metrics=METRICS,
        experiment_metrics=[("e", m[0]) for m in METRICS],
        dimensions=[("e", "platform")],
    )
    exposures = _frame(
        [
            ("e", "a", "control", T("2026-03-01 12:00"), "ios", "DE", "Berlin", False, False),
            ("e", "b", "treatment", T("2026-03-02 00:00"), "android", "DE", "Berlin", False, False),
            ("e", "c", "control", T("2026-03-03 06:00"), None, "DE", "Berlin", False, False),
        ],
        EXPOSURE_COLUMNS,
    )
    events = _events(
        [
            # unit a, t0 = 03-01 12:00; window 2d -> [03-01 12:00, 03-03 12:00); pre 3d from 02-26 12:00
            ("a", "buy", T("2026-03-01 12:00"), None),  # at t0: post
            ("a", "buy", T("2026-03-02 08:00"), None),  # post
            ("a", "buy", T("2026-03-03 11:59:59"), None),  # post (last second)
            ("a", "buy", T("2026-03-03 12:00"), None),  # t0 + window: not counted
            ("a", "buy", T("2026-02-26 12:00"), None),  # t0 - 3d: pre (inclusive)
            ("a", "buy", T("2026-02-26 11:59:59"), None),  # before the pre-period
            ("a", "buy", T("2026-03-01 11:59:59"), None),  # pre
            ("a", "pay", T("2026-03-01 13:00"), 50.0),
            ("a", "pay", T("2026-03-01 14:00"), None),  # NULL value: ignored by sum and mean
            ("a", "pay", T("2026-03-02 10:00"), 80.0),
            ("a", "pay", T("2026-03-02 11:00"), float("nan")),  # invalid row: dropped
            ("a", "pay", T("2026-02-28 00:00"), 20.0),  # pre
            # unit b, t0 = 03-02 00:00
            ("b", "buy", T("2026-03-01 23:00"), None),  # pre
            ("b", "pay", T("2026-03-02 05:00"), 10.0),
            ("b", "pay", T("2026-03-03 23:59:59"), 5.0),
            ("b", "pay", T("2026-03-04 00:00"), 7.0),  # t0 + 2d: not counted
            # an event of an unexposed unit
            ("z", "buy", T("2026-03-02 00:00"), None),
        ],
    )
    return registry, exposures, events


def _values(registry, exposures, events, analysis_date=None):
    units = ref.kept_units(exposures, registry, "2026-03-10")
    valid = ref.valid_metric_events(events, "2026-03-10")
    values = ref.unit_metric_values(units, valid, registry, analysis_date)
    return {(r.metric_id, r.unit_id): r for r in values.itertuples()}, values


def _nan_or(value):
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def test_unit_values_full_window(metric_case):
    v, frame = _values(*metric_case)
    got = {k: (r.num, _nan_or(r.den), _nan_or(r.pre_num), _nan_or(r.pre_den), r.has_pre_period_events) for k, r in v.items()}
    assert got == {
        ("conv", "a"): (1.0, None, None, None, False),  # no pre-period: pre columns NULL
        ("conv", "b"): (0.0, None, None, None, False),
        ("conv", "c"): (0.0, None, None, None, False),
        ("cnt", "a"): (2.0, None, 2.0, None, True),  # 3 post buys capped at 2; 2 pre buys
        ("cnt", "b"): (0.0, None, 1.0, None, True),
        ("cnt", "c"): (0.0, None, 0.0, None, False),
        ("rev", "a"): (100.0, None, 20.0, None, True),  # 50 + 80 = 130 capped at 100
        ("rev", "b"): (15.0, None, 0.0, None, False),  # b's pre buy is not a 'pay' event
        ("rev", "c"): (0.0, None, 0.0, None, False),
        ("avg", "a"): (130.0, 2.0, 20.0, 1.0, True),  # no cap for mean; NULL value not counted
        ("avg", "b"): (15.0, 2.0, 0.0, 0.0, False),
        ("avg", "c"): (0.0, 0.0, 0.0, 0.0, False),
        # ratio: window 1d, pre 2d for both components; components keep their caps
        ("rat", "a"): (100.0, 2.0, 20.0, 1.0, True),
        ("rat", "b"): (10.0, 0.0, 0.0, 1.0, True),
        ("rat", "c"): (0.0, 0.0, 0.0, 0.0, False),
    }
    assert set(frame.loc[frame["unit_id"] == "c", "platform"]) == {"(unknown)"}


def test_unit_values_at_analysis_dates(metric_case):
    # 03-01: b (first exposed exactly at 03-02 00:00) is not in yet; a's events before 03-02.
    v, frame = _values(*metric_case, analysis_date="2026-03-01")
    assert set(frame["unit_id"]) == {"a"}
    assert (v[("conv", "a")].num, v[("cnt", "a")].num, v[("rev", "a")].num) == (1.0, 1.0, 50.0)
    assert (v[("avg", "a")].num, v[("avg", "a")].den) == (50.0, 1.0)
    assert v[("cnt", "a")].pre_num == 2.0  # pre-period values do not depend on the date
    v, frame = _values(*metric_case, analysis_date="2026-03-02")
    assert set(frame["unit_id"]) == {"a", "b"}
    assert (v[("cnt", "a")].num, v[("rev", "a")].num, v[("rev", "b")].num) == (2.0, 100.0, 10.0)
    assert (v[("rat", "a")].num, v[("rat", "a")].den) == (100.0, 2.0)


def test_arm_statistics_grid_and_moments(metric_case):
    registry, exposures, events = metric_case
    units = ref.kept_units(exposures, registry, "2026-03-10")
    valid = ref.valid_metric_events(events, "2026-03-10")
    stats = ref.arm_statistics(units, valid, registry, "2026-03-10")
    assert tuple(stats.columns) == ref.ARM_STATISTICS_COLUMNS
    # 5 metrics x 2 variants x (overall + 3 platforms) x 5 dates
    assert len(stats) == 5 * 2 * 4 * 5
    assert set(stats["dimension_value"]) == {"all", "ios", "android", "(unknown)"}
    key = ["metric_id", "variant_id", "dimension_name", "dimension_value", "analysis_date"]
    s = stats.set_index(key)

    row = s.loc[("cnt", "control", "overall", "all", T("2026-03-01"))]
    assert (row.n_units, row.n_units_with_pre_period, row.sum_num, row.sum_num_sq) == (1, 1, 1.0, 1.0)
    assert (row.sum_pre_num, row.sum_pre_num_sq, row.sum_num_pre_num) == (2.0, 4.0, 2.0)
    assert all(math.isnan(row[c]) for c in ref.MOMENT_COLUMNS if "den" in c)

    empty = s.loc[("cnt", "treatment", "overall", "all", T("2026-03-01"))]
    assert (empty.n_units, empty.sum_num, empty.sum_pre_num) == (0, 0.0, 0.0)

    conv = s.loc[("conv", "control", "overall", "all", T("2026-03-05"))]
    assert (conv.n_units, conv.n_units_with_pre_period, conv.sum_num) == (2, 0, 1.0)
    assert all(math.isnan(conv[c]) for c in ref.MOMENT_COLUMNS[2:] if "pre" in c or "den" in c)

    avg = s.loc[("avg", "control", "overall", "all", T("2026-03-05"))]
    expected = {
        "n_units": 2, "n_units_with_pre_period": 1,
        "sum_num": 130.0, "sum_num_sq": 16900.0, "sum_den": 2.0, "sum_den_sq": 4.0, "sum_num_den": 260.0,
        "sum_pre_num": 20.0, "sum_pre_num_sq": 400.0, "sum_pre_den": 1.0, "sum_pre_den_sq": 1.0,
        "sum_pre_num_pre_den": 20.0, "sum_num_pre_num": 2600.0, "sum_num_pre_den": 130.0,
        "sum_den_pre_num": 40.0, "sum_den_pre_den": 2.0,
    }
    assert avg[list(ref.MOMENT_COLUMNS)].to_dict() == expected

    rat = s.loc[("rat", "treatment", "platform", "android", T("2026-03-05"))]
    assert (rat.n_units, rat.n_units_with_pre_period, rat.sum_num, rat.sum_den, rat.sum_pre_den) == (1, 1, 10.0, 0.0, 1.0)
    assert rat.sum_num_pre_den == 10.0 and rat.sum_den_pre_den == 0.0

    unknown = s.loc[("rev", "control", "platform", "(unknown)", T("2026-03-02"))]
    assert unknown.n_units == 0  # c is exposed on 03-03
    unknown = s.loc[("rev", "control", "platform", "(unknown)", T("2026-03-03"))]
    assert unknown.n_units == 1

    # Slices add up to the overall slice, every date and metric.
    by_dim = stats.groupby(["metric_id", "variant_id", "analysis_date", "dimension_name"])[["n_units", "sum_num"]].sum()
    overall = by_dim.xs("overall", level="dimension_name")
    platform = by_dim.xs("platform", level="dimension_name")
    pd.testing.assert_frame_equal(overall, platform)


def test_analysis_dates_stop_at_as_of(metric_case):
    registry, _, _ = metric_case
    assert ref.analysis_dates(registry, "e", "2026-03-03") == [T("2026-03-01"), T("2026-03-02"), T("2026-03-03")]
    assert len(ref.analysis_dates(registry, "e", "2026-04-01")) == 5
    assert ref.analysis_dates(registry, "e", "2026-02-01") == []


def test_seed_registry_loads():
    registry = ref.load_registry()
    assert set(registry.experiments["experiment_id"]) >= {"chatbot_delivery_estimate", "orders_ranking_abc"}
    definition = ref.metric_definition(registry, "average_order_value")
    assert definition.num == ref.Part("order_placed", "value_sum", 500.0)
    assert definition.den == ref.Part("order_placed", "count", 20.0)
    assert (definition.window_days, definition.pre_period_days) == (14, 28)
    mean = ref.metric_definition(registry, "delivery_time")
    assert (mean.num.measure, mean.den.measure) == ("value_sum", "value_count")


# --------------------------------------------------------------------------------------------
# The reference on the demo data (small scale) agrees with the demo's planted counts
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_demo():
    from exptools import demo_data

    exposures, events = demo_data.generate_tables(scale=0.05, seed=7)
    as_pandas = ref._arrow_to_pandas
    return demo_data, as_pandas(exposures), as_pandas(events)


def test_reference_on_demo_matches_planted_counts(small_demo):
    demo_data, exposures, events = small_demo
    registry = ref.load_registry()
    result = ref.run_reference(exposures, events, registry, demo_data.DEMO_AS_OF_DATE, with_arm_statistics=False)
    expected = demo_data.expected_quarantine(0.05)
    rows = result.quarantine.to_dict("records")
    assert [r for r in rows if demo_data.is_planted_dirt(r)] == expected
    # The rest are the informational unattributed-event rows (late events, events just before
    # exposure): the demo draws some in every experiment.
    unattributed = [r for r in rows if not demo_data.is_planted_dirt(r)]
    assert {r["reason"] for r in unattributed} == set(demo_data.UNATTRIBUTED_EVENT_REASONS)
    assert {r["experiment_id"] for r in unattributed if r["reason"] == "event_after_attribution_window"} == set(
        demo_data.EXPERIMENTS
    )
    assert all(r["source_table"] == "metric_events" and 0 < r["n_units"] <= r["n_rows"] for r in unattributed)
    health = result.health
    n_dates = {e: len(ref.analysis_dates(registry, e, demo_data.DEMO_AS_OF_DATE)) for e in demo_data.EXPERIMENTS}
    assert health.groupby("experiment_id").size().to_dict() == n_dates
    final = health.groupby("experiment_id").tail(1).set_index("experiment_id")
    before = {r["experiment_id"]: r["n_rows"] for r in unattributed if r["reason"] == "event_before_exposure"}
    # Every unit is exposed by the last analysis date: the running count is the quarantine count.
    assert final["n_events_before_exposure"].to_dict() == {e: before.get(e, 0) for e in final.index}
    counts = result.units.groupby("experiment_id").size().to_dict()
    assert counts == demo_data.expected_kept_units(0.05)
    # Planted dimension ties resolve to the smallest platform; padded ids are trimmed and kept.
    units = result.units.set_index(["experiment_id", "unit_id"])
    assert not result.units["unit_id"].str.contains(" ").any()
    assert len(result.quarantine) and result.events["value"].notna().any()
    assert np.isfinite(result.events["value"].dropna()).all()
    assert units.index.is_unique


def test_reference_arm_statistics_on_demo(small_demo):
    demo_data, exposures, events = small_demo
    registry = ref.load_registry()
    units = ref.kept_units(exposures, registry, demo_data.DEMO_AS_OF_DATE)
    valid = ref.valid_metric_events(events, demo_data.DEMO_AS_OF_DATE)
    # Two experiments are enough to exercise every aggregation (ratio, mean, sum, count, conv).
    subset = registry.experiments["experiment_id"].isin(["orders_ranking_abc", "chatbot_delivery_estimate"])
    small_registry = ref.Registry(
        registry.experiments[subset], registry.variants, registry.metrics, registry.experiment_metrics,
        registry.experiment_dimensions,
    )
    stats = ref.arm_statistics(units, valid, small_registry, demo_data.DEMO_AS_OF_DATE)
    final = stats[(stats["analysis_date"] == T("2026-10-28")) & (stats["dimension_name"] == "overall")]
    n_final = final.groupby("experiment_id")["n_units"].sum() / final.groupby("experiment_id")["metric_id"].nunique()
    expected = demo_data.expected_kept_units(0.05)
    assert n_final.to_dict() == {k: expected[k] for k in n_final.index}
    # Running totals never decrease over analysis dates for non-negative metrics.
    ordered = stats.sort_values("analysis_date").groupby(
        ["experiment_id", "metric_id", "variant_id", "dimension_name", "dimension_value"]
    )
    assert (ordered["n_units"].diff().fillna(0) >= 0).all()
    assert (ordered["sum_num"].diff().fillna(0) >= -1e-9).all()
    # CUPED covariates exist for the pre-period metrics of orders_ranking_abc.
    ranking = final[final["experiment_id"] == "orders_ranking_abc"].set_index(["metric_id", "variant_id"])
    assert (ranking.loc["order_value", "n_units_with_pre_period"] > 0).all()
    assert ranking.loc["delivery_time", "sum_den"].gt(0).all()
