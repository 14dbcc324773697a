import numpy as np
import pytest
from scipy import stats

from analysis_py._common import _t_quantile_expansion, t_quantile
from analysis_py.means import cohens_d, welch_ttest, z_test_difference

RTOL = 1e-9


def _summ(y):
    return y.mean(), y.var(ddof=1), y.size


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
@pytest.mark.parametrize("sizes", [(5, 8), (50, 70), (3000, 2500)])
def test_welch_matches_scipy(alternative, sizes):
    rng = np.random.default_rng(sum(sizes))
    y0 = rng.normal(1.0, 2.0, sizes[0])
    y1 = rng.normal(1.3, 3.0, sizes[1])
    r = welch_ttest(*_summ(y0), *_summ(y1), alpha=0.05, alternative=alternative)
    ref = stats.ttest_ind(y1, y0, equal_var=False, alternative=alternative)
    ci = ref.confidence_interval(0.95)
    assert float(r.statistic) == pytest.approx(ref.statistic, rel=RTOL)
    assert float(r.p_value) == pytest.approx(ref.pvalue, rel=RTOL)
    assert float(r.df) == pytest.approx(ref.df, rel=RTOL)
    if np.isfinite(ci.low):
        assert float(r.ci_lower) == pytest.approx(ci.low, rel=1e-9)
    else:
        assert float(r.ci_lower) == -np.inf
    if np.isfinite(ci.high):
        assert float(r.ci_upper) == pytest.approx(ci.high, rel=1e-9)
    else:
        assert float(r.ci_upper) == np.inf


def test_welch_vectorised_and_degenerate():
    r = welch_ttest(np.array([1.0, 1.0, 1.0, 1.0]), np.array([1.0, 0.0, 1.0, np.nan]), np.array([10, 10, 1, 10]),
                    np.array([2.0, 1.0, 2.0, 2.0]), np.array([1.0, 0.0, 1.0, 1.0]), np.array([10, 10, 10, 10]))
    assert np.isfinite(r.p_value[0])
    assert np.all(np.isnan(r.p_value[1:]))  # zero variance, n = 1, NaN variance


def test_t_quantile_expansion_accuracy():
    p = np.array([0.6, 0.9, 0.95, 0.975, 0.995, 0.9995, 1 - 1e-7])
    for df in (1000.0, 3000.0, 1e5):
        exact = stats.t.ppf(p, df)
        np.testing.assert_allclose(_t_quantile_expansion(p, df), exact, rtol=2e-12)
        np.testing.assert_allclose(t_quantile(p, df), exact, rtol=2e-12)
    np.testing.assert_allclose(t_quantile(p, 7.5), stats.t.ppf(p, 7.5), rtol=1e-12)
    assert t_quantile(0.975, np.inf) == pytest.approx(stats.norm.ppf(0.975))
    assert np.isnan(t_quantile(0.975, np.nan)) and np.isnan(t_quantile(0.975, 0.0))


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_z_test_difference(alternative):
    r = z_test_difference(1.0, 0.04, 1.5, 0.05, alpha=0.1, alternative=alternative)
    se = np.sqrt(0.09)
    z = 0.5 / se
    p = {"two-sided": 2 * stats.norm.sf(abs(z)), "greater": stats.norm.sf(z), "less": stats.norm.cdf(z)}[alternative]
    assert float(r.statistic) == pytest.approx(z, rel=RTOL)
    assert float(r.p_value) == pytest.approx(p, rel=RTOL)
    if alternative == "two-sided":
        assert float(r.ci_lower) == pytest.approx(0.5 - stats.norm.ppf(0.95) * se, rel=RTOL)
    with np.errstate(all="raise"):
        d = z_test_difference(1.0, 0.0, 1.0, 0.0)
    assert np.isnan(d.p_value) and np.isnan(d.std_error)


def test_cohens_d_pooled_sd():
    rng = np.random.default_rng(3)
    y0, y1 = rng.normal(0, 1, 40), rng.normal(0.5, 1.5, 60)
    pooled = np.sqrt(((39) * y0.var(ddof=1) + 59 * y1.var(ddof=1)) / 98)
    assert float(cohens_d(*_summ(y0), *_summ(y1))) == pytest.approx((y1.mean() - y0.mean()) / pooled, rel=RTOL)


def test_t_cdf_expansion_accuracy():
    from scipy import special

    from analysis_py._common import _t_tail, t_p_value

    x = np.linspace(-6, 6, 4001)
    for df in (1000.0, 2500.0, 1e5):
        np.testing.assert_allclose(_t_tail(x, np.full_like(x, df)), special.stdtr(df, x), rtol=5e-10)
    big = np.array([-40.0, 8.0, 0.0])
    np.testing.assert_allclose(t_p_value(big, np.array([5000.0, 5000.0, 5000.0])),
                               2 * special.stdtr(5000.0, -np.abs(big)), rtol=1e-12)
