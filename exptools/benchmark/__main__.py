"""Benchmark of the pipeline against its floor and its peers (a script, not a timed unit test).

    python -m exptools.benchmark --size S [--repeats 3] [--out bench_data/results/S.json]
        [--skip-peers] [--incremental [--daily-days 10,20,30]] [--revision HEAD]

Steps (each result lands in the JSON written to --out, a Markdown summary is printed):

1. generate (cached by size, seed and days under --data-dir; see generate.py);
2. a scratch copy of the dbt project with the benchmark registry (project.py);
3. the floor query (floor.py), --repeats times, each in a fresh process, with the pipeline's
   DuckDB threads, memory_limit and disabled_optimizers (--disabled-optimizers, default the
   profile's build_side_probe_side: the floor's plan gains from it too);
4. dbt's fixed start-up: ``dbt build`` selecting nothing (loads dbt, parses the project, connects);
5. the full ``dbt build --full-refresh``, --repeats times, each on a fresh DuckDB file and target
   directory: wall and CPU time, peak RSS, per-node timings from run_results.json;
   5a. what the floor never writes: the per-unit tables that a daily run continues from
   (STATE_TABLES), copied once each (``create table as select *``) on the built file with the
   same settings: the cost of writing those rows;
   5b. dbt's fixed cost per build: the same ``dbt build --full-refresh`` on a minimal data set
   (--fixed-cost-units, --fixed-cost-events; same days, registry and settings), --repeats times.
   Start-up, per-node and per-test overhead, the Python models' imports: what a build costs
   whatever the data. Both are reported next to the ratio, not subtracted from it;
6. the floor's arm moments equal fct_arm_statistics (final date, overall slice) to 1e-9;
7. ``python -m analysis_py.bench`` (the Python step on 1.8M arm rows);
8. peers (tea-tasting; cluster-experiments up to M) unless --skip-peers;
9. --incremental: for each day D of --daily-days, a full build over days 1..D-1, then day D's
   files are added and ``dbt build`` runs without --full-refresh; timed, and every mart table is
   compared with a full refresh over days 1..D. The daily run uses the project's defaults
   (``late_arrival_days`` 0: the change detection finds late rows, so an on-time load re-derives
   one day; the window used, its reason and first changed day are read back from
   int_incremental_window); each value of --late-arrival-days (default '' for none; e.g. 3 for a
   fixed safety window of 3 more days) adds a second daily run from a copy of the same base, timed
   and compared the same way.
10. --daily-chain FIRST: the schedule as it runs in production. A full build over days 1..FIRST-1,
   then one ``dbt build`` per day for days FIRST..--days, each on the database the previous run
   left (so the stored per-unit tables hold what daily runs append, in date order, not one full
   build's rows); each run timed with its slowest nodes; at the end every mart table is compared
   with a full refresh over all days (timed too). --chain-only skips steps 3-8.

Wall times on a shared machine are inflated by other work: CPU times and the load average before
each run are recorded too.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from . import floor as floor_mod
from .generate import SIZES, day_date, ensure, link_days
from .project import ROOT, make_project, measured_run, project_revision, run_dbt

MART_TABLES = ["fct_exposures", "fct_quarantine", "fct_arm_statistics", "fct_srm_checks",
               "fct_experiment_results", "fct_decision_records", "fct_experiment_health",
               "fct_factorial_anova", "fct_bandit_allocations"]
# the per-unit tables a daily run continues from; the floor computes the same statistics without
# writing any per-unit row
STATE_TABLES = ("int_unit_event_days", "int_unit_metric_deltas")
GB = 1024 ** 3


def machine_info() -> dict:
    import importlib.metadata as md

    def version(name):
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return None
    mem = None
    try:
        with open("/proc/meminfo") as fh:
            mem = int(re.search(r"MemTotal:\s+(\d+)", fh.read()).group(1)) * 1024
    except OSError:
        pass
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = re.search(r"model name\s*:\s*(.+)", fh.read()).group(1)
    except (OSError, AttributeError):
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "mem_total_gb": round(mem / GB, 1) if mem else None,
            "python": platform.python_version(), "os": platform.platform(),
            "versions": {p: version(p) for p in ("duckdb", "dbt-core", "dbt-duckdb", "pandas", "numpy",
                                                   "pyarrow", "tea-tasting", "cluster-experiments",
                                                   "ibis-framework")}}


def _median(values):
    return statistics.median(values) if values else None


def _raw_vars(raw_dir: Path, as_of: dt.date) -> dict:
    return {"as_of_date": as_of.isoformat(), "raw_source": "parquet",
            "raw_exposures_parquet": str(raw_dir / "exposures" / "*.parquet"),
            "raw_metric_events_parquet": str(raw_dir / "metric_events" / "*.parquet")}


def _fresh(path: Path) -> Path:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    for suffix in (".wal",):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return path


def _summ_run(r: dict) -> dict:
    return {k: r[k] for k in ("wall_s", "cpu_s", "maxrss_bytes", "polled_rss_bytes", "load_avg_1m_before")}


def _median_index(values: list[float]) -> int:
    """Index of the median run (the upper one for an even count): its node timings are reported."""
    return sorted(range(len(values)), key=lambda i: values[i])[len(values) // 2]


def _node_groups(node_timings: list[dict]) -> dict:
    groups: dict[str, float] = {}
    for t in node_timings:
        kind = t["node"].split(".", 1)[0]
        groups[kind] = groups.get(kind, 0.0) + t["seconds"]
    return groups


def run_floor(raw_dir: Path, registry: Path, as_of: dt.date, work: Path, repeats: int, threads: int,
              memory_limit: str, log, disabled_optimizers: str = "") -> dict:
    runs, rows = [], None
    for i in range(repeats):
        out = work / f"floor_{i}.json"
        r = measured_run([sys.executable, "-m", "exptools.benchmark.floor", "--run",
                          "--exposures", str(raw_dir / "exposures" / "*.parquet"),
                          "--events", str(raw_dir / "metric_events" / "*.parquet"),
                          "--registry", str(registry), "--as-of", as_of.isoformat(),
                          "--threads", str(threads), "--memory-limit", memory_limit,
                          "--disabled-optimizers", disabled_optimizers,
                          "--json-out", str(out)], cwd=ROOT)
        if r["returncode"] != 0:
            raise RuntimeError("floor failed:\n" + r["output_tail"])
        data = json.loads(out.read_text())
        rows = data["rows"]
        runs.append({**_summ_run(r), "query_s": data["query_s"]})
        log(f"  floor run {i + 1}: query {data['query_s']:.2f} s, process {r['wall_s']:.2f} s, "
            f"peak {r['maxrss_bytes'] / GB:.2f} GiB")
    return {"runs": runs, "rows": rows,
            "median_query_s": _median([r["query_s"] for r in runs]),
            "median_wall_s": _median([r["wall_s"] for r in runs]),
            "median_cpu_s": _median([r["cpu_s"] for r in runs]),
            "peak_rss_bytes": max(r["maxrss_bytes"] for r in runs)}


def time_state_write(database: Path, threads: int, memory_limit: str,
                     tables: tuple[str, ...] = STATE_TABLES) -> dict:
    """Wall time of writing each table's rows again (``create table as select *`` plus a
    checkpoint, then dropped), with the pipeline's DuckDB settings: what the full build spends
    writing rows that the floor never writes. The copy also reads the table (a fraction of a
    second at M)."""
    tables_out = []
    with duckdb.connect(str(database)) as con:
        con.execute(f"set threads = {int(threads)}")
        con.execute(f"set memory_limit = '{memory_limit}'")
        con.execute("set preserve_insertion_order = false")
        for table in tables:
            copy = f"bench_state_write_{table}"
            con.execute(f"drop table if exists {copy}")
            started = time.perf_counter()
            con.execute(f"create table {copy} as select * from {table}")
            con.execute("checkpoint")
            seconds = time.perf_counter() - started
            rows = con.execute(f"select count(*) from {copy}").fetchone()[0]
            con.execute(f"drop table {copy}")
            con.execute("checkpoint")
            tables_out.append({"table": table, "rows": rows, "seconds": seconds})
    return {"tables": tables_out, "seconds": sum(t["seconds"] for t in tables_out),
            "rows": sum(t["rows"] for t in tables_out)}


def fixed_cost_builds(data_dir: Path, project: Path, work: Path, units: int, events: int, days: int, seed: int,
                      repeats: int, threads: int, memory_limit: str, log) -> dict:
    """The full build on a minimal data set (same days, registry and settings): what a build costs
    whatever the data (dbt's start-up, per-node and per-test overhead, the Python models' imports)."""
    tiny = data_dir / f"fixed_u{units}_e{events}_d{days}_s{seed}"
    manifest = ensure(tiny, units, events, days, seed)
    dbt_vars = _raw_vars(tiny, day_date(days - 1))
    runs, node_runs = [], []
    for i in range(repeats):
        r = run_dbt(["build", "--full-refresh"], project, _fresh(work / "target_fixed"),
                    _fresh(work / "fixed.duckdb"), dbt_vars, threads, memory_limit)
        runs.append(_summ_run(r))
        node_runs.append(r.get("node_timings", []))
        log(f"  fixed-cost build run {i + 1}: {r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU")
    _fresh(work / "fixed.duckdb")
    walls = [r["wall_s"] for r in runs]
    median_run = _median_index(walls)
    return {"units": units, "events": events, "rows": manifest["rows"], "runs": runs,
            "median_wall_s": _median(walls), "median_cpu_s": _median([r["cpu_s"] for r in runs]),
            "n_nodes": len(node_runs[median_run]),
            "node_groups_median_run": _node_groups(node_runs[median_run])}


def pipeline_arm_rows(database: Path, as_of: dt.date) -> list[dict]:
    cols = floor_mod.KEYS + floor_mod.MOMENTS
    with duckdb.connect(str(database), read_only=True) as con:
        cur = con.execute(f"select {', '.join(cols)} from fct_arm_statistics "
                          f"where dimension_name = 'overall' and analysis_date = date '{as_of.isoformat()}'")
        return [dict(zip(cols, r)) for r in cur.fetchall()]


def compare_databases(a: Path, b: Path, memory_limit: str = "6GB", threads: int = 2,
                      max_other_rows: int = 2_000_000) -> dict:
    """Rows of each table of schema main in one database and not the other (multiset difference,
    both ways). The verdict covers the contract's result tables (MART_TABLES); other tables are
    reported for information (e.g. a history table that by design keeps earlier runs' rows), and only
    when they hold at most ``max_other_rows`` rows.
    Runs under the benchmark's memory limit, spilling next to ``a`` (at L the intermediate tables
    hold 100M+ rows; without a limit DuckDB would take 80% of the machine)."""
    con = duckdb.connect(config={"memory_limit": memory_limit, "threads": threads,
                                 "temp_directory": str(Path(a).with_suffix(".compare.tmp"))})
    con.execute(f"attach '{a}' as a (read_only)")
    con.execute(f"attach '{b}' as b (read_only)")
    tables = sorted({r[0] for r in con.execute(
        "select table_name from duckdb_tables() where schema_name = 'main' and database_name in ('a', 'b')"
    ).fetchall()})
    out = {}
    for table in tables:
        try:
            n_a = con.execute(f"select count(*) from a.main.{table}").fetchone()[0]
            n_b = con.execute(f"select count(*) from b.main.{table}").fetchone()[0]
            if table not in MART_TABLES and max(n_a, n_b) > max_other_rows:
                # a large intermediate: its rows carry run timestamps and (int_unit_metric_deltas)
                # reversal rows, so it differs from a full refresh by design; the contract tables
                # built from it are compared in full
                out[table] = {"rows": [n_a, n_b], "equal": None, "contract": False,
                              "skipped": f"more than {max_other_rows:,} rows"}
                continue
            only_a = con.execute(f"select count(*) from (from a.main.{table} except all from b.main.{table})").fetchone()[0]
            only_b = con.execute(f"select count(*) from (from b.main.{table} except all from a.main.{table})").fetchone()[0]
            out[table] = {"rows": [n_a, n_b], "only_incremental": only_a, "only_full": only_b,
                          "equal": only_a == 0 and only_b == 0, "contract": table in MART_TABLES}
        except duckdb.Error as exc:
            columns = {}
            for db in ("a", "b"):
                columns[db] = [r[0] for r in con.execute(
                    "select column_name from duckdb_columns() where database_name = ? and schema_name = 'main' "
                    "and table_name = ? order by column_index", [db, table]).fetchall()]
            out[table] = {"equal": False, "error": str(exc).splitlines()[0], "contract": table in MART_TABLES,
                          "columns_incremental": columns["a"], "columns_full": columns["b"]}
    con.close()
    return out


def python_step_bench(log) -> dict:
    r = measured_run([sys.executable, "-m", "analysis_py.bench"], cwd=ROOT)
    m = re.search(r"([\d,]+) arm rows -> ([\d,]+) result rows in ([\d.]+) s wall, ([\d.]+) s CPU", r["output_tail"])
    if r["returncode"] != 0 or not m:
        return {"status": "failed", "output": r["output_tail"][-2000:]}
    out = {"status": "ok", "arm_rows": int(m.group(1).replace(",", "")),
           "result_rows": int(m.group(2).replace(",", "")), "seconds": float(m.group(3)),
           "cpu_seconds": float(m.group(4)), "target_s": 2.0, "peak_rss_bytes": r["maxrss_bytes"]}
    log(f"  analysis_py.bench: {out['arm_rows']:,} arm rows in {out['seconds']:.3f} s (target < 2 s)")
    return out


def incremental(data_dir: Path, project: Path, work: Path, days: int, daily_days: list[int], threads: int,
                memory_limit: str, log, last_full: tuple[Path, dict] | None = None,
                late_arrival_days: tuple[int, ...] = ()) -> list[dict]:
    """Daily runs; ``last_full`` = (database, run) of a full build over all days, reused as the
    full refresh of the last day (same data, same command) instead of building it again."""
    results = []
    for d in daily_days:
        log(f"incremental: day {d}")
        try:
            results.append(_daily_run(data_dir, project, work, days, d, threads, memory_limit, log, last_full,
                                      late_arrival_days))
        except RuntimeError as exc:
            # a failed build (e.g. out of memory) is a result too: record it, go on with the next day
            log(f"  day {d} failed: {str(exc).splitlines()[0]}")
            results.append({"day": d, "status": "failed", "error": str(exc)[-3000:]})
            leftovers = [f"raw_inc_{d}", f"inc_{d}.duckdb", f"target_inc_base_{d}", f"target_inc_daily_{d}",
                         f"target_inc_full_{d}", f"full_{d}.duckdb"]
            leftovers += [p.name for p in work.glob(f"*inc_{d}_late*")]
            leftovers += [p.name for p in work.glob(f"target_inc_late*_{d}")]
            for name in leftovers:
                _fresh(work / name)
    return results


def _daily_run(data_dir: Path, project: Path, work: Path, days: int, d: int, threads: int, memory_limit: str,
               log, last_full: tuple[Path, dict] | None, late_arrival_days: tuple[int, ...] = ()) -> dict:
    """One day of ``incremental``: base build over days 1..d-1, the daily run of day d, the full
    refresh over days 1..d, and their comparison."""
    prev, cur = day_date(d - 2), day_date(d - 1)  # day d is index d - 1
    raw = _fresh(work / f"raw_inc_{d}")
    link_days(data_dir, raw, prev)
    db_inc = _fresh(work / f"inc_{d}.duckdb")
    t_base = _fresh(work / f"target_inc_base_{d}")
    base = run_dbt(["build", "--full-refresh"], project, t_base, db_inc, _raw_vars(raw, prev), threads, memory_limit)
    log(f"  full build days 1..{d - 1}: {base['wall_s']:.1f} s")
    variants = {}  # late_arrival_days -> database holding a copy of the base
    for late in late_arrival_days:
        variants[late] = _fresh(work / f"inc_{d}_late{late}.duckdb")
        shutil.copyfile(db_inc, variants[late])
    link_days(data_dir, raw, cur)
    t_daily = _fresh(work / f"target_inc_daily_{d}")
    daily = run_dbt(["build"], project, t_daily, db_inc, _raw_vars(raw, cur), threads, memory_limit)
    log(f"  daily run day {d}: {daily['wall_s']:.1f} s; slowest nodes: " + ", ".join(
        f"{t['node'].split('.')[-1][:40]} {t['seconds']:.1f}" for t in daily.get("node_timings", [])[:8]))
    t_full = _fresh(work / f"target_inc_full_{d}")
    if last_full is not None and d == days:
        db_full, full = last_full
        log(f"  full refresh days 1..{d}: the main full builds (median {full['wall_s']:.1f} s)")
    else:
        db_full = _fresh(work / f"full_{d}.duckdb")
        full = run_dbt(["build", "--full-refresh"], project, t_full, db_full, _raw_vars(raw, cur), threads,
                       memory_limit)
        log(f"  full refresh days 1..{d}: {full['wall_s']:.1f} s")
    equality = compare_databases(db_inc, db_full, memory_limit, threads)
    with duckdb.connect(str(db_inc), read_only=True) as con:
        late_used, recompute_from, reason = con.execute(
            "select late_arrival_days, cast(recompute_from as varchar), recompute_reason from int_incremental_window"
        ).fetchone()
    other_windows = []
    for late, db_late in variants.items():
        t_late = _fresh(work / f"target_inc_late{late}_{d}")
        run = run_dbt(["build"], project, t_late, db_late, {**_raw_vars(raw, cur), "late_arrival_days": late},
                      threads, memory_limit)
        eq = compare_databases(db_late, db_full, memory_limit, threads)
        other_windows.append({
            "late_arrival_days": late, "daily_run": _summ_run(run),
            "daily_over_full_wall": run["wall_s"] / full["wall_s"],
            "daily_nodes": run.get("node_timings", [])[:15],
            "equal_to_full_refresh": all(eq.get(t, {}).get("equal") for t in MART_TABLES)})
        log(f"  daily run day {d}, late_arrival_days={late}: {run['wall_s']:.1f} s "
            f"({run['wall_s'] / full['wall_s']:.2f} of the full refresh), equal: "
            f"{other_windows[-1]['equal_to_full_refresh']}; slowest: " + ", ".join(
                f"{t['node'].split('.')[-1][:40]} {t['seconds']:.1f}" for t in run.get("node_timings", [])[:6]))
        for p in (db_late, t_late):
            _fresh(p)
    result = {
        "day": d, "status": "ok", "base_full_build": _summ_run(base), "daily_run": _summ_run(daily),
        "full_refresh": _summ_run(full), "daily_over_full_wall": daily["wall_s"] / full["wall_s"],
        "daily_over_full_cpu": daily["cpu_s"] / full["cpu_s"],
        "daily_nodes": daily.get("node_timings", [])[:15], "full_nodes": full.get("node_timings", [])[:15],
        "daily_node_groups": _node_groups(daily.get("node_timings", [])),
        "late_arrival_days": late_used, "recompute_from": recompute_from, "recompute_reason": reason,
        "other_late_arrival_windows": other_windows,
        "equal_to_full_refresh": all(equality.get(t, {}).get("equal") for t in MART_TABLES),
        "unequal_other_tables": sorted(t for t, v in equality.items() if not v["contract"] and v["equal"] is False),
        "tables": equality}
    log(f"  equal to full refresh: {result['equal_to_full_refresh']}; daily/full wall "
        f"{result['daily_over_full_wall']:.2f}; recomputed from {recompute_from} ({reason})")
    for p in (db_inc, raw, t_base, t_daily, t_full) + (() if last_full and db_full == last_full[0] else (db_full,)):
        _fresh(p)
    return result


def daily_chain(data_dir: Path, project: Path, work: Path, days: int, first: int, threads: int,
                memory_limit: str, log) -> dict:
    """A full build over days 1..first-1, then a daily ``dbt build`` for each day first..days on
    the same database, then a full refresh over all days and the comparison of the marts."""
    raw = _fresh(work / "raw_chain")
    link_days(data_dir, raw, day_date(first - 2))
    database = _fresh(work / "chain.duckdb")
    base = run_dbt(["build", "--full-refresh"], project, _fresh(work / "target_chain_base"), database,
                   _raw_vars(raw, day_date(first - 2)), threads, memory_limit)
    log(f"daily chain: full build days 1..{first - 1}: {base['wall_s']:.1f} s")
    runs = []
    for d in range(first, days + 1):
        cur = day_date(d - 1)
        link_days(data_dir, raw, cur)
        run = run_dbt(["build"], project, _fresh(work / "target_chain_daily"), database, _raw_vars(raw, cur),
                      threads, memory_limit)
        with duckdb.connect(str(database), read_only=True) as con:
            recompute_from, reason = con.execute(
                "select cast(recompute_from as varchar), recompute_reason from int_incremental_window").fetchone()
            stored = {t: con.execute(f"select count(*) from {t}").fetchone()[0]
                      for t in ("int_unit_event_days", "int_unit_metric_deltas", "fct_exposures")}
        runs.append({"day": d, **_summ_run(run), "recompute_from": recompute_from, "recompute_reason": reason,
                     "stored_rows": stored, "nodes": run.get("node_timings", [])[:15],
                     "node_groups": _node_groups(run.get("node_timings", []))})
        log(f"  day {d}: {run['wall_s']:.1f} s wall, {run['cpu_s']:.1f} s CPU; " + ", ".join(
            f"{t['node'].split('.')[-1][:32]} {t['seconds']:.1f}" for t in run.get("node_timings", [])[:5]))
    db_full = _fresh(work / "chain_full.duckdb")
    full = run_dbt(["build", "--full-refresh"], project, _fresh(work / "target_chain_full"), db_full,
                   _raw_vars(raw, day_date(days - 1)), threads, memory_limit)
    log(f"  full refresh days 1..{days}: {full['wall_s']:.1f} s")
    equality = compare_databases(database, db_full, memory_limit, threads)
    result = {"first_day": first, "base_full_build": _summ_run(base), "daily_runs": runs,
              "full_refresh": _summ_run(full), "full_nodes": full.get("node_timings", [])[:15],
              "last_daily_over_full_wall": runs[-1]["wall_s"] / full["wall_s"],
              "equal_to_full_refresh": all(equality.get(t, {}).get("equal") for t in MART_TABLES),
              "unequal_other_tables": sorted(t for t, v in equality.items() if not v["contract"] and v["equal"] is False),
              "tables": equality}
    log(f"  equal to full refresh: {result['equal_to_full_refresh']}; last daily / full wall "
        f"{result['last_daily_over_full_wall']:.2f}")
    for p in (database, db_full, raw):
        _fresh(p)
    return result


def markdown(report: dict) -> str:
    lines = []
    s = report["size"]
    lines.append(f"### Size {s['name']}: {s['units']:,} units, {report['data']['rows']['metric_events']:,} events, "
                 f"{report['data']['rows']['exposures']:,} exposure rows, {s['days']} days")
    lines.append("")
    if "full_build" in report:
        lines += _markdown_full_build(report)
    if report.get("incremental"):
        lines += _markdown_incremental(report)
    if report.get("daily_chain"):
        lines += _markdown_chain(report["daily_chain"])
    return "\n".join(lines) + "\n"


def _markdown_full_build(report: dict) -> list[str]:
    fl, fb, st = report["floor"], report["full_build"], report["startup"]
    lines = ["| measure | value |", "|---|---|"]
    lines.append(f"| data generation | {report['data']['seconds']:.1f} s ({report['data']['bytes'] / 1e6:.0f} MB parquet) |")
    lines.append(f"| floor query (median of {len(fl['runs'])}) | {fl['median_query_s']:.2f} s wall, "
                 f"{fl['median_cpu_s']:.2f} s CPU (process), peak RSS {fl['peak_rss_bytes'] / GB:.2f} GiB |")
    lines.append(f"| dbt fixed start-up (build selecting nothing) | {st['median_wall_s']:.1f} s wall, {st['median_cpu_s']:.1f} s CPU |")
    lines.append(f"| full `dbt build --full-refresh` (median of {len(fb['runs'])}) | {fb['median_wall_s']:.1f} s wall, "
                 f"{fb['median_cpu_s']:.1f} s CPU, peak RSS {fb['peak_rss_bytes'] / GB:.2f} GiB |")
    lines.append(f"| full build minus start-up | {fb['median_wall_s'] - st['median_wall_s']:.1f} s |")
    lines.append(f"| ratio to floor: (build - start-up) / floor | **{report['ratios']['build_minus_startup_over_floor']:.1f}x** "
                 f"(target <= 2.0x; whole build / floor {report['ratios']['build_over_floor']:.1f}x) |")
    lines.append(f"| ratio to floor, CPU | {report['ratios']['build_cpu_over_floor_cpu']:.1f}x |")
    fx, sw = report.get("fixed_cost"), report.get("state_write")
    if fx:
        lines.append(f"| dbt fixed cost: the same build on {fx['rows']['metric_events']:,} events "
                     f"(median of {len(fx['runs'])}, {fx['n_nodes']} nodes) | {fx['median_wall_s']:.1f} s wall "
                     f"(start-up included; nodes: " + ", ".join(
                         f"{k} {v:.1f} s" for k, v in sorted(fx["node_groups_median_run"].items())) + ") |")
        lines.append(f"| (build - fixed-cost build) / floor | {report['ratios']['build_minus_fixed_cost_over_floor']:.1f}x |")
    if sw:
        lines.append("| writing the per-unit state again (" + ", ".join(
            f"{t['table']} {t['rows']:,} rows {t['seconds']:.1f} s" for t in sw["tables"])
            + f") | {sw['seconds']:.1f} s |")
    if fx and sw:
        lines.append(f"| (build - fixed-cost build - state write) / floor | "
                     f"{report['ratios']['build_minus_fixed_cost_and_state_write_over_floor']:.1f}x |")
    lines.append(f"| floor == fct_arm_statistics (final date, overall) | {report['equality']['equal']} "
                 f"({report['equality']['rows_floor']} arm rows, max rel diff {report['equality']['max_rel_diff']:.1e}) |")
    g = fb["node_groups_median_run"]
    lines.append(f"| node time by kind (last run) | " + ", ".join(f"{k} {v:.1f} s" for k, v in sorted(g.items())) + " |")
    pb = report.get("python_step")
    if pb and pb.get("status") == "ok":
        lines.append(f"| Python step (`analysis_py.bench`, {pb['arm_rows']:,} arm rows) | {pb['seconds']:.3f} s (target < 2 s) |")
    peers = report.get("peers")
    if peers:
        lines.append(f"| peers: per-unit table (floor CTEs + pivot) | {peers['unit_table_s']:.2f} s ({peers['unit_rows']:,} unit x metric rows) |")
        for name in ("tea_tasting", "cluster_experiments"):
            p = peers[name]
            if p.get("status") == "ok":
                total = peers["unit_table_s"] + p["seconds"]
                lines.append(f"| {name} (analysis {p['seconds']:.2f} s + unit table) | {total:.2f} s; "
                             f"pipeline build / peer = {fb['median_wall_s'] / total:.1f}x |")
            else:
                lines.append(f"| {name} | {p.get('status')} |")
    lines.append("")
    lines.append("Slowest nodes (median full build run):")
    lines.append("")
    lines.append("| node | seconds |")
    lines.append("|---|---|")
    for t in fb["slowest_nodes"][:10]:
        lines.append(f"| {t['node']} | {t['seconds']:.2f} |")
    return lines


def _markdown_chain(chain: dict) -> list[str]:
    lines = ["", f"Daily chain: full build over days 1..{chain['first_day'] - 1} "
             f"{chain['base_full_build']['wall_s']:.1f} s, then one daily run per day; full refresh over all days "
             f"{chain['full_refresh']['wall_s']:.1f} s; equal: {chain['equal_to_full_refresh']}", "",
             "| day | daily run wall | CPU | recomputed from | slowest nodes |", "|---|---|---|---|---|"]
    for r in chain["daily_runs"]:
        lines.append(f"| {r['day']} | {r['wall_s']:.1f} s | {r['cpu_s']:.1f} s | {r['recompute_from']} "
                     f"({r['recompute_reason']}) | " + ", ".join(
                         f"{t['node'].split('.')[-1]} {t['seconds']:.1f}" for t in r["nodes"][:4]) + " |")
    return lines


def _markdown_incremental(report: dict) -> list[str]:
    lines = []
    lines.append("")
    lines.append("| daily run at day | base full build (days 1..D-1) | daily run | full refresh (days 1..D) | daily / full | equal "
                 "| recomputed from | other late_arrival_days: daily run, daily / full, equal |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for r in report["incremental"]:
        if r.get("status") == "failed":
            lines.append(f"| {r['day']} | failed: {r['error'].splitlines()[0][:120]} | | | | | | |")
            continue
        lines.append(f"| {r['day']} | {r['base_full_build']['wall_s']:.1f} s | {r['daily_run']['wall_s']:.1f} s "
                     f"| {r['full_refresh']['wall_s']:.1f} s | {r['daily_over_full_wall']:.2f} | {r['equal_to_full_refresh']} | "
                     f"{r.get('recompute_from')} ({r.get('recompute_reason')}) | "
                     + "; ".join(f"{o['late_arrival_days']}: {o['daily_run']['wall_s']:.1f} s, {o['daily_over_full_wall']:.2f}, "
                                 f"{o['equal_to_full_refresh']}" for o in r.get("other_late_arrival_windows", [])) + " |")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=sorted(SIZES), default="S")
    ap.add_argument("--units", type=int, help="override the size's units")
    ap.add_argument("--events", type=int, help="override the size's events")
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--repeats", type=int, default=3, help="full builds (and start-up runs)")
    ap.add_argument("--floor-repeats", type=int, help="floor runs (default: max(repeats, 3))")
    ap.add_argument("--data-dir", type=Path, default=ROOT / "bench_data")
    ap.add_argument("--out", type=Path, help="write the full report (.json) or the summary (.md)")
    ap.add_argument("--skip-peers", action="store_true")
    ap.add_argument("--skip-python-bench", action="store_true")
    ap.add_argument("--incremental", action="store_true")
    ap.add_argument("--daily-days", default="10,20,30")
    ap.add_argument("--late-arrival-days", default="",
                    help="comma-separated late_arrival_days values for extra daily runs ('' for none)")
    ap.add_argument("--daily-chain", type=int, default=0, metavar="FIRST",
                    help="full build over days 1..FIRST-1, then one daily run per day up to --days (0: off)")
    ap.add_argument("--chain-only", action="store_true",
                    help="with --daily-chain: skip the floor, the start-up, the full builds and the peers")
    ap.add_argument("--skip-fixed-cost", action="store_true",
                    help="skip the build on a minimal data set and the copy of the per-unit state")
    ap.add_argument("--fixed-cost-units", type=int, default=1_000, help="units of the minimal data set")
    ap.add_argument("--fixed-cost-events", type=int, default=20_000, help="events of the minimal data set")
    ap.add_argument("--keep-database", action="store_true", help="keep the last full build's DuckDB file")
    ap.add_argument("--revision", help="take the dbt project from this git revision (default: working tree)")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("EXP_DUCKDB_THREADS", os.cpu_count() or 2)))
    ap.add_argument("--memory-limit", default=os.environ.get("EXP_DUCKDB_MEMORY_LIMIT", "6GB"))
    ap.add_argument("--disabled-optimizers",
                    default=os.environ.get("EXP_DUCKDB_DISABLED_OPTIMIZERS", "build_side_probe_side"),
                    help="DuckDB disabled_optimizers for the pipeline (profiles.yml) and the floor alike")
    ap.add_argument("--cluster-experiments-max-units", type=int, default=1_000_000,
                    help="run cluster-experiments (pandas rows) only up to this many units (M)")
    a = ap.parse_args(argv)
    # the dbt profile reads it (dbt_env copies the environment); the floor gets the same value
    os.environ["EXP_DUCKDB_DISABLED_OPTIMIZERS"] = a.disabled_optimizers

    started = time.perf_counter()
    log = lambda msg: print(f"[{time.perf_counter() - started:7.1f}s] {msg}", flush=True)  # noqa: E731
    units, events = SIZES[a.size]
    units, events = a.units or units, a.events or events
    name = a.size if (a.units is None and a.events is None) else f"{a.size}-custom"
    data_dir = a.data_dir / f"{name}_u{units}_e{events}_d{a.days}_s{a.seed}"
    work = a.data_dir / "work" / name
    _fresh(work)
    work.mkdir(parents=True)
    report: dict = {"started_at": dt.datetime.now().isoformat(timespec="seconds"), "machine": machine_info(),
                    "size": {"name": name, "units": units, "events": events, "days": a.days, "seed": a.seed},
                    "settings": {"threads": a.threads, "memory_limit": a.memory_limit, "repeats": a.repeats,
                                 "disabled_optimizers": a.disabled_optimizers,
                                 "revision": a.revision or "working tree", **project_revision()}}
    log(f"data: {data_dir}")
    report["data"] = ensure(data_dir, units, events, a.days, a.seed)
    log(f"  {report['data']['rows']} in {report['data']['seconds']} s" + (" (cached)" if report["data"].get("cached") else ""))
    as_of = day_date(a.days - 1)
    project = make_project(work / "project", a.days, a.revision)
    registry = project / "seeds"
    raw = data_dir  # full data set: exposures/*.parquet and metric_events/*.parquet
    vars_full = _raw_vars(raw, as_of)
    database = work / "pipeline.duckdb"

    if not a.chain_only:
        log("floor")
        fl = run_floor(raw, registry, as_of, work, a.floor_repeats or max(a.repeats, 3), a.threads, a.memory_limit, log,
                       a.disabled_optimizers)
        report["floor"] = {k: v for k, v in fl.items() if k != "rows"}

        log("dbt start-up (build selecting nothing)")
        startup = []
        for i in range(a.repeats):
            r = run_dbt(["build", "--select", "bench_selects_nothing"], project, _fresh(work / "target_startup"),
                        _fresh(work / "startup.duckdb"), vars_full, a.threads, a.memory_limit)
            startup.append(_summ_run(r))
            log(f"  start-up run {i + 1}: {r['wall_s']:.1f} s")
        report["startup"] = {"runs": startup, "median_wall_s": _median([r["wall_s"] for r in startup]),
                             "median_cpu_s": _median([r["cpu_s"] for r in startup])}

        log("full dbt build --full-refresh")
        builds, node_runs = [], []
        for i in range(a.repeats):
            r = run_dbt(["build", "--full-refresh"], project, _fresh(work / "target_build"), _fresh(database),
                        vars_full, a.threads, a.memory_limit)
            builds.append(_summ_run(r))
            last_build = r
            node_runs.append(r.get("node_timings", []))
            log(f"  build run {i + 1}: {r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU, peak {r['maxrss_bytes'] / GB:.2f} GiB")
        walls = [b["wall_s"] for b in builds]
        median_run = _median_index(walls)
        report["full_build"] = {
            "runs": builds, "median_wall_s": _median(walls), "median_cpu_s": _median([b["cpu_s"] for b in builds]),
            "peak_rss_bytes": max(b["maxrss_bytes"] for b in builds),
            "peak_polled_rss_bytes": max(b["polled_rss_bytes"] for b in builds),
            "slowest_nodes": node_runs[median_run][:25],
            "node_groups_median_run": _node_groups(node_runs[median_run])}
        fb, st = report["full_build"], report["startup"]
        report["ratios"] = {
            "build_over_floor": fb["median_wall_s"] / fl["median_query_s"],
            "build_minus_startup_over_floor": (fb["median_wall_s"] - st["median_wall_s"]) / fl["median_query_s"],
            "build_cpu_over_floor_cpu": fb["median_cpu_s"] / fl["median_cpu_s"]}

        if not a.skip_fixed_cost:
            log("writing the per-unit state again (" + ", ".join(STATE_TABLES) + ")")
            report["state_write"] = time_state_write(database, a.threads, a.memory_limit)
            log(f"  {report['state_write']['rows']:,} rows in {report['state_write']['seconds']:.1f} s")
            log(f"dbt's fixed cost: the full build on {a.fixed_cost_units:,} units, {a.fixed_cost_events:,} events")
            report["fixed_cost"] = fixed_cost_builds(a.data_dir, project, work, a.fixed_cost_units,
                                                     a.fixed_cost_events, a.days, a.seed, a.repeats, a.threads,
                                                     a.memory_limit, log)
            fx, sw = report["fixed_cost"], report["state_write"]
            report["ratios"]["build_minus_fixed_cost_over_floor"] = (
                (fb["median_wall_s"] - fx["median_wall_s"]) / fl["median_query_s"])
            report["ratios"]["build_minus_fixed_cost_and_state_write_over_floor"] = (
                (fb["median_wall_s"] - fx["median_wall_s"] - sw["seconds"]) / fl["median_query_s"])

        log("floor == pipeline (final date, overall slice)")
        report["equality"] = floor_mod.compare(fl["rows"], pipeline_arm_rows(database, as_of))
        log(f"  equal: {report['equality']['equal']} (max rel diff {report['equality']['max_rel_diff']:.1e})")

        if not a.skip_python_bench:
            log("python step benchmark")
            report["python_step"] = python_step_bench(log)

        if not a.skip_peers:
            log("peers")
            from . import peers
            report["peers"] = peers.run(work, database, str(raw / "exposures" / "*.parquet"),
                                        str(raw / "metric_events" / "*.parquet"), registry, as_of.isoformat(),
                                        a.threads, a.memory_limit,
                                        cluster_experiments=units <= a.cluster_experiments_max_units)
            for peer in ("tea_tasting", "cluster_experiments"):
                p = report["peers"][peer]
                log(f"  {peer}: {p.get('status')} {p.get('seconds', 0):.2f} s {json.dumps(p.get('summary', {}))}")

    if a.incremental and not a.chain_only:
        days = [int(d) for d in a.daily_days.split(",") if d.strip()]
        lates = tuple(int(v) for v in a.late_arrival_days.split(",") if v.strip())
        report["incremental"] = incremental(data_dir, project, work, a.days, days, a.threads, a.memory_limit, log,
                                            late_arrival_days=lates,
                                            last_full=(database, {
                                                **last_build, "wall_s": fb["median_wall_s"],
                                                "cpu_s": fb["median_cpu_s"], "maxrss_bytes": fb["peak_rss_bytes"]}))

    if a.daily_chain:
        report["daily_chain"] = daily_chain(data_dir, project, work, a.days, a.daily_chain, a.threads,
                                            a.memory_limit, log)

    report["total_s"] = time.perf_counter() - started
    summary = markdown(report)
    print(summary)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        if a.out.suffix == ".md":
            a.out.write_text(summary)
        else:
            a.out.write_text(json.dumps(report, indent=2, default=str))
        log(f"wrote {a.out}")
    if not a.keep_database:
        _fresh(database)
    failed_days = [r["day"] for r in report.get("incremental", []) if r.get("status") == "failed"
                   or not r.get("equal_to_full_refresh")
                   or not all(o["equal_to_full_refresh"] for o in r.get("other_late_arrival_windows", []))]
    chain_equal = report.get("daily_chain", {}).get("equal_to_full_refresh", True)
    floor_equal = report.get("equality", {}).get("equal", True)
    return 0 if floor_equal and chain_equal and not failed_days else 1


if __name__ == "__main__":
    sys.exit(main())
