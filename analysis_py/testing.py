"""Helpers for tests and examples: aggregate unit-level rows into ``fct_arm_statistics``-shaped
sufficient statistics (the job the SQL models do in production). Not used by the pipeline."""
from __future__ import annotations

import numpy as np
import pandas as pd

KEYS = ["experiment_id", "metric_id", "variant_id", "dimension_name", "dimension_value", "analysis_date"]


def arm_stats_from_units(units: pd.DataFrame, keys=KEYS) -> pd.DataFrame:
    """Sum unit-level columns ``num``, ``den``, ``pre_num``, ``pre_den`` (absent or all-NaN
    columns give NULL sums, as in SQL) into one row per ``keys`` group with n_units,
    n_units_with_pre_period (units with any non-zero pre value) and the 16 sums."""
    u = units.copy()
    for c in ("den", "pre_num", "pre_den"):
        if c not in u:
            u[c] = np.nan
    prods = {
        "sum_num": ("num", None), "sum_num_sq": ("num", "num"), "sum_den": ("den", None),
        "sum_den_sq": ("den", "den"), "sum_num_den": ("num", "den"), "sum_pre_num": ("pre_num", None),
        "sum_pre_num_sq": ("pre_num", "pre_num"), "sum_pre_den": ("pre_den", None),
        "sum_pre_den_sq": ("pre_den", "pre_den"), "sum_pre_num_pre_den": ("pre_num", "pre_den"),
        "sum_num_pre_num": ("num", "pre_num"), "sum_num_pre_den": ("num", "pre_den"),
        "sum_den_pre_num": ("den", "pre_num"), "sum_den_pre_den": ("den", "pre_den"),
    }
    for name, (a, b) in prods.items():
        u[name] = u[a].astype(float) if b is None else u[a].astype(float) * u[b].astype(float)
    u["has_pre"] = ((u["pre_num"].fillna(0) != 0) | (u["pre_den"].fillna(0) != 0)).astype(np.int64)
    g = u.groupby(keys, sort=True, dropna=False)
    out = g[list(prods)].sum(min_count=1)
    out.insert(0, "n_units_with_pre_period", g["has_pre"].sum().astype(np.int64))
    out.insert(0, "n_units", g.size().astype(np.int64))
    return out.reset_index()
