"""Design-specific analyses over the per-arm aggregates: factorial ANOVA and bandit allocation.

* :func:`compute_factorial_anova`: experiments with ``design = 'factorial'`` (each variant carries
  ``factor_a_level`` / ``factor_b_level``): two-way ANOVA with interaction, Type II sums of squares,
  from the cell aggregates (n, Σy, Σy² of each variant) for every per-unit metric (conversion,
  count, sum), slice and analysis date. See :func:`analysis_py.anova.two_way_anova`.
* :func:`compute_bandit_allocations`: experiments with ``design = 'bandit'``: Thompson-sampling
  traffic weights (posterior probability that each arm is best, Beta(1, 1) priors) from the
  primary conversion metric's successes / trials on the overall slice of every analysis date.
  See :func:`analysis_py.bandit.thompson_allocation_long`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from . import _arrow as A
from .anova import two_way_anova
from .bandit import thompson_allocation_long
from .decisions import _frame as frame

ANOVA_SCHEMA = pa.schema([
    ("experiment_id", pa.string()),
    ("metric_id", pa.string()),
    ("aggregation", pa.string()),
    ("dimension_name", pa.string()),
    ("dimension_value", pa.string()),
    ("analysis_date", pa.date32()),
    ("term", pa.string()),  # factor_a | factor_b | interaction | residual
    ("sum_sq", pa.float64()),
    ("df", pa.float64()),
    ("f_statistic", pa.float64()),
    ("p_value", pa.float64()),
    ("n_units", pa.int64()),
    ("n_cells", pa.int64()),
    ("status_reason", pa.string()),
])

BANDIT_SCHEMA = pa.schema([
    ("experiment_id", pa.string()),
    ("metric_id", pa.string()),
    ("analysis_date", pa.date32()),
    ("variant_id", pa.string()),
    ("n_units", pa.int64()),
    ("conversions", pa.float64()),
    ("conversion_rate", pa.float64()),
    ("current_weight", pa.float64()),
    ("prob_best", pa.float64()),
    ("recommended_weight", pa.float64()),
])

#: smallest recommended weight of any arm (keeps every arm learning)
BANDIT_MIN_WEIGHT = 0.01
_TERMS = {"A": "factor_a", "B": "factor_b", "A:B": "interaction", "Residual": "residual"}


def _frame(table, columns) -> pd.DataFrame:
    return frame(A.to_table(table), columns)


def _dates(days: np.ndarray) -> pa.Array:
    ok = np.isfinite(days)
    return pa.array(np.where(ok, days, 0).astype(np.int32), type=pa.int32(), mask=~ok).cast(pa.date32())


def _strings(values) -> pa.Array:
    return pa.array([None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values],
                    type=pa.string())


def _design_experiments(metric_configs, design: str) -> pd.DataFrame:
    cfg = _frame(metric_configs, {"experiment_id": "s", "metric_id": "s", "metric_role": "s", "aggregation": "s",
                                  "design": "s"})
    return cfg[cfg["design"].fillna("").str.lower() == design]


def compute_factorial_anova(arm_stats, metric_configs, variants) -> pa.Table:
    """Type II two-way ANOVA per factorial experiment x metric x slice x date (schema
    :data:`ANOVA_SCHEMA`, four rows per analysis). Mean and ratio metrics are not per-unit
    averages of one value and are skipped."""
    cfg = _design_experiments(metric_configs, "factorial")
    cfg = cfg[cfg["aggregation"].isin(["conversion", "count", "sum"])]
    if cfg.empty:
        return ANOVA_SCHEMA.empty_table()
    var = _frame(variants, {"experiment_id": "s", "variant_id": "s", "factor_a_level": "s", "factor_b_level": "s"})
    arms = _frame(arm_stats, {"experiment_id": "s", "metric_id": "s", "variant_id": "s", "dimension_name": "s",
                              "dimension_value": "s", "analysis_date": "d", "n_units": "f", "sum_num": "f",
                              "sum_num_sq": "f"})
    arms = arms.merge(cfg[["experiment_id", "metric_id", "aggregation"]], on=["experiment_id", "metric_id"])
    arms = arms.merge(var, on=["experiment_id", "variant_id"], how="left")
    keys = ["experiment_id", "metric_id", "aggregation", "dimension_name", "dimension_value", "analysis_date"]
    arms = arms.sort_values(keys + ["variant_id"], kind="stable")
    out = {name: [] for name in ANOVA_SCHEMA.names}
    for key, cells in arms.groupby(keys, sort=True):  # one loop step per ANOVA table, not per row
        table = two_way_anova(cells["factor_a_level"].fillna("(missing)").to_numpy(dtype=object),
                              cells["factor_b_level"].fillna("(missing)").to_numpy(dtype=object),
                              cells["n_units"].to_numpy(), cells["sum_num"].to_numpy(), cells["sum_num_sq"].to_numpy(),
                              factor_names=("A", "B"))
        reason = table.status_reason if hasattr(table, "status_reason") else None
        for i, term in enumerate(table.term):
            for name, value in zip(keys, key):
                out[name].append(value)
            out["term"].append(_TERMS.get(term, term))
            out["sum_sq"].append(float(table.sum_sq[i]))
            out["df"].append(float(table.df[i]))
            out["f_statistic"].append(float(table.F[i]))
            out["p_value"].append(float(table.p_value[i]))
            out["n_units"].append(int(np.nansum(cells["n_units"])))
            out["n_cells"].append(int((cells["n_units"] > 0).sum()))
            out["status_reason"].append(reason or None)
    floats = {"sum_sq", "df", "f_statistic", "p_value"}
    arrays = []
    for field in ANOVA_SCHEMA:
        values = out[field.name]
        if field.name == "analysis_date":
            arrays.append(_dates(np.asarray(values, dtype=float)))
        elif field.name in floats:
            arrays.append(A.float_out(np.asarray(values, dtype=float)))
        elif field.type == pa.int64():
            arrays.append(pa.array(values, type=pa.int64()))
        else:
            arrays.append(_strings(values))
    return pa.Table.from_arrays(arrays, schema=ANOVA_SCHEMA)


def compute_bandit_allocations(arm_stats, metric_configs, variants, *, min_weight: float = BANDIT_MIN_WEIGHT) -> pa.Table:
    """Thompson-sampling weights per bandit experiment x analysis date x variant (schema
    :data:`BANDIT_SCHEMA`) from the primary metric (a conversion metric) on the overall slice."""
    cfg = _design_experiments(metric_configs, "bandit")
    cfg = cfg[(cfg["metric_role"].str.lower() == "primary") & (cfg["aggregation"] == "conversion")]
    if cfg.empty:
        return BANDIT_SCHEMA.empty_table()
    var = _frame(variants, {"experiment_id": "s", "variant_id": "s", "traffic_weight": "f"})
    arms = _frame(arm_stats, {"experiment_id": "s", "metric_id": "s", "variant_id": "s", "dimension_name": "s",
                              "dimension_value": "s", "analysis_date": "d", "n_units": "f", "sum_num": "f"})
    arms = arms[(arms["dimension_name"] == "overall") & (arms["dimension_value"] == "all")]
    arms = arms.merge(cfg[["experiment_id", "metric_id"]], on=["experiment_id", "metric_id"])
    arms = arms.merge(var, on=["experiment_id", "variant_id"], how="inner")
    arms = arms.sort_values(["experiment_id", "analysis_date", "variant_id"], kind="stable").reset_index(drop=True)
    group = pd.factorize(arms["experiment_id"].astype(str) + "|" + arms["analysis_date"].astype(str))[0]
    with np.errstate(all="ignore"):
        alloc = thompson_allocation_long(group, arms["sum_num"].to_numpy(), arms["n_units"].to_numpy(),
                                         min_weight=min_weight)
        rate = arms["sum_num"].to_numpy() / arms["n_units"].to_numpy()
    return pa.Table.from_arrays([
        _strings(arms["experiment_id"]), _strings(arms["metric_id"]), _dates(arms["analysis_date"].to_numpy()),
        _strings(arms["variant_id"]), pa.array(arms["n_units"].fillna(0).astype(np.int64), type=pa.int64()),
        A.float_out(arms["sum_num"].to_numpy()), A.float_out(rate), A.float_out(arms["traffic_weight"].to_numpy()),
        A.float_out(np.asarray(alloc.prob_best, dtype=float)), A.float_out(np.asarray(alloc.weights, dtype=float)),
    ], schema=BANDIT_SCHEMA)
