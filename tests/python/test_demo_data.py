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


def test_expected_quarantine_lists_planted_dirt_only():
    # The informational unattributed-event rows are not predicted (the integration tests compare
    # them with the reference pipeline); is_planted_dirt selects the rows that are.
    rows = demo_data.expected_quarantine(0.05)
    assert rows and all(demo_data.is_planted_dirt(r) for r in rows)
    assert not {r["reason"] for r in rows} & set(demo_data.UNATTRIBUTED_EVENT_REASONS)
    for reason in demo_data.UNATTRIBUTED_EVENT_REASONS:
        assert not demo_data.is_planted_dirt({"source_table": "metric_events", "is_exclusion": False, "reason": reason})
    assert demo_data.is_planted_dirt({"is_exclusion": False, "reason": "repeat_exposure_collapsed"})
    assert demo_data.is_planted_dirt({"is_exclusion": True, "reason": "invalid_value"})


# --------------------------------------------------------------------------------------------
# Scale, experiments and planted truth
# --------------------------------------------------------------------------------------------


def test_default_scale_size(full_scale):
    exposures, events = full_scale
    [(units,)] = _sql("select count(distinct (experiment_id, unit_id)) from e", e=exposures)
    assert 300_000 <= units <= 350_000
    assert 1_000_000 <= events.num_rows <= 2_000_000
    kept = demo_data.expected_kept_units(1.0)
    assert kept == {
        "chatbot_delivery_estimate": 40_000,
        "orders_ranking_abc": 45_000,
        "push_reminder_timing": 39_000,
        "search_autocomplete": 60_000,
        "banner_color": 20_000,
        "loyalty_badge": 20_000,
        "checkout_factorial": 24_000,
        "recommendation_bandit": 24_000,
        "delivery_fee_sequential": 24_000,
        "onboarding_msprt": 30_000,
    }


def test_scale_multiplies_units():
    small = demo_data.expected_kept_units(0.05)
    large = demo_data.expected_kept_units(0.1)
    for experiment_id in small:
        assert large[experiment_id] == pytest.approx(2 * small[experiment_id], rel=0.02)
    exposures, _ = demo_data.generate_tables(scale=0.1, seed=42)
    [(units,)] = _sql("select count(distinct (experiment_id, unit_id)) from e", e=exposures)
    assert 30_000 <= units <= 35_000


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
        "checkout_factorial": "ship",
        "recommendation_bandit": "ship",
        "delivery_fee_sequential": "ship",
        "onboarding_msprt": "ship",
    }
    primaries = {row["experiment_id"]: row["metric_id"] for row in metrics if row["metric_role"] == "primary"}
    assert {k: v["primary_metric"] for k, v in truth.items()} == primaries
    for experiment_id, planted in truth.items():
        analysed = {row["metric_id"] for row in metrics if row["experiment_id"] == experiment_id}
        assert set(planted["effects"]) <= analysed
        variants = demo_data.EXPERIMENTS[experiment_id].variants
        for arms in planted["effects"].values():
            assert set(arms) <= set(variants[1:])
        if planted["expected_decision"] == "ship":
            assert planted["ship_variant"] in planted.get("ship_variants", [planted["ship_variant"]])
    by_id = {row["experiment_id"]: row for row in experiments}
    for experiment_id in demo_data.DESIGN_EXPERIMENTS:
        planted = truth[experiment_id]
        assert planted["design"] == by_id[experiment_id]["design"]
        assert planted["analysis_method"] == by_id[experiment_id]["analysis_method"]


# --------------------------------------------------------------------------------------------
# Registry seeds
# --------------------------------------------------------------------------------------------


