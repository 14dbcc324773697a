"""Smoke check of the benchmark (exptools/benchmark) on a tiny data set: the generator writes
day-split parquet, the floor query runs, dbt builds the pipeline on the benchmark registry, and
the floor's per-arm moments equal fct_arm_statistics (final date, overall slice) to 1e-9.

Not a timed test: timings are the benchmark's job (python -m exptools.benchmark, docs/benchmarks.md).
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from exptools.benchmark import floor
from exptools.benchmark.generate import day_date, files_through, generate, link_days
from exptools.benchmark.project import make_project, run_dbt

pytestmark = pytest.mark.integration

UNITS, EVENTS, DAYS, SEED = 4_000, 60_000, 30, 11


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    base = tmp_path_factory.mktemp("bench")
    manifest = generate(base / "data", UNITS, EVENTS, DAYS, SEED)
    project = make_project(base / "project", DAYS)
    as_of = day_date(DAYS - 1)
    dbt_vars = {"as_of_date": as_of.isoformat(), "raw_source": "parquet",
                "raw_exposures_parquet": str(base / "data" / "exposures" / "*.parquet"),
                "raw_metric_events_parquet": str(base / "data" / "metric_events" / "*.parquet")}
    database = base / "bench.duckdb"
    run = run_dbt(["build", "--full-refresh"], project, base / "target", database, dbt_vars)
    return {"base": base, "manifest": manifest, "project": project, "as_of": as_of,
            "database": database, "run": run}


def test_generator_writes_day_split_parquet(bench):
    data = bench["base"] / "data"
    manifest = json.loads((data / "manifest.json").read_text())
    assert manifest["rows"]["exposures"] > UNITS  # 3 experiments, repeats
    assert 0.9 * EVENTS <= manifest["rows"]["metric_events"] <= EVENTS  # planted drops only
    days = {f.name[:10] for f in (data / "metric_events").glob("*.parquet")}
    assert len(days) == DAYS
    with duckdb.connect() as con:
        columns = con.execute(f"describe select * from read_parquet('{data}/metric_events/*.parquet')").fetchall()
        assert [c[0] for c in columns] == ["unit_id", "event_name", "event_at", "value"]
        # each file holds exactly one day of events
        bad = con.execute(f"""
            select count(*) from read_parquet('{data}/metric_events/*.parquet', filename = true)
            where strftime(event_at, '%Y-%m-%d') <> left(parse_filename(filename), 10)
        """).fetchone()[0]
        assert bad == 0
    # "days 1..D" is a prefix of the files; linking adds the next day only
    first = files_through(data, "metric_events", day_date(9))
    assert {f.name[:10] for f in first} == {day_date(i).isoformat() for i in range(10)}
    link_days(data, bench["base"] / "raw10", day_date(9))
    assert len(list((bench["base"] / "raw10" / "metric_events").glob("*.parquet"))) == len(first)


def test_generator_is_deterministic(tmp_path):
    a = generate(tmp_path / "a", 500, 5_000, 5, 3)
    b = generate(tmp_path / "b", 500, 5_000, 5, 3)
    assert a["rows"] == b["rows"]
    with duckdb.connect() as con:
        for table in ("exposures", "metric_events"):
            diff = con.execute(f"""
                select count(*) from (
                    (from read_parquet('{tmp_path}/a/{table}/*.parquet')
                     except all from read_parquet('{tmp_path}/b/{table}/*.parquet'))
                    union all
                    (from read_parquet('{tmp_path}/b/{table}/*.parquet')
                     except all from read_parquet('{tmp_path}/a/{table}/*.parquet')))
            """).fetchone()[0]
            assert diff == 0, table


def test_floor_equals_pipeline(bench):
    data = bench["base"] / "data"
    rows, seconds = floor.run_floor(str(data / "exposures" / "*.parquet"),
                                    str(data / "metric_events" / "*.parquet"),
                                    bench["project"] / "seeds", bench["as_of"].isoformat())
    cols = floor.KEYS + floor.MOMENTS
    with duckdb.connect(str(bench["database"]), read_only=True) as con:
        pipeline = [dict(zip(cols, r)) for r in con.execute(
            f"select {', '.join(cols)} from fct_arm_statistics where dimension_name = 'overall' "
            f"and analysis_date = date '{bench['as_of'].isoformat()}'").fetchall()]
    result = floor.compare(rows, pipeline)
    assert result["rows_floor"] == 6 * 2 + 5 * 3 + 5 * 2  # metrics x registered arms
    assert result["rows_floor"] == result["rows_pipeline"]
    assert result["equal"], result["problems"]
    # The data are non-trivial: every arm has units, pre-period covariates and denominators exist.
    assert all(r["n_units"] > 0 for r in rows)
    assert any((r["sum_pre_num"] or 0) > 0 for r in rows)
    assert any((r["sum_den"] or 0) > 0 for r in rows)


def test_floor_comparison_can_fail(bench):
    """The equality check is not vacuous: a perturbed moment is reported."""
    data = bench["base"] / "data"
    rows, _ = floor.run_floor(str(data / "exposures" / "*.parquet"), str(data / "metric_events" / "*.parquet"),
                              bench["project"] / "seeds", bench["as_of"].isoformat())
    perturbed = [dict(r) for r in rows]
    perturbed[0]["sum_num_sq"] = perturbed[0]["sum_num_sq"] * (1 + 1e-6) + 1e-6
    result = floor.compare(rows, perturbed)
    assert not result["equal"] and result["n_problems"] == 1
    # one day earlier is a different analysis: the floor must see it
    earlier, _ = floor.run_floor(str(data / "exposures" / "*.parquet"), str(data / "metric_events" / "*.parquet"),
                                 bench["project"] / "seeds", (bench["as_of"] - dt.timedelta(days=1)).isoformat())
    assert not floor.compare(earlier, rows)["equal"]


def test_benchmark_run_records_timings(bench):
    run = bench["run"]
    assert run["returncode"] == 0
    assert run["wall_s"] > 0 and run["maxrss_bytes"] > 0
    nodes = {t["node"].split(".")[-1] for t in run["node_timings"]}
    assert {"fct_arm_statistics", "fct_experiment_results"} <= nodes


def test_state_write_copies_every_state_row_and_leaves_no_copy(bench):
    from exptools.benchmark.__main__ import STATE_TABLES, time_state_write

    with duckdb.connect(str(bench["database"]), read_only=True) as con:
        expected = {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in STATE_TABLES}
        tables_before = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
    result = time_state_write(bench["database"], threads=2, memory_limit="2GB")
    assert {t["table"]: t["rows"] for t in result["tables"]} == expected
    assert all(rows > 0 for rows in expected.values())
    assert result["rows"] == sum(expected.values())
    assert result["seconds"] == pytest.approx(sum(t["seconds"] for t in result["tables"]))
    assert all(t["seconds"] > 0 for t in result["tables"])
    with duckdb.connect(str(bench["database"]), read_only=True) as con:
        tables_after = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
    assert tables_after == tables_before
