"""The demo data generator: determinism, schema, planted dirt, scale, registry consistency."""
from __future__ import annotations

import csv
import datetime as dt
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats

from exptools import demo_data

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"

EXPOSURE_TYPES = [
    ("experiment_id", "VARCHAR"),
    ("unit_id", "VARCHAR"),
    ("variant_id", "VARCHAR"),
    ("exposed_at", "TIMESTAMP"),
    ("platform", "VARCHAR"),
    ("country", "VARCHAR"),
    ("city", "VARCHAR"),
    ("is_internal", "BOOLEAN"),
    ("is_bot", "BOOLEAN"),
]
EVENT_TYPES = [("unit_id", "VARCHAR"), ("event_name", "VARCHAR"), ("event_at", "TIMESTAMP"), ("value", "DOUBLE")]


def _read_csv(name: str) -> tuple[list[str], list[dict]]:
    with open(SEEDS / f"{name}.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames), list(reader)


@pytest.fixture(scope="module")
def full_scale():
    """The demo at its default scale, in memory (a few seconds)."""
    return demo_data.generate_tables(scale=1.0, seed=42)


def _same(a: pa.Table, b: pa.Table) -> bool:
    """Row-identical tables (NaN equals NaN, NULL equals NULL)."""
    import pyarrow.compute as pc

    def nan_free(column):
        if pa.types.is_floating(column.type):
            return pc.if_else(pc.fill_null(pc.is_nan(column), False), pa.scalar(-1.2345e300), column)
        return column

    return a.schema.equals(b.schema) and all(
        nan_free(a.column(name)).equals(nan_free(b.column(name))) for name in a.column_names
    )


def _sql(query: str, **tables):
    con = duckdb.connect()
    for name, table in tables.items():
        con.register(name, table)
    return con.execute(query).fetchall()


# --------------------------------------------------------------------------------------------
# Determinism and output formats
# --------------------------------------------------------------------------------------------


def test_same_arguments_give_identical_rows():
    first = demo_data.generate_tables(scale=0.02, seed=3)
    second = demo_data.generate_tables(scale=0.02, seed=3)
    assert _same(first[0], second[0])
    assert _same(first[1], second[1])
    other = demo_data.generate_tables(scale=0.02, seed=4)
    assert not _same(other[1], first[1])
    assert other[0].num_rows == first[0].num_rows  # the plan (units, dirt) does not depend on the seed


def test_duckdb_output_types_and_replace(tmp_path):
    database = tmp_path / "warehouse.duckdb"
    demo_data.generate(database, scale=0.02, seed=1)
    summary = demo_data.generate(database, scale=0.02, seed=1)  # tables are replaced, not appended
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("describe raw.exposures").fetchall() == [
            (name, kind, "YES", None, None, None) for name, kind in EXPOSURE_TYPES
        ]
        assert con.execute("describe raw.metric_events").fetchall() == [
            (name, kind, "YES", None, None, None) for name, kind in EVENT_TYPES
        ]
        n_exposures = con.execute("select count(*) from raw.exposures").fetchone()[0]
        n_events = con.execute("select count(*) from raw.metric_events").fetchone()[0]
    assert (n_exposures, n_events) == (summary["n_exposure_rows"], summary["n_metric_event_rows"])
    exposures, events = demo_data.generate_tables(scale=0.02, seed=1)
    assert (n_exposures, n_events) == (exposures.num_rows, events.num_rows)


def test_cli_parquet_mode_writes_files_only(tmp_path):
    database = tmp_path / "warehouse.duckdb"
    parquet_dir = tmp_path / "raw"
    subprocess.run(
        [sys.executable, "-m", "exptools.demo_data", "--database", str(database), "--scale", "0.02",
         "--seed", "5", "--parquet-dir", str(parquet_dir)],
        check=True, cwd=ROOT, capture_output=True,
    )
    exposures = pq.read_table(parquet_dir / "exposures.parquet")
    events = pq.read_table(parquet_dir / "metric_events.parquet")
    assert exposures.schema.equals(demo_data.EXPOSURES_SCHEMA)
    assert events.schema.equals(demo_data.METRIC_EVENTS_SCHEMA)
    expected = demo_data.generate_tables(scale=0.02, seed=5)
    assert _same(exposures, expected[0]) and _same(events, expected[1])
    if database.exists():
        with duckdb.connect(str(database), read_only=True) as con:
            assert con.execute("select count(*) from information_schema.tables where table_schema = 'raw'").fetchone()[0] == 0


def test_cli_duckdb_mode(tmp_path):
    database = tmp_path / "warehouse.duckdb"
    completed = subprocess.run(
        [sys.executable, "-m", "exptools.demo_data", "--database", str(database), "--scale", "0.01"],
        check=True, cwd=ROOT, capture_output=True, text=True,
    )
    assert "exposure rows" in completed.stdout
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("select count(*) from raw.exposures").fetchone()[0] > 0


# --------------------------------------------------------------------------------------------
# Planted dirt: exact counts on the raw rows
# --------------------------------------------------------------------------------------------


def test_row_level_dirt_counts(full_scale):
    exposures, events = full_scale
    [(null_units,)] = _sql("select count(*) from e where unit_id is null or trim(unit_id) = ''", e=exposures)
    assert null_units == 7
    registered = ", ".join(f"'{e}'" for e in demo_data.EXPERIMENTS)
    [(unknown_exp,)] = _sql(
        "select count(*) from e where nullif(trim(unit_id), '') is not null "
        f"and (experiment_id is null or trim(experiment_id) not in ({registered}))",
        e=exposures,
    )
    assert unknown_exp == 6  # 3 x checkout_redesign_2025, null, blank, Banner_Color
    [(no_time,)] = _sql("select count(*) from e where exposed_at is null", e=exposures)
    assert no_time == 4  # 3 missing_exposed_at + 1 row that already fails on its unit id
    [(future,)] = _sql("select count(*) from e where exposed_at >= timestamp '2026-11-01'", e=exposures)
    assert future == 5
    [(internal_rows, bot_rows)] = _sql("select count(*) filter (is_internal), count(*) filter (is_bot) from e", e=exposures)
    per_exp = demo_data.DIRTY_UNITS
    assert internal_rows == 5 * (per_exp["internal_single"] + per_exp["internal_partial"] + per_exp["internal_and_bot_multi"]) + 1
    assert bot_rows == 5 * (per_exp["bot_single"] + 2 * per_exp["bot_multi"] + per_exp["internal_and_bot_multi"]) + 1

    [(no_unit, no_name, no_time, future, nan, inf)] = _sql(
        "select count(*) filter (unit_id is null or trim(unit_id) = ''), "
        "count(*) filter (event_name is null or trim(event_name) = ''), "
        "count(*) filter (event_at is null), count(*) filter (event_at >= timestamp '2026-11-01'), "
        "count(*) filter (isnan(value)), count(*) filter (isinf(value)) from m",
        m=events,
    )
    # 3 missing_event_at rows + 1 missing_event_name row without a time either
    assert (no_unit, no_name, no_time, future, nan, inf) == (10, 5, 4, 12, 6, 3)


def test_unit_level_dirt_counts(full_scale):
    exposures, _ = full_scale
    rows = _sql(
        "select experiment_id, count(*) filter (n_variants > 1 and not any_flag), "
        "count(*) filter (any_internal), count(*) filter (any_bot and not any_internal) "
        "from (select experiment_id, unit_id, count(distinct variant_id) as n_variants, "
        "      bool_or(is_internal) as any_internal, bool_or(is_bot) as any_bot, "
        "      bool_or(is_internal or is_bot) as any_flag "
        "      from e where unit_id is not null and exposed_at < timestamp '2026-10-29' group by all) "
        "group by all order by 1",
        e=exposures,
    )
    got = {r[0]: r[1:] for r in rows if r[0] in demo_data.EXPERIMENTS}
    for experiment_id in demo_data.EXPERIMENT_ORDER[:5]:
        assert got[experiment_id] == (20, 40, 20), experiment_id
    assert got["loyalty_badge"] == (0, 0, 0)


def test_raw_rows_add_up_to_kept_units_and_quarantine(full_scale):
    exposures, events = full_scale
    quarantine = demo_data.expected_quarantine(1.0)
    exposure_rows = sum(r["n_rows"] for r in quarantine if r["source_table"] == "exposures")
    assert exposures.num_rows == sum(demo_data.expected_kept_units(1.0).values()) + exposure_rows
    by_reason: dict[str, int] = {}
    for r in quarantine:
        by_reason[r["reason"]] = by_reason.get(r["reason"], 0) + r["n_units"]
    assert by_reason["internal_traffic"] == 200
    assert by_reason["bot_traffic"] == 100
    assert by_reason["multiple_variants"] == 100
    collapsed = {r["experiment_id"]: r["n_rows"] for r in quarantine if r["reason"] == "repeat_exposure_collapsed"}
    assert set(collapsed) == set(demo_data.EXPERIMENTS)
    [(repeats,)] = _sql(
        "select sum(n - 1) from (select experiment_id, unit_id, count(*) as n from e "
        "where not is_internal and not is_bot group by all having count(distinct variant_id) = 1 and count(*) > 1 "
        "and bool_and(exposed_at < timestamp '2026-11-01') and min(unit_id) like 'cust_%')",
        e=exposures,
    )
    # Repeats of kept units (their rows carry no flag and a single variant).
    assert repeats == sum(collapsed.values())
    events_rows = {r["reason"]: (r["n_rows"], r["n_units"]) for r in quarantine if r["source_table"] == "metric_events"}
    assert events_rows == {
        "event_after_as_of_date": (12, 12),
        "invalid_value": (7, 7),
        "missing_event_at": (3, 3),
        "missing_event_name": (4, 4),
        "missing_unit_id": (10, 0),
    }


def test_planted_quarantine_table_at_scale_one():
    rows = {(r["experiment_id"], r["reason"]): (r["n_rows"], r["n_units"]) for r in demo_data.expected_quarantine(1.0)}
    assert rows[("chatbot_delivery_estimate", "internal_traffic")] == (46, 40)
    assert rows[("chatbot_delivery_estimate", "bot_traffic")] == (22, 20)
    assert rows[("chatbot_delivery_estimate", "multiple_variants")] == (40, 20)
    assert rows[("chatbot_delivery_estimate", "unknown_variant")] == (3, 3)
    assert rows[("chatbot_delivery_estimate", "missing_unit_id")] == (3, 0)
    assert rows[("banner_color", "exposed_outside_experiment_window")] == (7, 7)
    assert rows[("banner_color", "unknown_variant")] == (3, 3)
    assert rows[("push_reminder_timing", "missing_exposed_at")] == (3, 3)
    assert rows[("loyalty_badge", "exposed_after_as_of_date")] == (4, 4)
    assert rows[("(missing)", "unknown_experiment")] == (2, 2)
    assert rows[("checkout_redesign_2025", "unknown_experiment")] == (3, 3)
    assert rows[("Banner_Color", "unknown_experiment")] == (1, 1)
    # one extra row for blocks b % 25 == 3, two for b % 100 == 11: 800 + 200 blocks of 2 units
    assert rows[("chatbot_delivery_estimate", "repeat_exposure_collapsed")] == (2 * (800 + 2 * 200), 0)
    # plus 75 same-instant ties (b % 200 == 57) in orders_ranking_abc (3 units per block)
    assert rows[("orders_ranking_abc", "repeat_exposure_collapsed")] == (3 * (600 + 2 * 150) + 75, 0)


# --------------------------------------------------------------------------------------------
# Scale, experiments and planted truth
# --------------------------------------------------------------------------------------------


def test_default_scale_size(full_scale):
    exposures, events = full_scale
    [(units,)] = _sql("select count(distinct (experiment_id, unit_id)) from e", e=exposures)
    assert 200_000 <= units <= 250_000
    assert 1_000_000 <= events.num_rows <= 2_000_000
    kept = demo_data.expected_kept_units(1.0)
    assert kept == {
        "chatbot_delivery_estimate": 40_000,
        "orders_ranking_abc": 45_000,
        "push_reminder_timing": 39_000,
        "search_autocomplete": 60_000,
        "banner_color": 20_000,
        "loyalty_badge": 20_000,
    }


def test_scale_multiplies_units():
    small = demo_data.expected_kept_units(0.05)
    large = demo_data.expected_kept_units(0.1)
    for experiment_id in small:
        assert large[experiment_id] == pytest.approx(2 * small[experiment_id], rel=0.02)
    exposures, _ = demo_data.generate_tables(scale=0.1, seed=42)
    [(units,)] = _sql("select count(distinct (experiment_id, unit_id)) from e", e=exposures)
    assert 20_000 <= units <= 25_000


def test_chunking_is_transparent(monkeypatch):
    """Chunks only bound memory: counts and the plan do not depend on the chunk size."""
    exposures, events = demo_data.generate_tables(scale=0.02, seed=9)
    monkeypatch.setattr(demo_data, "CHUNK_BLOCKS", 97)
    chunked = demo_data.generate_tables(scale=0.02, seed=9)
    assert chunked[0].num_rows == exposures.num_rows
    [(units,)] = _sql("select count(distinct unit_id) from e", e=chunked[0])
    [(units_one_chunk,)] = _sql("select count(distinct unit_id) from e", e=exposures)
    assert units == units_one_chunk


def test_exposures_timing_and_dimensions(full_scale):
    exposures, _ = full_scale
    rows = _sql(
        "select experiment_id, min(exposed_at), max(exposed_at), count(distinct platform), count(distinct city) "
        "from e where experiment_id in ('chatbot_delivery_estimate', 'orders_ranking_abc', 'loyalty_badge') "
        "and trim(unit_id) like 'cust_%' and exposed_at < timestamp '2026-10-29' group by 1 order by 1",
        e=exposures,
    )
    got = {r[0]: r[1:] for r in rows}
    assert got["chatbot_delivery_estimate"][0] == dt.datetime(2026, 10, 1)
    assert got["chatbot_delivery_estimate"][1] == dt.datetime(2026, 10, 28, 23, 59, 59)
    assert got["orders_ranking_abc"][3] == 5  # 4 cities + blank (a few null / blank values)
    assert got["loyalty_badge"][0] >= dt.datetime(2026, 10, 10)
    [(nulls,)] = _sql("select count(*) filter (platform is null) from e", e=exposures)
    assert 0 < nulls < 2_000


def test_loyalty_overlaps_orders_ranking(full_scale):
    exposures, _ = full_scale
    [(overlap,)] = _sql(
        "select count(*) from (select distinct unit_id from e where experiment_id = 'loyalty_badge') l "
        "join (select distinct unit_id from e where experiment_id = 'orders_ranking_abc') r using (unit_id)",
        e=exposures,
    )
    assert overlap == 12_000


def test_srm_planted_only_in_push(full_scale):
    exposures, _ = full_scale
    pairs = ", ".join(f"('{e}', '{v}')" for e, spec in demo_data.EXPERIMENTS.items() for v in spec.variants)
    rows = _sql(
        "select experiment_id, variant_id, count(distinct unit_id) from e "
        f"where not is_internal and not is_bot and (experiment_id, variant_id) in ({pairs}) "
        "group by all order by all",
        e=exposures,
    )
    counts: dict[str, list[int]] = {}
    for experiment_id, _, n in rows:
        counts.setdefault(experiment_id, []).append(n)
    for experiment_id, observed in counts.items():
        p = stats.chisquare(observed).pvalue
        truth = demo_data.planted_truth()[experiment_id]
        assert (p < 0.001) == truth["srm"], (experiment_id, observed, p)


def test_events_window_boundaries_and_values(full_scale):
    _, events = full_scale
    [(orders, mean_value, deliveries, mean_minutes)] = _sql(
        "select count(*) filter (event_name = 'order_placed'), avg(value) filter (event_name = 'order_placed' and isfinite(value)), "
        "count(*) filter (event_name = 'order_delivered'), avg(value) filter (event_name = 'order_delivered') from m",
        m=events,
    )
    assert 25 < mean_value < 35
    assert 30 < mean_minutes < 45
    assert 0.95 < deliveries / orders < 1.0


def test_planted_truth_matches_registry():
    _, experiments = _read_csv("experiments")
    _, metrics = _read_csv("experiment_metrics")
    truth = demo_data.planted_truth()
    assert set(truth) == {row["experiment_id"] for row in experiments}
    decisions = {k: v["expected_decision"] for k, v in truth.items()}
    assert decisions == {
        "chatbot_delivery_estimate": "ship",
        "orders_ranking_abc": "ship",
        "push_reminder_timing": "rerun",
        "search_autocomplete": "iterate",
        "banner_color": "stop",
        "loyalty_badge": "keep_running",
    }
    primaries = {row["experiment_id"]: row["metric_id"] for row in metrics if row["metric_role"] == "primary"}
    assert {k: v["primary_metric"] for k, v in truth.items()} == primaries
    for experiment_id, planted in truth.items():
        analysed = {row["metric_id"] for row in metrics if row["experiment_id"] == experiment_id}
        assert set(planted["effects"]) <= analysed


# --------------------------------------------------------------------------------------------
# Registry seeds
# --------------------------------------------------------------------------------------------


def test_seed_headers():
    assert _read_csv("experiments")[0] == [
        "experiment_id", "experiment_name", "hypothesis", "owner", "start_date", "end_date", "randomization_unit",
        "alpha", "power", "analysis_method", "use_cuped", "srm_alpha",
    ]
    assert _read_csv("variants")[0] == ["experiment_id", "variant_id", "variant_name", "is_control", "traffic_weight"]
    assert _read_csv("metrics")[0] == [
        "metric_id", "metric_name", "description", "aggregation", "source_event", "numerator_metric_id",
        "denominator_metric_id", "attribution_window_days", "pre_period_days", "desired_direction", "winsorize_cap",
    ]
    assert _read_csv("experiment_metrics")[0] == [
        "experiment_id", "metric_id", "metric_role", "practical_threshold", "threshold_scale", "guardrail_tolerance",
    ]
    assert _read_csv("experiment_dimensions")[0] == ["experiment_id", "dimension_name"]


def test_seeds_match_generator():
    _, experiments = _read_csv("experiments")
    _, variants = _read_csv("variants")
    for row in experiments:
        spec = demo_data.EXPERIMENTS[row["experiment_id"]]
        assert (row["start_date"], row["end_date"]) == (spec.start.isoformat(), spec.end.isoformat())
        assert row["analysis_method"] == "fixed_horizon"
        assert (float(row["alpha"]), float(row["power"]), float(row["srm_alpha"])) == (0.05, 0.8, 0.001)
        assert row["use_cuped"] in ("true", "false")
        own = [v for v in variants if v["experiment_id"] == row["experiment_id"]]
        assert tuple(v["variant_id"] for v in own) == spec.variants
        assert [v["is_control"] for v in own].count("true") == 1
        assert abs(sum(float(v["traffic_weight"]) for v in own) - 1) < 1e-9
    assert {r["experiment_id"]: r["use_cuped"] for r in experiments}["orders_ranking_abc"] == "true"
    assert demo_data.DEMO_AS_OF_DATE == dt.date(2026, 10, 31)


def test_metric_seeds_are_well_formed():
    _, metrics = _read_csv("metrics")
    _, experiment_metrics = _read_csv("experiment_metrics")
    _, dimensions = _read_csv("experiment_dimensions")
    by_id = {m["metric_id"]: m for m in metrics}
    for m in metrics:
        assert m["aggregation"] in ("conversion", "count", "sum", "mean", "ratio")
        assert m["desired_direction"] in ("increase", "decrease")
        assert int(m["attribution_window_days"]) > 0 and int(m["pre_period_days"]) >= 0
        if m["aggregation"] == "ratio":
            assert m["source_event"] == ""
            for part in (m["numerator_metric_id"], m["denominator_metric_id"]):
                assert by_id[part]["aggregation"] in ("conversion", "count", "sum")
        else:
            assert m["source_event"] in demo_data.EVENT_NAMES
            assert m["numerator_metric_id"] == m["denominator_metric_id"] == ""
    experiments = {row["experiment_id"] for row in experiment_metrics}
    for experiment_id in experiments:
        rows = [r for r in experiment_metrics if r["experiment_id"] == experiment_id]
        assert [r["metric_role"] for r in rows].count("primary") == 1
        for r in rows:
            assert r["metric_id"] in by_id
            assert r["threshold_scale"] in ("relative", "absolute")
            assert (r["guardrail_tolerance"] != "") == (r["metric_role"] == "guardrail")
    assert {d["dimension_name"] for d in dimensions} <= {"platform", "country", "city"}
    assert ("orders_ranking_abc", "city") in {(d["experiment_id"], d["dimension_name"]) for d in dimensions}