def test_seed_headers():
    assert _read_csv("experiments")[0] == [
        "experiment_id", "experiment_name", "hypothesis", "owner", "start_date", "end_date", "randomization_unit",
        "alpha", "power", "analysis_method", "use_cuped", "srm_alpha", "design", "sequential_looks",
        "msprt_mixing_sd",
    ]
    assert _read_csv("variants")[0] == [
        "experiment_id", "variant_id", "variant_name", "is_control", "traffic_weight", "factor_a_level",
        "factor_b_level",
    ]
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
    assert [row["experiment_id"] for row in experiments] == list(demo_data.EXPERIMENT_ORDER)
    for row in experiments:
        spec = demo_data.EXPERIMENTS[row["experiment_id"]]
        assert (row["start_date"], row["end_date"]) == (spec.start.isoformat(), spec.end.isoformat())
        assert (row["analysis_method"], row["design"]) == (spec.analysis_method, spec.design)
        assert row["analysis_method"] in ("fixed_horizon", "group_sequential", "msprt")
        assert row["design"] in ("ab", "factorial", "bandit")
        # sequential_looks is set exactly for group-sequential experiments.
        assert (row["sequential_looks"] != "") == (row["analysis_method"] == "group_sequential")
        if row["sequential_looks"]:
            assert int(row["sequential_looks"]) == spec.sequential_looks >= 2
        assert row["msprt_mixing_sd"] == "" or float(row["msprt_mixing_sd"]) > 0
        assert (float(row["alpha"]), float(row["power"]), float(row["srm_alpha"])) == (0.05, 0.8, 0.001)
        assert row["use_cuped"] in ("true", "false")
        own = [v for v in variants if v["experiment_id"] == row["experiment_id"]]
        assert tuple(v["variant_id"] for v in own) == spec.variants
        assert [v["is_control"] for v in own].count("true") == 1
        assert own[0]["is_control"] == "true"  # the generator's arm 0 is the control
        assert abs(sum(float(v["traffic_weight"]) for v in own) - 1) < 1e-9
        if row["design"] == "factorial":
            # Every variant has both factor levels, and the variants form a full 2x2 grid with
            # the control at (off, off).
            levels = [(v["factor_a_level"], v["factor_b_level"]) for v in own]
            assert all(a and b for a, b in levels)
            assert sorted(levels) == sorted((a, b) for a in ("off", "on") for b in ("off", "on"))
            assert levels[0] == ("off", "off")
            assert dict(zip(spec.variants, levels)) == demo_data.FACTOR_LEVELS
        else:
            assert all(v["factor_a_level"] == v["factor_b_level"] == "" for v in own)
    assert {r["experiment_id"]: r["analysis_method"] for r in experiments if r["analysis_method"] != "fixed_horizon"} == {
        "delivery_fee_sequential": "group_sequential",
        "onboarding_msprt": "msprt",
    }
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


# --------------------------------------------------------------------------------------------
# Design experiments (factorial, bandit, group-sequential, mSPRT)
# --------------------------------------------------------------------------------------------

#: sha256 of the demo rows at scale 0.02, seed 3 as generated *before* the design experiments
#: were added (exposures, metric_events): adding them must not change a single core row.
CORE_DIGESTS = (
    "23efdd29f5d28e6742694f2bb9e0228cdec0de0cf4a4ab8a8a78f6d0ef187c90",
    "5b504714550661f2e01e9e6dac57ed8485ceddbf1e3836b872c47a3c01b2b636",
)
DESIGN = demo_data.DESIGN_EXPERIMENTS
US_PER_DAY = 86_400 * 1_000_000


def _digest(table: pa.Table) -> str:
    import hashlib

    digest = hashlib.sha256()
    columns = [
        (column.cast(pa.int64()) if pa.types.is_timestamp(column.type) else column).to_pylist()
        for column in table.columns
    ]
    for row in zip(*columns):
        digest.update(("\x1f".join(repr(v) for v in row) + "\n").encode())
    return digest.hexdigest()


def _us(day: dt.date) -> int:
    return (dt.datetime(day.year, day.month, day.day) - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1)


