"""Fast, seeded benchmark data: raw exposures and metric events as day-split parquet files.

Everything is generated inside DuckDB (``range()`` + ``hash()``-based pseudo-random uniforms, one
``COPY ... TO ... (PARTITION_BY day)`` per table), so the L size (10M units, 100M events) is
written in minutes with bounded memory. The same ``(units, events, days, seed)`` gives the same
set of rows (file row order may differ between runs: DuckDB writes in parallel; the pipeline
does not depend on row order). The rows follow ``schema.sql`` exactly.

Layout of a data directory::

    <dir>/exposures/<YYYY-MM-DD>_<n>.parquet    one or more files per day of exposed_at
    <dir>/metric_events/<YYYY-MM-DD>_<n>.parquet one or more files per day of event_at
    <dir>/manifest.json                        parameters, dates and row counts

so "days 1..D" is the set of files whose name starts with a date <= D (the benchmark links
them into a scratch directory that dbt reads with a glob, and "append one new day" adds the next
day's files).

The data (registry in ``exptools/benchmark/registry``): 3 experiments (2, 3 and 2 arms), all
ending on the last day; two start on day 1 and one on day 8. A unit joins each experiment with a
fixed probability, is exposed on a uniform day, and its first row decides its variant; 30% of
units get a repeat exposure within 5 days, and 0.05% each are internal, bots, or see two
variants (the exclusion rules). Events: per-unit activity is heterogeneous (a power-law pick of
the unit), so pre-period activity predicts post-period activity (CUPED). Planted effects after
first exposure: bench_checkout control loses 4% of its orders (conversion / count effect) and
treatment order values are 3% higher; bench_ranking treatment_1 order values +5%, treatment_2
delivery minutes +6%, and the ranking control loses 5% of its searches; bench_onboarding is an
A/A test. 0.01% of order events carry a NaN value (quarantined as invalid_value), 2% of delivery
events have a null value.

Usage::

    python -m exptools.benchmark.generate --out bench_data/S --units 100000 --events 2000000
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import time
from pathlib import Path

import duckdb

GENERATOR_VERSION = 4
DATA_START = dt.date(2026, 1, 1)

#: (index, experiment_id, first exposure day offset, share of all units exposed, variants)
EXPERIMENTS = (
    (0, "bench_checkout", 0, 0.6, ("control", "treatment")),
    (1, "bench_ranking", 0, 0.5, ("control", "treatment_1", "treatment_2")),
    (2, "bench_onboarding", 7, 0.4, ("control", "treatment")),
)

SIZES = {
    # name: (units, events)
    "XS": (20_000, 300_000),
    "S": (100_000, 2_000_000),
    "M": (1_000_000, 20_000_000),
    "L": (10_000_000, 100_000_000),
}


def experiment_dates(days: int) -> dict[str, tuple[dt.date, dt.date]]:
    end = DATA_START + dt.timedelta(days=days - 1)
    return {
        experiment_id: (DATA_START + dt.timedelta(days=start_offset), end)
        for _, experiment_id, start_offset, _, _ in EXPERIMENTS
    }


def day_date(day_index: int) -> dt.date:
    """Date of day index 0.. (day 1 of the data is index 0)."""
    return DATA_START + dt.timedelta(days=day_index)


def _macros(seed: int, days: int) -> list[str]:
    start = DATA_START.isoformat()
    exp_values = ", ".join(
        f"({e}, '{eid}', {off}, {share}, {len(variants)}, {list(variants)!r})"
        for e, eid, off, share, variants in EXPERIMENTS
    )
    return [
        # A uniform in [0, 1) from 53 bits of a re-hashed hash(key, seed, salt) (hash() combines its
        # arguments by xor, so without the second hash the uniforms of different salts correlate).
        f"create or replace temp macro bm_u(key, salt) as "
        f"(hash(hash(key, {int(seed)}, salt)) >> 11)::double / 9007199254740992.0",
        "create or replace temp macro bm_member(k, e, share) as bm_u(k, 'member' || e) < share",
        "create or replace temp macro bm_arm(k, e, n_arms) as "
        "cast(floor(bm_u(k, 'arm' || e) * n_arms) as integer)",
        # First exposure instant: uniform day in [start_offset, days), uniform second of the day.
        f"create or replace temp macro bm_t0(k, e, start_offset) as timestamp '{start} 00:00:00' + "
        f"to_seconds(cast((start_offset + floor(bm_u(k, 'day' || e) * ({days} - start_offset))) * 86400 "
        f"+ floor(bm_u(k, 'sec' || e) * 86400) as bigint))",
        f"create or replace temp table bm_experiments as select * from (values {exp_values}) "
        f"as t(e, experiment_id, start_offset, share, n_arms, variants)",
    ]


def _exposures_sql(units: int, days: int) -> str:
    end_ts = f"timestamp '{day_date(days).isoformat()} 00:00:00'"
    return f"""
    with members as (
        select
            units.range as k,
            x.experiment_id,
            x.variants,
            x.n_arms,
            bm_arm(units.range, x.e, x.n_arms) as arm,
            bm_t0(units.range, x.e, x.start_offset) as t0,
            bm_u(units.range, 'dirt' || x.e) as r_dirt,
            bm_u(units.range, 'rep' || x.e) as r_rep,
            bm_u(units.range, 'gap' || x.e) as r_gap,
            bm_u(units.range, 'plat') as r_plat,
            bm_u(units.range, 'ctry') as r_ctry
        from range({units}) as units
        cross join bm_experiments as x
        where bm_member(units.range, x.e, x.share)
    ),
    dims as (
        select
            *,
            case when r_plat < 0.001 then null when r_plat < 0.45 then 'android'
                 when r_plat < 0.85 then 'ios' else 'web' end as platform,
            case when r_ctry < 0.35 then 'DE' when r_ctry < 0.60 then 'FR' when r_ctry < 0.75 then 'NL'
                 when r_ctry < 0.90 then 'PL' else 'AT' end as country
        from members
    ),
    rows as (
        select
            experiment_id, 'u' || k as unit_id, variants[arm + 1] as variant_id, t0 as exposed_at,
            platform, country, r_dirt < 0.0005 as is_internal,
            r_dirt >= 0.0005 and r_dirt < 0.001 as is_bot
        from dims
        union all
        select
            experiment_id, 'u' || k as unit_id,
            variants[case when r_dirt >= 0.001 and r_dirt < 0.0015 then (arm + 1) % n_arms else arm end + 1],
            t0 + to_seconds(cast(floor(r_gap * 5 * 86400) as bigint)) as exposed_at,
            platform, country, false, false
        from dims
        where r_rep < 0.3 or (r_dirt >= 0.001 and r_dirt < 0.0015)
    )
    select
        experiment_id, unit_id, variant_id, exposed_at, platform, country,
        case country when 'DE' then 'Berlin' when 'FR' then 'Paris' when 'NL' then 'Amsterdam'
             when 'PL' then 'Warsaw' else 'Vienna' end as city,
        is_internal, is_bot,
        date_diff('day', date '{DATA_START.isoformat()}', cast(exposed_at as date)) as day
    from rows
    where exposed_at < {end_ts}
    """


def _events_sql(units: int, events: int, days: int) -> str:
    start = DATA_START.isoformat()
    (e0, _, off0, sh0, v0), (e1, _, off1, sh1, v1), _ = EXPERIMENTS
    return f"""
    with raw_events as (
        select
            range as i,
            cast(floor({units} * pow(bm_u(range, 'unit'), 1.3)) as bigint) as k,
            cast(floor(bm_u(range, 'day') * {days}) as integer) as day,
            floor(bm_u(range, 'sec') * 86400) as sec,
            bm_u(range, 'name') as r_name,
            bm_u(range, 'v1') as v1,
            bm_u(range, 'v2') as v2,
            bm_u(range, 'drop') as r_drop
        from range({events})
    ),
    named as (
        select
            *,
            case when r_name < 0.40 then 'session_started' when r_name < 0.60 then 'search_performed'
                 when r_name < 0.80 then 'order_placed' when r_name < 0.92 then 'order_delivered'
                 else 'support_contact' end as event_name,
            timestamp '{start} 00:00:00' + to_seconds(cast(day * 86400 + sec as bigint)) as event_at
        from raw_events
    ),
    exposed as (
        -- Each event's unit in the two experiments with planted effects (same macros as exposures).
        select
            *,
            bm_member(k, {e0}, {sh0}) and event_at >= bm_t0(k, {e0}, {off0}) as post0,
            bm_arm(k, {e0}, {len(v0)}) as arm0,
            bm_member(k, {e1}, {sh1}) and event_at >= bm_t0(k, {e1}, {off1}) as post1,
            bm_arm(k, {e1}, {len(v1)}) as arm1
        from named
    )
    select
        'u' || k as unit_id,
        event_name,
        event_at,
        case event_name
            when 'order_placed' then case
                when bm_u(i, 'nan') < 0.0001 then cast('NaN' as double)
                else round(exp(3.1 + 0.5 * sqrt(-2 * ln(1 - v1)) * cos(2 * pi() * v2))
                    * (case when post0 and arm0 = 1 then 1.03 else 1 end)
                    * (case when post1 and arm1 = 1 then 1.05 else 1 end), 2)
                end
            when 'order_delivered' then case
                when v1 < 0.02 then null
                else round((25 + 20 * v2) * (case when post1 and arm1 = 2 then 1.06 else 1 end), 1)
                end
        end as value,
        day
    from exposed
    where not (event_name = 'order_placed' and post0 and arm0 = 0 and r_drop < 0.04)
        and not (event_name = 'search_performed' and post1 and arm1 = 0 and r_drop < 0.05)
    """


def _copy_partitioned(con, sql: str, columns: str, out_dir: Path, scratch: Path) -> None:
    """COPY the query partitioned by day, then flatten to <out_dir>/<date>_<n>.parquet."""
    if scratch.exists():
        shutil.rmtree(scratch)
    con.execute(
        f"copy (select {columns}, day from ({sql})) to '{scratch}' "
        f"(format parquet, partition_by (day), compression zstd)"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    for part in sorted(scratch.iterdir()):
        day = int(part.name.split("=", 1)[1])
        for n, file in enumerate(sorted(part.glob("*.parquet"))):
            file.rename(out_dir / f"{day_date(day).isoformat()}_{n}.parquet")
    shutil.rmtree(scratch)


def generate(out: Path, units: int, events: int, days: int = 30, seed: int = 42,
             threads: int | None = None, memory_limit: str = "4GB") -> dict:
    """Write the data set to ``out`` (replaced) and return its manifest."""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"set threads = {threads or os.cpu_count() or 2}")
    con.execute(f"set memory_limit = '{memory_limit}'")
    con.execute("set preserve_insertion_order = false")
    con.execute("set enable_progress_bar = false")
    con.execute(f"set temp_directory = '{out / '.tmp'}'")
    for statement in _macros(seed, days):
        con.execute(statement)
    exposure_columns = (
        "experiment_id, unit_id, variant_id, exposed_at, platform, country, city, is_internal, is_bot"
    )
    _copy_partitioned(con, _exposures_sql(units, days), exposure_columns, out / "exposures", out / ".part_exp")
    _copy_partitioned(con, _events_sql(units, events, days), "unit_id, event_name, event_at, value",
                      out / "metric_events", out / ".part_ev")
    counts = {}
    for table in ("exposures", "metric_events"):
        rows = con.execute(
            f"select count(*) from read_parquet('{out / table}/*.parquet')"
        ).fetchone()[0]
        counts[table] = int(rows)
    con.close()
    shutil.rmtree(out / ".tmp", ignore_errors=True)
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "units": units,
        "events_requested": events,
        "days": days,
        "seed": seed,
        "first_day": DATA_START.isoformat(),
        "last_day": day_date(days - 1).isoformat(),
        "rows": counts,
        "bytes": sum(f.stat().st_size for f in out.rglob("*.parquet")),
        "seconds": round(time.perf_counter() - started, 2),
        "experiments": {k: [a.isoformat(), b.isoformat()] for k, (a, b) in experiment_dates(days).items()},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def ensure(out: Path, units: int, events: int, days: int = 30, seed: int = 42) -> dict:
    """Generate unless ``out`` already holds this exact data set (cache by parameters)."""
    manifest_path = Path(out) / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if (manifest.get("generator_version"), manifest.get("units"), manifest.get("events_requested"),
                manifest.get("days"), manifest.get("seed")) == (GENERATOR_VERSION, units, events, days, seed):
            manifest["cached"] = True
            return manifest
    return generate(out, units, events, days, seed)


def files_through(data_dir: Path, table: str, last_day: dt.date) -> list[Path]:
    """The table's parquet files whose day is <= last_day."""
    return sorted(
        f for f in (Path(data_dir) / table).glob("*.parquet")
        if dt.date.fromisoformat(f.name[:10]) <= last_day
    )


def link_days(data_dir: Path, dest: Path, last_day: dt.date) -> None:
    """Make ``dest/<table>/`` hold (hard links to) the files of days <= last_day (adds missing)."""
    for table in ("exposures", "metric_events"):
        target = Path(dest) / table
        target.mkdir(parents=True, exist_ok=True)
        for f in files_through(data_dir, table, last_day):
            link = target / f.name
            if not link.exists():
                try:
                    os.link(f, link)
                except OSError:
                    shutil.copyfile(f, link)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--size", choices=sorted(SIZES), help="preset units/events")
    ap.add_argument("--units", type=int)
    ap.add_argument("--events", type=int)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args(argv)
    units, events = SIZES[a.size] if a.size else (a.units, a.events)
    if a.units:
        units = a.units
    if a.events:
        events = a.events
    if not units or not events:
        ap.error("give --size or --units and --events")
    print(json.dumps(generate(a.out, units, events, a.days, a.seed), indent=2))


if __name__ == "__main__":
    main()
