"""Sequential, factorial and bandit experiments of the demo, end to end, against independent
references: statsmodels ANOVA on the per-unit rows, Monte Carlo Thompson draws, gsDesign-style
boundaries recomputed with scipy's multivariate normal, and the mSPRT formula on each look."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.stats.anova import anova_lm

from tests import reference_pipeline as reference

from .conftest import AS_OF_DATE, read_table


@pytest.fixture(scope="module")
def unit_values(demo_build):
    exposures, events = reference.read_raw_duckdb(demo_build.database)
    registry = reference.load_registry()
    units = reference.kept_units(exposures, registry, AS_OF_DATE)
    units = units[units.experiment_id == "checkout_factorial"]
    return reference.unit_metric_values(units, reference.valid_metric_events(events, AS_OF_DATE), registry,
                                        "2026-10-28")


def test_factorial_anova_matches_statsmodels_on_unit_rows(demo_build, unit_values):
    variants = read_table(demo_build.database, "select variant_id, factor_a_level as a, factor_b_level as b "
                                                "from main.stg_registry__variants where experiment_id = 'checkout_factorial'")
    anova = read_table(demo_build.database, "select * from main.fct_factorial_anova where dimension_name = 'overall' "
                                             "and analysis_date = date '2026-10-28'")
    for metric in ("checkout_value", "checkout_conversion"):
        rows = unit_values[unit_values.metric_id == metric].merge(variants, on="variant_id")
        ref = anova_lm(smf.ols("num ~ C(a) * C(b)", data=rows).fit(), typ=2)
        ours = anova[anova.metric_id == metric].set_index("term")
        for term, ref_term in (("factor_a", "C(a)"), ("factor_b", "C(b)"), ("interaction", "C(a):C(b)"),
                               ("residual", "Residual")):
            assert ours.loc[term, "sum_sq"] == pytest.approx(ref.loc[ref_term, "sum_sq"], rel=1e-8)
            assert ours.loc[term, "df"] == ref.loc[ref_term, "df"]
            if term != "residual":
                assert ours.loc[term, "f_statistic"] == pytest.approx(ref.loc[ref_term, "F"], rel=1e-8)
                assert ours.loc[term, "p_value"] == pytest.approx(ref.loc[ref_term, "PR(>F)"], rel=1e-6, abs=1e-300)
    value = anova[anova.metric_id == "checkout_value"].set_index("term")
    assert value.loc["factor_a", "p_value"] < 1e-4  # the planted +8% of factor A
    assert value.loc["factor_b", "p_value"] > 0.01 and value.loc["interaction", "p_value"] > 0.01


def test_bandit_weights_match_monte_carlo_thompson_draws(demo_build):
    alloc = read_table(demo_build.database, "select * from main.fct_bandit_allocations order by analysis_date, variant_id")
    assert set(alloc.experiment_id) == {"recommendation_bandit"}
    rng = np.random.default_rng(11)
    for date in (pd.Timestamp("2026-10-03"), pd.Timestamp("2026-10-07")):
        day = alloc[alloc.analysis_date == date].sort_values("variant_id")
        draws = rng.beta(day.conversions.to_numpy() + 1, day.n_units.to_numpy() - day.conversions.to_numpy() + 1,
                         size=(400_000, len(day)))
        freq = np.bincount(draws.argmax(axis=1), minlength=len(day)) / len(draws)
        se = np.sqrt(freq * (1 - freq) / len(draws))
        assert np.all(np.abs(day.prob_best.to_numpy() - freq) <= 5 * se + 1e-6), (day.prob_best.to_numpy(), freq)
        assert day.recommended_weight.sum() == pytest.approx(1.0, abs=1e-9)
        assert (day.recommended_weight >= 0.01 - 1e-12).all()
    final = alloc[alloc.analysis_date == alloc.analysis_date.max()].set_index("variant_id")
    assert final.recommended_weight.idxmax() == "similar_items" and final.loc["similar_items", "prob_best"] > 0.99


def _boundary_crossing_prob(bounds, fractions):
    """P(|Z_k| >= b_k for some k) under H0 for Brownian-motion z statistics, by the multivariate
    normal CDF of the complement (independent of the recursive integration in analysis_py)."""
    t = np.asarray(fractions)
    cov = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    b = np.asarray(bounds)
    return 1 - stats.multivariate_normal(mean=np.zeros(len(t)), cov=cov).cdf(b, lower_limit=-b)


def test_group_sequential_stops_at_the_second_look(demo_build):
    results = read_table(demo_build.database, "select * from main.fct_experiment_results where experiment_id = "
                                              "'delivery_fee_sequential' and dimension_name = 'overall' "
                                              "and metric_id = 'fee_order_conversion' order by analysis_date")
    looks = results[results.sequential_boundary_z.notna()]
    assert [str(d)[:10] for d in looks.analysis_date] == ["2026-10-07", "2026-10-14", "2026-10-21", "2026-10-28"]
    assert list(looks.information_fraction) == [0.25, 0.5, 0.75, 1.0]
    # the boundaries spend the Lan-DeMets O'Brien-Fleming alpha at alpha / m (m = 2: primary + guardrail)
    bounds = looks.sequential_boundary_z.to_numpy()
    alpha = 0.05 / looks.family_size.iloc[0]
    for k in range(1, 5):
        # gsDesign sfLDOF on each side at alpha / 2: both sides together spend 2 * (2 - 2 Phi(z_{1-alpha/4} / sqrt(t)))
        spent = 4 * (1 - stats.norm.cdf(stats.norm.ppf(1 - alpha / 4) / np.sqrt(k / 4)))
        assert _boundary_crossing_prob(bounds[:k], [j / 4 for j in range(1, k + 1)]) == pytest.approx(spent, abs=2e-5)
    z = looks.decision_effect / ((looks.decision_ci_upper - looks.decision_ci_lower) / (2 * stats.norm.ppf(0.975)))
    crossed = np.maximum.accumulate(np.abs(z.to_numpy()) >= bounds)
    assert list(crossed) == [False, True, True, True] == list(looks.is_boundary_crossed)
    decisions = read_table(demo_build.database, "select analysis_date, decision from main.fct_decision_records "
                                                "where experiment_id = 'delivery_fee_sequential' order by 1")
    early = decisions[decisions.analysis_date < pd.Timestamp("2026-10-14")]
    late = decisions[decisions.analysis_date >= pd.Timestamp("2026-10-14")]
    assert set(early.decision) == {"keep_running"} and set(late.decision) == {"ship"}


def test_msprt_always_valid_p_value_and_decision(demo_build):
    results = read_table(demo_build.database, "select * from main.fct_experiment_results where experiment_id = "
                                              "'onboarding_msprt' and dimension_name = 'overall' order by analysis_date")
    tau = results.msprt_mixing_sd.dropna().unique()
    assert len(tau) == 1  # fixed for the whole sequence
    v = ((results.decision_ci_upper - results.decision_ci_lower) / (2 * stats.norm.ppf(0.975))) ** 2
    t2 = tau[0] ** 2
    lam = np.sqrt(v / (v + t2)) * np.exp(t2 * results.decision_effect ** 2 / (2 * v * (v + t2)))
    running = np.minimum.accumulate(np.minimum(1, 1 / lam).fillna(1).to_numpy())
    np.testing.assert_allclose(results.sequential_p_value.to_numpy(), running, rtol=1e-9)
    assert (np.diff(results.sequential_p_value.to_numpy()) <= 0).all()
    assert (np.diff(results.sequential_ci_lower.to_numpy()) >= -1e-15).all()
    decisions = read_table(demo_build.database, "select analysis_date, decision from main.fct_decision_records "
                                                "where experiment_id = 'onboarding_msprt' order by 1")
    first_sig = results.analysis_date[results.p_value_holm < 0.05].min()
    assert first_sig < pd.Timestamp("2026-10-28")  # stopped before the planned end
    assert set(decisions[decisions.analysis_date < first_sig].decision) == {"keep_running"}
    assert set(decisions[decisions.analysis_date >= first_sig].decision) == {"ship"}