def _first_events(full_scale, experiment_id: str, event_name: str, window_days: int):
    """Per kept unit of a design experiment: arm index, t0 and the first event in [t0, t0 + W)
    (int64 microseconds; int64 max when none), docs/semantics.md post-period rule."""
    exposures, events = full_scale
    rows = _sql(
        "with u as (select unit_id, min(exposed_at) as t0, any_value(variant_id) as v from e "
        f"where experiment_id = '{experiment_id}' group by unit_id) "
        "select u.v, epoch_us(u.t0), min(epoch_us(m.event_at)) from u left join m on m.unit_id = u.unit_id "
        f"and m.event_name = '{event_name}' and m.event_at >= u.t0 and m.event_at < u.t0 + interval {window_days} day "
        "group by all order by 2, 1",
        e=exposures,
        m=events,
    )
    variants = demo_data.EXPERIMENTS[experiment_id].variants
    arm = np.asarray([variants.index(r[0]) for r in rows])
    t0 = np.asarray([r[1] for r in rows], dtype=np.int64)
    first = np.asarray([np.iinfo(np.int64).max if r[2] is None else r[2] for r in rows], dtype=np.int64)
    return arm, t0, first


def _z_at(arm, t0, first, day: dt.date, control: int = 0, treatment: int = 1):
    """Unpooled two-proportion z and relative effect at analysis date ``day``."""
    cut = _us(day) + US_PER_DAY
    seen = t0 < cut
    conv = first < cut
    out = []
    for a in (control, treatment):
        n = np.count_nonzero(seen & (arm == a))
        out.append((n, np.count_nonzero(seen & conv & (arm == a)) / n))
    (n0, p0), (n1, p1) = out
    se = np.sqrt(p0 * (1 - p0) / n0 + p1 * (1 - p1) / n1)
    return (p1 - p0) / se, p1 / p0 - 1, p1 - p0, se, p0


def test_core_rows_unchanged_by_design_experiments(monkeypatch):
    exposures, events = demo_data.generate_tables(scale=0.02, seed=3)
    monkeypatch.setattr(demo_data, "DESIGN_EXPERIMENTS", ())
    core_exposures, core_events = demo_data.generate_tables(scale=0.02, seed=3)
    assert (_digest(core_exposures), _digest(core_events)) == CORE_DIGESTS
    # The core experiments and the row-level dirt are a prefix; the design experiments follow.
    assert _same(exposures.slice(0, core_exposures.num_rows), core_exposures)
    assert _same(events.slice(0, core_events.num_rows), core_events)
    tail = exposures.slice(core_exposures.num_rows)
    assert set(tail.column("experiment_id").to_pylist()) == set(DESIGN)


def test_design_experiments_units_are_fresh_and_balanced(full_scale):
    exposures, _ = full_scale
    names = ", ".join(f"'{e}'" for e in DESIGN)
    rows = _sql(
        "select experiment_id, variant_id, count(distinct unit_id), count(*) filter (is_internal or is_bot), "
        "min(cast(substr(unit_id, 6) as bigint)), max(cast(substr(unit_id, 6) as bigint)) "
        f"from e where experiment_id in ({names}) group by all order by all",
        e=exposures,
    )
    bases = demo_data._unit_bases(1.0)
    got: dict[str, dict[str, int]] = {}
    for experiment_id, variant_id, n, flagged, lo, hi in rows:
        got.setdefault(experiment_id, {})[variant_id] = n
        assert flagged == 0
        n_units = demo_data.units_per_arm(experiment_id) * demo_data.EXPERIMENTS[experiment_id].n_arms
        assert bases[experiment_id] <= lo <= hi < bases[experiment_id] + n_units
    for experiment_id in DESIGN:
        spec = demo_data.EXPERIMENTS[experiment_id]
        # Blockwise randomisation: exactly units_per_arm in every arm.
        assert got[experiment_id] == {v: demo_data.units_per_arm(experiment_id) for v in spec.variants}
    [(shared, multi_variant)] = _sql(
        "select count(*) filter (n_experiments > 1), count(*) filter (n_variants > 1) from ("
        "select trim(unit_id) as unit_id, count(distinct trim(experiment_id)) as n_experiments, "
        "count(distinct variant_id) filter (experiment_id in (" + names + ")) as n_variants "
        "from e where nullif(trim(unit_id), '') is not null group by 1) "
        "where unit_id in (select unit_id from e where experiment_id in (" + names + "))",
        e=exposures,
    )
    assert (shared, multi_variant) == (0, 0)
    # Every other customer (core experiments, their dirt, the row-level dirt) is numbered below.
    [(max_other,)] = _sql(
        "select max(cast(substr(trim(unit_id), 6) as bigint)) from e where trim(unit_id) like 'cust_%' "
        f"and (experiment_id is null or experiment_id not in ({names}))",
        e=exposures,
    )
    assert max_other < bases[DESIGN[0]]
    assert bases["#row_dirt"] + demo_data.ROW_DIRT_RESERVE == bases[DESIGN[0]]


