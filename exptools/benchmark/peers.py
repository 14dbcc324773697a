"""Peers on the same data (optional extra ``bench``): tea-tasting (DuckDB backend through ibis)
and cluster-experiments (pandas rows, statsmodels OLS / delta method).

Both get the same per-unit table: one row per analysed unit of an experiment with its variant
and, per metric, ``<m>`` (num), ``<m>__den``, ``<m>__pre``, ``<m>__pre_den`` (built by the
floor's CTEs, :func:`exptools.benchmark.floor.unit_table_query`, and pivoted per experiment).
Their estimates for the final date, overall slice, are compared with ``fct_experiment_results``:

* unadjusted: conversion, count, sum -> mean difference; mean / ratio -> ratio of means by the
  delta method; compared with ``absolute_effect``, ``ci_lower/upper``, ``p_value``;
* CUPED (metrics with a pre-period): compared with ``cuped_absolute_effect``, ``cuped_ci_*``,
  ``cuped_p_value``.

The methods are not identical (documented in docs/benchmarks.md): tea-tasting's Mean is a Welch
t-test (ours: pooled-SE z for conversions), its CUPED theta is estimated over both arms together
(ours: pooled within arms); cluster-experiments' OLS uses the homoskedastic OLS standard error
(ours: Welch) and its delta method ddof = 0 (ours: ddof = 1). Point estimates without CUPED are
the same estimator and must agree to rounding; the OLS coefficient with the covariate equals our
CUPED effect exactly (Frisch-Waugh-Lovell), so that must agree to rounding too.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import duckdb

from .floor import unit_table_query

RESULT_COLUMNS = ["experiment_id", "metric_id", "aggregation", "treatment_variant_id", "absolute_effect",
                  "ci_lower", "ci_upper", "p_value", "cuped_absolute_effect", "cuped_ci_lower",
                  "cuped_ci_upper", "cuped_p_value", "test_method"]


def registry_metrics(con, registry: Path) -> list[dict]:
    sql = f"""
        select em.experiment_id, em.metric_id, m.aggregation,
            coalesce(try_cast(m.pre_period_days as integer), 0) > 0 as has_pre
        from read_csv('{registry / 'experiment_metrics.csv'}', all_varchar = true) as em
        join read_csv('{registry / 'metrics.csv'}', all_varchar = true) as m using (metric_id)
        order by 1, 2
    """
    return [dict(zip(["experiment_id", "metric_id", "aggregation", "has_pre"], r))
            for r in con.execute(sql).fetchall()]


def build_unit_tables(database: Path, exposures: str, events: str, registry: Path, as_of: str,
                      threads: int = 2, memory_limit: str = "6GB") -> dict:
    """Materialise ``unit_metrics`` (long) and ``units_<experiment>`` (wide) in ``database``."""
    started = time.perf_counter()
    con = duckdb.connect(str(database), config={"threads": threads, "memory_limit": memory_limit,
                                                "preserve_insertion_order": False})
    con.execute("create or replace table unit_metrics as " + unit_table_query(exposures, events, registry, as_of))
    metrics = registry_metrics(con, registry)
    experiments = sorted({m["experiment_id"] for m in metrics})
    for experiment_id in experiments:
        columns = []
        for m in (m for m in metrics if m["experiment_id"] == experiment_id):
            mid = m["metric_id"]
            for suffix, col in (("", "num"), ("__den", "den"), ("__pre", "pre_num"), ("__pre_den", "pre_den")):
                columns.append(f"max({col}) filter (where metric_id = '{mid}') as {mid}{suffix}")
        con.execute(f"""
            create or replace table units_{experiment_id} as
            select unit_id, variant_id, {', '.join(columns)}
            from unit_metrics where experiment_id = '{experiment_id}'
            group by unit_id, variant_id
        """)
    con.close()
    return {"seconds": time.perf_counter() - started, "experiments": experiments, "metrics": metrics}


def pipeline_results(database: Path, as_of: str) -> dict:
    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.execute(f"""
            select {', '.join(RESULT_COLUMNS)} from fct_experiment_results
            where dimension_name = 'overall' and analysis_date = date '{as_of}'
        """).fetchall()
    return {(r[0], r[1], r[3]): dict(zip(RESULT_COLUMNS, r)) for r in rows}


def _rel(a, b) -> float:
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)) or (isinstance(b, float) and math.isnan(b)):
        return float("nan")
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def _nan(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _compare(kind, key, ours, prefix, effect, lower, upper, p_value) -> dict:
    """Differences of a peer's estimate from ours: effect relative; CI bounds in units of our CI
    half-width (so a bound near 0 is not blown up); p-value absolute."""
    ours_effect, ours_lower, ours_upper, ours_p = (ours[f"{prefix}{c}"] for c in
                                                   ("absolute_effect", "ci_lower", "ci_upper", "p_value"))
    half = (ours_upper - ours_lower) / 2 if not (_nan(ours_upper) or _nan(ours_lower)) else float("nan")
    def in_half_widths(a, b):
        return float("nan") if _nan(a) or _nan(b) or _nan(half) or half == 0 else abs(a - b) / half
    return {"kind": kind, "key": key,
            "effect_rel": _rel(effect, ours_effect),
            "ci_lower_hw": in_half_widths(lower, ours_lower),
            "ci_upper_hw": in_half_widths(upper, ours_upper),
            "p_value_abs": float("nan") if _nan(p_value) or _nan(ours_p) else abs(p_value - ours_p)}


def _summarise(comparisons: list[dict]) -> dict:
    out = {}
    for kind in sorted({c["kind"] for c in comparisons}):
        rows = [c for c in comparisons if c["kind"] == kind]
        out[f"{kind}.n"] = len(rows)
        for field in ("effect_rel", "ci_lower_hw", "ci_upper_hw", "p_value_abs"):
            values = [c[field] for c in rows if not math.isnan(c[field])]
            out[f"{kind}.{field}.max"] = max(values) if values else None
    return out


def run_tea_tasting(database: Path, unit_info: dict, ours: dict) -> dict:
    try:
        import ibis
        import tea_tasting as tt
    except ImportError as exc:  # the bench extra is not installed
        return {"status": f"not installed: {exc}"}
    started = time.perf_counter()
    con = ibis.duckdb.connect(str(database), read_only=True)
    comparisons = []
    for experiment_id in unit_info["experiments"]:
        metrics = {}
        for m in (m for m in unit_info["metrics"] if m["experiment_id"] == experiment_id):
            mid, agg = m["metric_id"], m["aggregation"]
            if agg in ("mean", "ratio"):
                metrics[f"{mid}"] = tt.RatioOfMeans(mid, f"{mid}__den", use_t=False)
                if m["has_pre"]:
                    metrics[f"{mid}__cuped"] = tt.RatioOfMeans(mid, f"{mid}__den", f"{mid}__pre", f"{mid}__pre_den",
                                                               use_t=False)
            else:
                metrics[f"{mid}"] = tt.Mean(mid, use_t=agg != "conversion")
                if m["has_pre"]:
                    metrics[f"{mid}__cuped"] = tt.Mean(mid, f"{mid}__pre", use_t=False)
        data = con.table(f"units_{experiment_id}").rename(variant="variant_id")
        results = tt.Experiment(metrics).analyze(data, control="control", all_variants=True)
        for (control, treatment), result in results.items():
            if control != "control":
                continue
            for metric_result in result.to_dicts():
                name = metric_result["metric"]
                mid, cuped = name.removesuffix("__cuped"), name.endswith("__cuped")
                row = ours.get((experiment_id, mid, treatment))
                if row is None:
                    continue
                prefix = "cuped_" if cuped else ""
                comparisons.append(_compare(
                    "cuped" if cuped else "unadjusted", f"{experiment_id}/{mid}/{treatment}", row, prefix,
                    metric_result["effect_size"], metric_result["effect_size_ci_lower"],
                    metric_result["effect_size_ci_upper"], metric_result["pvalue"]))
    seconds = time.perf_counter() - started
    con.disconnect()
    return {"status": "ok", "seconds": seconds, "comparisons": len(comparisons),
            "summary": _summarise(comparisons), "details": comparisons}


def run_cluster_experiments(database: Path, unit_info: dict, ours: dict) -> dict:
    try:
        import cluster_experiments as ce
    except ImportError as exc:
        return {"status": f"not installed: {exc}"}
    import warnings
    started = time.perf_counter()
    load_s = 0.0
    comparisons = []
    with duckdb.connect(str(database), read_only=True) as con:
        for experiment_id in unit_info["experiments"]:
            t0 = time.perf_counter()
            df = con.execute(f"select * from units_{experiment_id}").df()
            load_s += time.perf_counter() - t0
            treatments = sorted(v for v in df["variant_id"].unique() if v != "control")
            for m in (m for m in unit_info["metrics"] if m["experiment_id"] == experiment_id):
                mid, agg = m["metric_id"], m["aggregation"]
                for treatment in treatments:
                    row = ours.get((experiment_id, mid, treatment))
                    if row is None:
                        continue
                    pair = df[df["variant_id"].isin(["control", treatment])]
                    runs = []
                    if agg in ("mean", "ratio"):
                        runs.append(("unadjusted", ce.DeltaMethodAnalysis(
                            cluster_cols=["unit_id"], target_col=mid, scale_col=f"{mid}__den",
                            treatment_col="variant_id", treatment=treatment)))
                    else:
                        runs.append(("unadjusted", ce.OLSAnalysis(
                            target_col=mid, treatment_col="variant_id", treatment=treatment)))
                        if m["has_pre"]:
                            runs.append(("cuped", ce.OLSAnalysis(
                                target_col=mid, treatment_col="variant_id", treatment=treatment,
                                covariates=[f"{mid}__pre"])))
                    for kind, analysis in runs:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            res = analysis.get_inference_results(pair, alpha=0.05)
                        prefix = "cuped_" if kind == "cuped" else ""
                        comparisons.append(_compare(
                            kind, f"{experiment_id}/{mid}/{treatment}", row, prefix, float(res.ate),
                            float(res.conf_int.lower), float(res.conf_int.upper), float(res.p_value)))
    seconds = time.perf_counter() - started
    return {"status": "ok", "seconds": seconds, "load_rows_s": load_s, "comparisons": len(comparisons),
            "summary": _summarise(comparisons), "details": comparisons}


def run(work: Path, pipeline_db: Path, exposures: str, events: str, registry: Path, as_of: str,
        threads: int = 2, memory_limit: str = "6GB", cluster_experiments: bool = True) -> dict:
    database = Path(work) / "peers.duckdb"
    database.unlink(missing_ok=True)
    unit_info = build_unit_tables(database, exposures, events, registry, as_of, threads, memory_limit)
    ours = pipeline_results(pipeline_db, as_of)
    out = {"unit_table_s": unit_info["seconds"], "tea_tasting": run_tea_tasting(database, unit_info, ours)}
    if cluster_experiments:
        out["cluster_experiments"] = run_cluster_experiments(database, unit_info, ours)
    else:
        out["cluster_experiments"] = {"status": "skipped at this size"}
    with duckdb.connect(str(database), read_only=True) as con:
        out["unit_rows"] = con.execute("select count(*) from unit_metrics").fetchone()[0]
    database.unlink(missing_ok=True)
    return out
