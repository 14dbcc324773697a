"""Synthetic aggregate inputs and a timing benchmark of :func:`compute_results`.

Run ``python -m analysis_py.bench`` (defaults: 100 experiments x 20 metrics x 3 arms x
10 slices x 30 dates = 1.8M arm rows). Not a unit test: timings depend on the machine.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import pyarrow as pa

AGG_CYCLE = ("conversion", "count", "sum", "mean", "ratio")


def synthetic_inputs(n_experiments=100, n_metrics=20, n_arms=3, n_slices=10, n_dates=30, seed=0):
    """Consistent synthetic (arm_stats, metric_configs, variants) as pyarrow Tables.

    Per arm row: n ~ Poisson(2000); per-unit moments are drawn for each aggregation and the sums
    are built from them so that every Cauchy–Schwarz constraint holds."""
    rng = np.random.default_rng(seed)
    E, M, K, S, D = n_experiments, n_metrics, n_arms, n_slices, n_dates
    exp_ids = np.array([f"exp_{i:04d}" for i in range(E)], dtype=object)
    met_ids = np.array([f"metric_{j:03d}" for j in range(M)], dtype=object)
    var_ids = np.array(["control"] + [f"treatment_{k}" for k in range(1, K)], dtype=object)
    slice_vals = np.array(["all"] + [f"value_{s}" for s in range(1, S)], dtype=object)
    slice_names = np.array(["overall"] + ["country"] * (S - 1), dtype=object)
    start = np.datetime64("2024-01-01")
    ei, mi, ki, si, di = (a.ravel() for a in np.meshgrid(np.arange(E), np.arange(M), np.arange(K), np.arange(S), np.arange(D), indexing="ij"))
    N = ei.size
    agg_idx = mi % len(AGG_CYCLE)
    n = rng.poisson(2000, N).astype(np.float64) * (di + 1) / D
    n = np.floor(n)
    # per-unit distribution parameters
    mu = 1.0 + 0.1 * rng.standard_normal(N)
    sd = 1.0 + 0.05 * rng.standard_normal(N) ** 2
    p = np.clip(0.1 + 0.01 * rng.standard_normal(N), 0.01, 0.99)
    mean_num = np.where(agg_idx == 0, p, mu)
    var_num = np.where(agg_idx == 0, p * (1 - p), sd ** 2)
    noise = rng.standard_normal(N) * np.sqrt(var_num / np.maximum(n, 1))
    sum_num = np.where(agg_idx == 0, np.round(n * np.clip(mean_num + noise, 0, 1)), n * (mean_num + noise))
    sum_num_sq = np.where(agg_idx == 0, sum_num, (n - 1) * var_num + sum_num ** 2 / np.maximum(n, 1))
    ratio_like = agg_idx >= 3
    mean_den = 2.0 + 0.1 * rng.standard_normal(N)
    sum_den = n * mean_den
    var_den = np.full(N, 1.5)
    cov_nd = 0.5 * np.sqrt(var_num * var_den)
    sum_den_sq = (n - 1) * var_den + sum_den ** 2 / np.maximum(n, 1)
    sum_num_den = (n - 1) * cov_nd + sum_num * sum_den / np.maximum(n, 1)
    # pre-period: correlated covariates, rho = 0.6
    rho = 0.6
    sum_pre_num = n * mean_num * 0.95
    sum_pre_num_sq = (n - 1) * var_num + sum_pre_num ** 2 / np.maximum(n, 1)
    sum_num_pre_num = (n - 1) * rho * var_num + sum_num * sum_pre_num / np.maximum(n, 1)
    sum_pre_den = sum_den * 0.95
    sum_pre_den_sq = (n - 1) * var_den + sum_pre_den ** 2 / np.maximum(n, 1)
    sum_pre_num_pre_den = (n - 1) * cov_nd + sum_pre_num * sum_pre_den / np.maximum(n, 1)
    sum_num_pre_den = (n - 1) * 0.3 * cov_nd + sum_num * sum_pre_den / np.maximum(n, 1)
    sum_den_pre_num = (n - 1) * 0.3 * cov_nd + sum_den * sum_pre_num / np.maximum(n, 1)
    sum_den_pre_den = (n - 1) * rho * var_den + sum_den * sum_pre_den / np.maximum(n, 1)
    nan = np.nan
    den = lambda a: np.where(ratio_like, a, nan)  # noqa: E731
    pre_den = lambda a: np.where(ratio_like, a, nan)  # noqa: E731
    arm = pa.table({
        "experiment_id": pa.DictionaryArray.from_arrays(ei.astype(np.int32), pa.array(exp_ids, pa.string())).dictionary_decode(),
        "metric_id": pa.DictionaryArray.from_arrays(mi.astype(np.int32), pa.array(met_ids, pa.string())).dictionary_decode(),
        "variant_id": pa.DictionaryArray.from_arrays(ki.astype(np.int32), pa.array(var_ids, pa.string())).dictionary_decode(),
        "dimension_name": pa.DictionaryArray.from_arrays(si.astype(np.int32), pa.array(slice_names, pa.string())).dictionary_decode(),
        "dimension_value": pa.DictionaryArray.from_arrays(si.astype(np.int32), pa.array(slice_vals, pa.string())).dictionary_decode(),
        "analysis_date": pa.array((start + di.astype("timedelta64[D]")).astype("datetime64[D]"), pa.date32()),
        "n_units": pa.array(n.astype(np.int64)),
        "n_units_with_pre_period": pa.array((0.8 * n).astype(np.int64)),
        "sum_num": sum_num, "sum_num_sq": sum_num_sq,
        "sum_den": den(sum_den), "sum_den_sq": den(sum_den_sq), "sum_num_den": den(sum_num_den),
        "sum_pre_num": sum_pre_num, "sum_pre_num_sq": sum_pre_num_sq,
        "sum_pre_den": pre_den(sum_pre_den), "sum_pre_den_sq": pre_den(sum_pre_den_sq),
        "sum_pre_num_pre_den": pre_den(sum_pre_num_pre_den), "sum_num_pre_num": sum_num_pre_num,
        "sum_num_pre_den": pre_den(sum_num_pre_den), "sum_den_pre_num": pre_den(sum_den_pre_num),
        "sum_den_pre_den": pre_den(sum_den_pre_den),
    })
    ce, cm = (a.ravel() for a in np.meshgrid(np.arange(E), np.arange(M), indexing="ij"))
    roles = np.where(cm == 0, "primary", np.where(cm % 4 == 3, "guardrail", "secondary"))
    cfg = pd.DataFrame({
        "experiment_id": exp_ids[ce], "metric_id": met_ids[cm], "metric_role": roles,
        "aggregation": np.array(AGG_CYCLE, dtype=object)[cm % len(AGG_CYCLE)],
        "desired_direction": np.where(cm % 7 == 6, "decrease", "increase"),
        "practical_threshold": 0.01, "threshold_scale": "relative",
        "guardrail_tolerance": np.where(roles == "guardrail", 0.05, np.nan), "alpha": 0.05,
        "use_cuped": True, "has_pre_period": True, "analysis_method": "fixed_horizon",
        "start_date": pd.Timestamp("2024-01-01").date(),
        "end_date": (pd.Timestamp("2024-01-01") + pd.Timedelta(days=D - 1)).date(),
    })
    ve, vk = (a.ravel() for a in np.meshgrid(np.arange(E), np.arange(K), indexing="ij"))
    variants = pd.DataFrame({"experiment_id": exp_ids[ve], "variant_id": var_ids[vk],
                             "is_control": vk == 0, "traffic_weight": 1.0 / K})
    return arm, pa.Table.from_pandas(cfg, preserve_index=False), pa.Table.from_pandas(variants, preserve_index=False)


def run(repeats: int = 3, **kwargs) -> dict:
    """Time compute_results on synthetic inputs; returns rows and the best wall time (s)."""
    from .results import compute_results

    arm, cfg, variants = synthetic_inputs(**kwargs)
    best = best_cpu = np.inf
    out = None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = compute_results(arm, cfg, variants)
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return {"input_rows": arm.num_rows, "output_rows": out.num_rows, "seconds": best, "cpu_seconds": best_cpu}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--experiments", type=int, default=100)
    ap.add_argument("--metrics", type=int, default=20)
    ap.add_argument("--arms", type=int, default=3)
    ap.add_argument("--slices", type=int, default=10)
    ap.add_argument("--dates", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    r = run(a.repeats, n_experiments=a.experiments, n_metrics=a.metrics, n_arms=a.arms, n_slices=a.slices, n_dates=a.dates)
    print(f"compute_results: {r['input_rows']:,} arm rows -> {r['output_rows']:,} result rows in "
          f"{r['seconds']:.3f} s wall, {r['cpu_seconds']:.3f} s CPU (best of {a.repeats})")