def test_design_experiment_exposure_timing(full_scale):
    exposures, _ = full_scale
    for experiment_id in DESIGN:
        _, t0, _ = _first_events(full_scale, experiment_id, "none", 1)
        spec = demo_data.EXPERIMENTS[experiment_id]
        assert t0.min() == _us(spec.start) and t0.max() == _us(spec.end) + US_PER_DAY - 1_000_000
        by_day14 = np.mean(t0 < _us(spec.start) + 14 * US_PER_DAY)
        assert 0.4 < by_day14 < 0.6  # more traffic early, like the core experiments


@pytest.mark.parametrize(
    "experiment_id, event_name, window_days, rates",
    [
        ("recommendation_bandit", "recommendation_clicked", 7, demo_data.RECOMMENDATION_CLICK),
        ("delivery_fee_sequential", "fee_checkout_order", 7, demo_data.FEE_ORDER),
        ("delivery_fee_sequential", "fee_support_contact", 7, (demo_data.FEE_SUPPORT_CONTACT,) * 2),
        ("onboarding_msprt", "onboarding_completed", 7, demo_data.ONBOARDING_COMPLETION),
        ("checkout_factorial", "checkout_completed", 14, (demo_data.CHECKOUT_CONVERSION,) * 4),
    ],
)
def test_design_planted_rates_are_recovered(full_scale, experiment_id, event_name, window_days, rates):
    """Units whose whole window lies before the as-of cutoff convert at the planted rate (rates
    are stratified per arm x exposure day, so the recovery is near exact)."""
    arm, t0, first = _first_events(full_scale, experiment_id, event_name, window_days)
    complete = t0 + window_days * US_PER_DAY <= _us(demo_data.DEMO_AS_OF_DATE) + US_PER_DAY
    for a, rate in enumerate(rates):
        sel = complete & (arm == a)
        assert sel.sum() > 1_000
        assert np.mean(first[sel] < np.iinfo(np.int64).max) == pytest.approx(rate, abs=0.003), (experiment_id, a)


