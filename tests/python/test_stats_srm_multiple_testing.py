import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from analysis_py.multiple_testing import benjamini_hochberg, holm
from analysis_py.srm import METHOD_CHI_SQUARE, METHOD_EXACT_BINOMIAL, srm_p_value, srm_test

RTOL = 1e-9


def test_srm_p_value_matches_scipy():
    chi = np.array([0.0, 1.2, 10.0, 35.0, np.nan, 3.0, np.inf])
    df = np.array([1, 2, 1, 3, 1, 0, 2])
    p = srm_p_value(chi, df)
    np.testing.assert_allclose(p[:4], stats.chi2.sf(chi[:4], df[:4]), rtol=RTOL)
    assert np.isnan(p[4]) and np.isnan(p[5]) and p[6] == 0.0


def test_srm_test_chi_square_matches_scipy_chisquare():
    obs = np.array([[5050, 4950, 10000], [1000, 1100, 2200], [300, 200, 500]], float)
    w = np.array([0.25, 0.25, 0.5])
    r = srm_test(obs, w)
    for i in range(3):
        ref = stats.chisquare(obs[i], obs[i].sum() * w / w.sum())
        assert r.chi_square[i] == pytest.approx(ref.statistic, rel=RTOL)
        assert r.p_value[i] == pytest.approx(ref.pvalue, rel=RTOL)
        assert r.method[i] == METHOD_CHI_SQUARE and r.degrees_of_freedom[i] == 2


def test_srm_exact_binomial_for_small_two_arm_samples():
    obs = np.array([[30, 12], [10, 10], [7, 1], [60, 20]], float)
    w = np.array([[1, 1], [1, 1], [1, 1], [3, 1]], float)
    r = srm_test(obs, w)
    for i in range(4):
        ref = stats.binomtest(int(obs[i, 0]), int(obs[i].sum()), w[i, 0] / w[i].sum())
        assert r.p_value[i] == pytest.approx(ref.pvalue, rel=1e-9)
        assert r.method[i] == METHOD_EXACT_BINOMIAL
    big = srm_test(np.array([600.0, 400.0]), np.array([1.0, 1.0]))
    assert big.method == METHOD_CHI_SQUARE


def test_srm_empty_arm_and_padding():
    r = srm_test(np.array([[1000, 0, 1000], [500, 480, np.nan]], float), np.array([[1, 1, 1], [1, 1, np.nan]], float))
    assert r.p_value[0] < 1e-100
    assert r.degrees_of_freedom[1] == 1
    none = srm_test(np.array([0.0, 0.0]), np.array([1.0, 1.0]))
    assert np.isnan(none.p_value)


@pytest.mark.parametrize("fn,method", [(holm, "holm"), (benjamini_hochberg, "fdr_bh")])
def test_adjustments_match_statsmodels_within_groups(fn, method):
    rng = np.random.default_rng(0)
    n = 240  # statsmodels' holm is slow per call: keep the number of groups small
    groups = rng.integers(0, 12, n)
    p = rng.uniform(0, 1, n) ** 3
    p[rng.random(n) < 0.05] = np.nan
    p[:10] = 0.01  # ties
    groups[:10] = 1
    adj = fn(p, groups)
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        ok = idx[~np.isnan(p[idx])]
        if ok.size:
            ref = multipletests(p[ok], method=method)[1]
            np.testing.assert_allclose(adj[ok], ref, rtol=RTOL)
        assert np.all(np.isnan(adj[idx[np.isnan(p[idx])]]))


@pytest.mark.parametrize("fn,method", [(holm, "holm"), (benjamini_hochberg, "fdr_bh")])
def test_adjustments_wide_family_fallback_and_string_groups(fn, method):
    rng = np.random.default_rng(1)
    p = rng.uniform(0, 0.2, 100)
    groups = np.array(["a"] * 60 + ["b"] * 40, dtype=object)  # width 60 > dense limit
    adj = fn(p, groups)
    np.testing.assert_allclose(adj[:60], multipletests(p[:60], method=method)[1], rtol=RTOL)
    np.testing.assert_allclose(adj[60:], multipletests(p[60:], method=method)[1], rtol=RTOL)
    np.testing.assert_allclose(fn(p), multipletests(p, method=method)[1], rtol=RTOL)
    assert fn(np.array([])).size == 0
