"""The floor: one hand-written DuckDB query over the raw parquet files that computes the same
per-arm sufficient statistics as ``fct_arm_statistics`` for one analysis date (the final one),
overall slice only.

Same semantics as the pipeline (docs/semantics.md): row-level exposure checks (registry,
experiment window, as-of cutoff), unit exclusions (internal, bot, several variants), first
exposure per unit, event checks (missing fields, future, non-finite value), attribution windows
after first exposure cut at the as-of date, pre-period covariates, conversion indicators,
winsorisation caps on unit totals, mean / ratio denominators, and every registered arm. It reads
the registry CSVs directly. What it does NOT do, by design, is what the pipeline adds on top:
every analysis date, every slice, quarantine accounting, SRM, tests and the Python step.

The query text is :func:`floor_query` (printed by ``python -m exptools.benchmark.floor``).
Sums are DOUBLE here (the pipeline sums in decimal(38, 12)); the check is to 1e-9 relative.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

MOMENTS = [
    "n_units", "n_units_with_pre_period",
    "sum_num", "sum_num_sq", "sum_den", "sum_den_sq", "sum_num_den",
    "sum_pre_num", "sum_pre_num_sq", "sum_pre_den", "sum_pre_den_sq", "sum_pre_num_pre_den",
    "sum_num_pre_num", "sum_num_pre_den", "sum_den_pre_num", "sum_den_pre_den",
]
KEYS = ["experiment_id", "metric_id", "variant_id"]


def _ctes(exposures: str, events: str, registry: Path, as_of: str) -> str:
    """Everything up to the per-unit values (shared by the floor and the peers' unit table)."""
    reg = Path(registry)
    csv = "read_csv('{}', header = true, all_varchar = true)"
    cutoff = f"(date '{as_of}' + interval 1 day)"
    num_post, den_post = _measure("t.post", "d.num_measure"), _measure("t.post", "d.den_measure")
    num_pre, den_pre = _measure("t.pre", "d.num_measure"), _measure("t.pre", "d.den_measure")
    num, den = _value("r.num_raw", "d.num_ind", "d.num_cap"), _value("r.den_raw", "d.den_ind", "d.den_cap")
    pre_num = _value("r.pre_num_raw", "d.num_ind", "d.num_cap")
    pre_den = _value("r.pre_den_raw", "d.den_ind", "d.den_cap")
    return f"""
with experiments as (
    select trim(experiment_id) as experiment_id, cast(start_date as date) as start_date,
        cast(end_date as date) as end_date
    from {csv.format(reg / 'experiments.csv')}
),
variants as (
    select trim(experiment_id) as experiment_id, trim(variant_id) as variant_id
    from {csv.format(reg / 'variants.csv')}
),
metrics as (
    select metric_id, aggregation, source_event, numerator_metric_id, denominator_metric_id,
        coalesce(cast(attribution_window_days as integer), 0) as w,
        coalesce(cast(pre_period_days as integer), 0) as p,
        cast(winsorize_cap as double) as cap
    from {csv.format(reg / 'metrics.csv')}
),
defs as (
    -- Each analysed metric as a numerator (and, for mean / ratio, a denominator) component.
    select
        em.experiment_id, m.metric_id, m.w, m.p,
        m.aggregation in ('mean', 'ratio') as has_den,
        m.p > 0 as has_pre,
        if(m.aggregation = 'ratio', n.source_event, m.source_event) as num_event,
        case when m.aggregation = 'ratio' then if(n.aggregation = 'sum', 'value_sum', 'event_count')
             when m.aggregation in ('sum', 'mean') then 'value_sum' else 'event_count' end as num_measure,
        if(m.aggregation = 'ratio', n.aggregation = 'conversion', m.aggregation = 'conversion') as num_ind,
        case when m.aggregation = 'ratio' then n.cap when m.aggregation in ('sum', 'count') then m.cap end
            as num_cap,
        case when m.aggregation = 'ratio' then d.source_event when m.aggregation = 'mean' then m.source_event
            end as den_event,
        case when m.aggregation = 'ratio' then if(d.aggregation = 'sum', 'value_sum', 'event_count')
             when m.aggregation = 'mean' then 'value_count' end as den_measure,
        coalesce(m.aggregation = 'ratio' and d.aggregation = 'conversion', false) as den_ind,
        if(m.aggregation = 'ratio', d.cap, null) as den_cap
    from {csv.format(reg / 'experiment_metrics.csv')} as em
    join metrics as m on em.metric_id = m.metric_id
    left join metrics as n on m.numerator_metric_id = n.metric_id
    left join metrics as d on m.denominator_metric_id = d.metric_id
),
event_windows as (
    select distinct experiment_id, num_event as event_name, w, p from defs
    union
    select distinct experiment_id, den_event, w, p from defs where den_event is not null
),
exposure_rows as (
    select nullif(trim(experiment_id), '') as experiment_id, nullif(trim(unit_id), '') as unit_id,
        nullif(trim(variant_id), '') as variant_id, exposed_at,
        coalesce(is_internal, false) as is_internal, coalesce(is_bot, false) as is_bot
    from read_parquet('{exposures}')
),
units as (
    -- First exposure per (experiment, unit) over valid rows; excluded units dropped.
    select r.experiment_id, r.unit_id, min(r.exposed_at) as t0, min(r.variant_id) as variant_id
    from exposure_rows as r
    join experiments as x on r.experiment_id = x.experiment_id
    join variants as v on r.experiment_id = v.experiment_id and r.variant_id = v.variant_id
    where r.unit_id is not null and r.exposed_at is not null
        and r.exposed_at < {cutoff}
        and r.exposed_at >= x.start_date and r.exposed_at < x.end_date + interval 1 day
    group by r.experiment_id, r.unit_id
    having not bool_or(r.is_internal) and not bool_or(r.is_bot) and count(distinct r.variant_id) = 1
),
events as (
    select nullif(trim(unit_id), '') as unit_id, nullif(trim(event_name), '') as event_name, event_at, value
    from read_parquet('{events}')
    where event_at < {cutoff} and (value is null or isfinite(value))
),
unit_event_totals as (
    -- Per unit, event and window: post-period and pre-period count, sum and count of values.
    select experiment_id, unit_id, event_name, w, p,
        count(*) filter (where post) as post_n,
        coalesce(sum(value) filter (where post), 0) as post_sum,
        count(value) filter (where post) as post_vn,
        count(*) filter (where not post) as pre_n,
        coalesce(sum(value) filter (where not post), 0) as pre_sum,
        count(value) filter (where not post) as pre_vn
    from (
        select u.experiment_id, u.unit_id, e.event_name, ew.w, ew.p, e.value,
            e.event_at >= u.t0 and e.event_at < u.t0 + to_days(ew.w) as post,
            ew.p > 0 and e.event_at < u.t0 and e.event_at >= u.t0 - to_days(ew.p) as pre
        from events as e
        join units as u on e.unit_id = u.unit_id
        join event_windows as ew on u.experiment_id = ew.experiment_id and e.event_name = ew.event_name
    ) as matched
    where post or pre
    group by experiment_id, unit_id, event_name, w, p
),
unit_raw as (
    -- Per unit and metric: raw component totals (post and pre) and whether it had pre events.
    select d.experiment_id, d.metric_id, t.unit_id,
        sum(if(t.event_name = d.num_event, {num_post}, 0)) as num_raw,
        sum(if(t.event_name = d.den_event, {den_post}, 0)) as den_raw,
        sum(if(t.event_name = d.num_event, {num_pre}, 0)) as pre_num_raw,
        sum(if(t.event_name = d.den_event, {den_pre}, 0)) as pre_den_raw,
        sum(t.pre_n) > 0 as has_pre_events
    from unit_event_totals as t
    join defs as d on t.experiment_id = d.experiment_id and t.w = d.w and t.p = d.p
        and (t.event_name = d.num_event or t.event_name = d.den_event)
    group by d.experiment_id, d.metric_id, t.unit_id
),
unit_values as (
    -- Per-unit values: indicator for conversion, cap on the unit total (post and pre alike).
    select r.experiment_id, r.metric_id, r.unit_id, r.has_pre_events,
        {num} as num,
        {den} as den,
        {pre_num} as pre_num,
        {pre_den} as pre_den
    from unit_raw as r
    join defs as d on r.experiment_id = d.experiment_id and r.metric_id = d.metric_id
)
"""



def _measure(prefix: str, measure_col: str) -> str:
    return (f"case {measure_col} when 'event_count' then {prefix}_n when 'value_sum' then {prefix}_sum "
            f"when 'value_count' then {prefix}_vn else 0 end")


def _value(raw: str, indicator: str, cap: str) -> str:
    return (f"case when {indicator} then if({raw} > 0, 1.0, 0.0) "
            f"when {cap} is not null then least(cast({raw} as double), {cap}) else cast({raw} as double) end")


def floor_query(exposures: str, events: str, registry: Path, as_of: str) -> str:
    """The floor: per (experiment, metric, registered variant) arm moments at ``as_of``, overall."""
    sums = {
        "sum_num": "num", "sum_num_sq": "num * num", "sum_den": "den", "sum_den_sq": "den * den",
        "sum_num_den": "num * den", "sum_pre_num": "pre_num", "sum_pre_num_sq": "pre_num * pre_num",
        "sum_pre_den": "pre_den", "sum_pre_den_sq": "pre_den * pre_den",
        "sum_pre_num_pre_den": "pre_num * pre_den", "sum_num_pre_num": "num * pre_num",
        "sum_num_pre_den": "num * pre_den", "sum_den_pre_num": "den * pre_num",
        "sum_den_pre_den": "den * pre_den",
    }
    arm_sums = ",\n        ".join(f"sum({expr}) as {name}" for name, expr in sums.items())
    final = []
    for name in sums:
        null_if = []
        if "den" in name:
            null_if.append("not d.has_den")
        if "pre" in name:
            null_if.append("not d.has_pre")
        value = f"coalesce(s.{name}, 0)"
        final.append(f"case when {' or '.join(null_if)} then null else {value} end as {name}"
                     if null_if else f"{value} as {name}")
    final_columns = ",\n    ".join(final)
    return _ctes(exposures, events, registry, as_of) + f""",
arm_units as (
    select experiment_id, variant_id, count(*) as n_units from units group by experiment_id, variant_id
),
arm_sums as (
    select v.experiment_id, v.metric_id, u.variant_id,
        count(*) filter (where v.has_pre_events) as n_units_with_pre_period,
        {arm_sums}
    from unit_values as v
    join units as u on v.experiment_id = u.experiment_id and v.unit_id = u.unit_id
    group by v.experiment_id, v.metric_id, u.variant_id
)
select d.experiment_id, d.metric_id, va.variant_id,
    coalesce(a.n_units, 0) as n_units,
    if(d.has_pre, coalesce(s.n_units_with_pre_period, 0), 0) as n_units_with_pre_period,
    {final_columns}
from defs as d
join variants as va on d.experiment_id = va.experiment_id
left join arm_units as a on d.experiment_id = a.experiment_id and va.variant_id = a.variant_id
left join arm_sums as s on d.experiment_id = s.experiment_id and d.metric_id = s.metric_id
    and va.variant_id = s.variant_id
order by 1, 2, 3
"""


def unit_table_query(exposures: str, events: str, registry: Path, as_of: str) -> str:
    """One row per (experiment, metric, analysed unit) incl. units without events (zeros): the
    per-unit table the peers analyse (long format; pivoted per experiment by the peers)."""
    return _ctes(exposures, events, registry, as_of) + """
select u.experiment_id, d.metric_id, u.unit_id, u.variant_id,
    coalesce(v.num, 0) as num,
    if(d.has_den, coalesce(v.den, 0), null) as den,
    if(d.has_pre, coalesce(v.pre_num, 0), null) as pre_num,
    if(d.has_pre and d.has_den, coalesce(v.pre_den, 0), null) as pre_den
from units as u
join defs as d on u.experiment_id = d.experiment_id
left join unit_values as v on u.experiment_id = v.experiment_id and d.metric_id = v.metric_id
    and u.unit_id = v.unit_id
"""


def compare(floor_rows: list[dict], pipeline_rows: list[dict], rtol: float = 1e-9) -> dict:
    """Compare floor and pipeline arm moments keyed by (experiment, metric, variant)."""
    f = {tuple(r[k] for k in KEYS): r for r in floor_rows}
    p = {tuple(r[k] for k in KEYS): r for r in pipeline_rows}
    problems, max_rel = [], 0.0
    for key in sorted(set(f) | set(p)):
        if key not in f or key not in p:
            problems.append(f"{key}: only in {'floor' if key in f else 'pipeline'}")
            continue
        for column in MOMENTS:
            a, b = f[key][column], p[key][column]
            if a is None or b is None or (isinstance(a, float) and math.isnan(a)) \
                    or (isinstance(b, float) and math.isnan(b)):
                a_null = a is None or (isinstance(a, float) and math.isnan(a))
                b_null = b is None or (isinstance(b, float) and math.isnan(b))
                if a_null != b_null:
                    problems.append(f"{key} {column}: floor={a} pipeline={b}")
                continue
            rel = abs(a - b) / max(abs(a), abs(b), 1.0)
            max_rel = max(max_rel, rel)
            if rel > rtol:
                problems.append(f"{key} {column}: floor={a!r} pipeline={b!r} (rel {rel:.2e})")
    return {"rows_floor": len(f), "rows_pipeline": len(p), "max_rel_diff": max_rel,
            "equal": not problems, "problems": problems[:20], "n_problems": len(problems)}


def run_floor(exposures: str, events: str, registry: Path, as_of: str, threads: int = 2,
              memory_limit: str = "6GB", disabled_optimizers: str = "") -> tuple[list[dict], float]:
    """Run the floor in a fresh in-memory DuckDB; returns (rows, query seconds)."""
    import time

    import duckdb
    con = duckdb.connect(config={"threads": threads, "memory_limit": memory_limit,
                                 "preserve_insertion_order": False,
                                 "disabled_optimizers": disabled_optimizers})
    sql = floor_query(exposures, events, Path(registry), as_of)
    started = time.perf_counter()
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row)) for row in cursor.fetchall()]
    seconds = time.perf_counter() - started
    con.close()
    return rows, seconds


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="Print (or run) the floor query.")
    ap.add_argument("--exposures", default="bench_data/S/exposures/*.parquet")
    ap.add_argument("--events", default="bench_data/S/metric_events/*.parquet")
    ap.add_argument("--registry", required=True, help="directory of the registry CSVs (dates filled)")
    ap.add_argument("--as-of", default="2026-01-30")
    ap.add_argument("--run", action="store_true", help="run it (else print the SQL)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--memory-limit", default="6GB")
    ap.add_argument("--disabled-optimizers", default="",
                    help="DuckDB's disabled_optimizers (default: none, DuckDB's own plan)")
    ap.add_argument("--json-out", help="write {rows, query_s} here")
    a = ap.parse_args(argv)
    if not a.run:
        print(floor_query(a.exposures, a.events, Path(a.registry), a.as_of))
        return
    rows, seconds = run_floor(a.exposures, a.events, Path(a.registry), a.as_of, a.threads, a.memory_limit,
                              a.disabled_optimizers)
    if a.json_out:
        import json
        Path(a.json_out).write_text(json.dumps({"rows": rows, "query_s": seconds}, default=str))
    print(f"floor: {len(rows)} arm rows in {seconds:.3f} s")


if __name__ == "__main__":
    main()