def test_factorial_planted_main_effect_and_no_interaction(full_scale):
    exposures, events = full_scale
    rows = _sql(
        "with u as (select unit_id, min(exposed_at) as t0, any_value(variant_id) as v from e "
        "where experiment_id = 'checkout_factorial' group by unit_id), "
        "x as (select u.v, least(coalesce(sum(m.value), 0), 300) as y, count(m.value) as n_checkouts from u "
        "left join m on m.unit_id = u.unit_id and m.event_name = 'checkout_completed' and m.event_at >= u.t0 "
        "and m.event_at < least(u.t0 + interval 14 day, timestamp '2026-10-29') group by u.unit_id, u.v) "
        "select v, count(*), avg(y), var_samp(y), sum(y) / count(*) filter (n_checkouts > 0) from x group by v",
        e=exposures,
        m=events,
    )
    arms = {r[0]: r[1:] for r in rows}
    assert set(arms) == set(demo_data.FACTOR_LEVELS)
    mean = {v: arms[v][1] for v in arms}
    per_converter = {v: arms[v][3] for v in arms}
    assert 25 < mean["control"] < 40  # EUR per exposed customer (final analysis, 2026-10-28)
    lift = {v: mean[v] / mean["control"] - 1 for v in arms}
    for variant_id in ("express_only", "express_and_saved_cards", "saved_cards_only"):
        planted = demo_data.checkout_lift(variant_id) - 1
        assert lift[variant_id] == pytest.approx(planted, abs=0.015), (variant_id, lift)
        assert per_converter[variant_id] / per_converter["control"] - 1 == pytest.approx(planted, abs=0.01)
        # Final fixed-horizon reading vs control: the express arms are clearly significant (z > 3.5,
        # also after Holm over the 3 arms) and above the 2% practical threshold; saved cards is not.
        n0, m0, v0, _ = arms["control"]
        n1, m1, v1, _ = arms[variant_id]
        z = (m1 - m0) / np.sqrt(v0 / n0 + v1 / n1)
        assert (z > 3.5) == (planted > 0) and (abs(z) < 2) == (planted == 0), (variant_id, z)
    # Main effects on the log scale and no interaction.
    log = {v: np.log(m) for v, m in mean.items()}
    main_a = (log["express_only"] + log["express_and_saved_cards"] - log["control"] - log["saved_cards_only"]) / 2
    main_b = (log["saved_cards_only"] + log["express_and_saved_cards"] - log["control"] - log["express_only"]) / 2
    interaction = log["express_and_saved_cards"] - log["express_only"] - log["saved_cards_only"] + log["control"]
    assert main_a == pytest.approx(np.log(demo_data.CHECKOUT_FACTOR_A_LIFT), abs=0.01)
    assert main_b == pytest.approx(0.0, abs=0.01)
    assert interaction == pytest.approx(0.0, abs=0.02)
    truth = demo_data.planted_truth()["checkout_factorial"]
    assert truth["main_effects"]["checkout_value"] == pytest.approx({"factor_a": 0.08, "factor_b": 0.0, "interaction": 0.0})


def test_bandit_best_arm_is_clear(full_scale):
    arm, t0, first = _first_events(full_scale, "recommendation_bandit", "recommendation_clicked", 7)
    final = dt.date(2026, 10, 28)
    z_similar, rel_similar, *_ = _z_at(arm, t0, first, final, 0, 1)
    z_trending, rel_trending, *_ = _z_at(arm, t0, first, final, 0, 2)
    assert z_similar > 4 and rel_similar == pytest.approx(0.25, abs=0.05)
    assert abs(z_trending) < 2 and abs(rel_trending) < 0.05
    # Thompson sampling on Beta posteriors: similar_items is best in almost every draw.
    rng = np.random.default_rng(0)
    cut = _us(final) + US_PER_DAY
    draws = []
    for a in range(3):
        n = np.count_nonzero((arm == a) & (t0 < cut))
        k = np.count_nonzero((arm == a) & (t0 < cut) & (first < cut))
        draws.append(rng.beta(1 + k, 1 + n - k, 10_000))
    best = np.bincount(np.argmax(np.vstack(draws), axis=0), minlength=3) / 10_000
    assert best[1] > 0.99
    assert demo_data.planted_truth()["recommendation_bandit"]["best_arm"] == "similar_items"


