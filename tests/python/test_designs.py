"""compute_factorial_anova / compute_bandit_allocations on hand-made aggregates, including
degenerate input (no such experiments, empty cells, an arm without units): a table, never an
exception."""
import datetime as dt

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from statsmodels.stats.anova import anova_lm

from analysis_py.designs import ANOVA_SCHEMA, BANDIT_SCHEMA, compute_bandit_allocations, compute_factorial_anova

D = dt.date(2026, 10, 5)


def _cfg(design, aggregation="sum", role="primary"):
    return pd.DataFrame([{"experiment_id": "e", "metric_id": "m", "metric_role": role, "aggregation": aggregation,
                          "design": design}])


def _arms(rows):
    return pd.DataFrame([{"experiment_id": "e", "metric_id": "m", "dimension_name": "overall", "dimension_value": "all",
                          "analysis_date": D, **r} for r in rows])


def test_factorial_anova_from_cells_equals_statsmodels_on_rows():
    rng = np.random.default_rng(3)
    levels = {"c": ("off", "off"), "a": ("on", "off"), "b": ("off", "on"), "ab": ("on", "on")}
    frames, arms = [], []
    for variant, (a, b) in levels.items():
        y = rng.normal(10 + (a == "on") * 1.5, 3.0, rng.integers(40, 90))
        frames.append(pd.DataFrame({"y": y, "a": a, "b": b}))
        arms.append({"variant_id": variant, "n_units": len(y), "sum_num": y.sum(), "sum_num_sq": (y * y).sum()})
    variants = pd.DataFrame([{"experiment_id": "e", "variant_id": v, "factor_a_level": a, "factor_b_level": b}
                             for v, (a, b) in levels.items()])
    out = compute_factorial_anova(_arms(arms), _cfg("factorial"), variants).to_pandas().set_index("term")
    ref = anova_lm(smf.ols("y ~ C(a) * C(b)", data=pd.concat(frames)).fit(), typ=2)
    for term, ref_term in (("factor_a", "C(a)"), ("factor_b", "C(b)"), ("interaction", "C(a):C(b)")):
        assert out.loc[term, "f_statistic"] == pytest.approx(ref.loc[ref_term, "F"], rel=1e-8)
        assert out.loc[term, "p_value"] == pytest.approx(ref.loc[ref_term, "PR(>F)"], rel=1e-7)


def test_factorial_anova_degenerate_inputs_give_rows_not_exceptions():
    variants = pd.DataFrame([{"experiment_id": "e", "variant_id": v, "factor_a_level": a, "factor_b_level": b}
                             for v, a, b in (("c", "off", "off"), ("a", "on", "off"), ("b", "off", None))])
    arms = _arms([{"variant_id": "c", "n_units": 0, "sum_num": 0.0, "sum_num_sq": 0.0},
                  {"variant_id": "a", "n_units": 1, "sum_num": 2.0, "sum_num_sq": 4.0},
                  {"variant_id": "b", "n_units": 3, "sum_num": 3.0, "sum_num_sq": 3.0}])
    out = compute_factorial_anova(arms, _cfg("factorial"), variants).to_pandas()
    assert len(out) == 4 and out.p_value.isna().all() and out.status_reason.notna().all()
    assert compute_factorial_anova(arms, _cfg("ab"), variants).schema == ANOVA_SCHEMA  # no factorial experiment
    assert compute_factorial_anova(arms, _cfg("factorial", "ratio"), variants).num_rows == 0  # not per-unit


def test_bandit_allocation_and_degenerate_arms():
    variants = pd.DataFrame([{"experiment_id": "e", "variant_id": v, "traffic_weight": 1 / 3} for v in ("a", "b", "c")])
    arms = _arms([{"variant_id": "a", "n_units": 1000, "sum_num": 100.0},
                  {"variant_id": "b", "n_units": 1000, "sum_num": 140.0},
                  {"variant_id": "c", "n_units": 0, "sum_num": 0.0}])
    out = compute_bandit_allocations(arms, _cfg("bandit", "conversion"), variants).to_pandas().set_index("variant_id")
    assert out.recommended_weight.sum() == pytest.approx(1.0, abs=1e-12)
    assert (out.recommended_weight >= 0.01 - 1e-12).all()
    assert out.loc["a", "prob_best"] < out.loc["b", "prob_best"]
    # an arm without units keeps its uniform prior, P(p > ~0.14) ~ 0.86: Thompson explores it
    assert out.recommended_weight.idxmax() == "c" and out.loc["c", "prob_best"] == pytest.approx(0.86, abs=0.01)
    assert compute_bandit_allocations(arms, _cfg("bandit", "sum"), variants).schema == BANDIT_SCHEMA
    assert compute_bandit_allocations(arms, _cfg("bandit", "sum"), variants).num_rows == 0