def test_group_sequential_boundary_crossed_at_look_two(full_scale):
    """Looks every 7 days. O'Brien-Fleming efficacy boundaries for 4 looks (two-sided alpha
    0.05) are >= 4.05 at look 1 (classic 4.05, Lan-DeMets 4.33, higher still for unit-count
    information fractions < 0.25) and <= 2.97 at look 2 (whatever the fraction between ~0.4 and
    0.6): z < 4 at look 1 and z > 3.5 at look 2 means the boundary is first crossed at look 2."""
    truth = demo_data.planted_truth()["delivery_fee_sequential"]
    spec = demo_data.EXPERIMENTS["delivery_fee_sequential"]
    looks = [spec.start + dt.timedelta(days=7 * k - 1) for k in range(1, spec.sequential_looks + 1)]
    assert [d.isoformat() for d in looks] == truth["look_dates"] and looks[-1] == spec.end
    arm, t0, first = _first_events(full_scale, "delivery_fee_sequential", "fee_checkout_order", 7)
    z = [_z_at(arm, t0, first, day)[0] for day in looks]
    assert z[0] < 4.0, z
    assert z[1] > 3.5, z
    assert z[2] > z[1] and z[3] > 5
    assert truth["expected_stop_look"] == 2
    # The guardrail has no effect: final relative change small, non-inferior at 10% tolerance.
    arm, t0, first = _first_events(full_scale, "delivery_fee_sequential", "fee_support_contact", 7)
    _, rel, diff, se, p0 = _z_at(arm, t0, first, spec.end)
    assert abs(rel) < 0.03
    assert (diff + 1.96 * se) / p0 < 0.10


def test_msprt_always_valid_p_value_falls_below_alpha_before_the_end(full_scale):
    """Normal-mixture mSPRT (Johari et al. 2022) on daily looks with the default mixing variance
    tau = practical threshold (5% relative) x control rate: the always-valid p-value (running
    minimum of min(1, 1/Lambda)) is above alpha early and below it well before end_date."""
    spec = demo_data.EXPERIMENTS["onboarding_msprt"]
    arm, t0, first = _first_events(full_scale, "onboarding_msprt", "onboarding_completed", 7)
    tau2 = (0.05 * demo_data.ONBOARDING_COMPLETION[0]) ** 2
    p_running, first_below = 1.0, None
    day = spec.start
    while day <= spec.end:
        z, _, _, se, _ = _z_at(arm, t0, first, day)
        r = tau2 / se**2
        log_lr = -0.5 * np.log1p(r) + 0.5 * z * z * r / (1 + r)
        p_running = min(p_running, float(np.exp(-max(log_lr, 0.0))))
        if day == spec.start + dt.timedelta(days=3):
            assert p_running > 0.05
        if p_running < 0.05 and first_below is None:
            first_below = day
        day += dt.timedelta(days=1)
    assert first_below is not None and first_below <= dt.date(2026, 10, 21), first_below
    assert p_running < 1e-3
    assert demo_data.planted_truth()["onboarding_msprt"]["msprt_significant_before_end"]


def test_design_metric_seeds():
    _, metrics = _read_csv("metrics")
    _, experiment_metrics = _read_csv("experiment_metrics")
    by_id = {m["metric_id"]: m for m in metrics}
    assert by_id["checkout_value"]["aggregation"] == "sum"
    assert float(by_id["checkout_value"]["winsorize_cap"]) == demo_data.CHECKOUT_VALUE_CAP
    assert by_id["checkout_conversion"]["source_event"] == by_id["checkout_value"]["source_event"]
    roles = {(r["experiment_id"], r["metric_id"]): r for r in experiment_metrics}
    guardrail = roles[("delivery_fee_sequential", "fee_support_contact_rate")]
    assert (guardrail["metric_role"], float(guardrail["guardrail_tolerance"])) == ("guardrail", 0.10)
    truth = demo_data.planted_truth()
    for experiment_id in DESIGN:
        primary = roles[(experiment_id, truth[experiment_id]["primary_metric"])]
        assert primary["metric_role"] == "primary"
        # The planted primary effect clears the practical threshold of its shipping arm.
        effect = truth[experiment_id]["effects"][primary["metric_id"]][truth[experiment_id]["ship_variant"]]
        assert primary["threshold_scale"] == "relative" and effect > float(primary["practical_threshold"])
