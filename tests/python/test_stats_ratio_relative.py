import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from analysis_py.means import z_test_difference
from analysis_py.ratio import ratio_delta_method
from analysis_py.relative import (
    FIELLER_UNBOUNDED,
    LOG_UNDEFINED,
    ZERO_CONTROL_MEAN,
    relative_lift,
)

RTOL = 1e-9


def _units(rng, n, scale=1.0):
    den = rng.poisson(3, n).astype(float) + rng.integers(0, 2, n)
    num = den * rng.gamma(2.0, scale, n) + rng.normal(0, 0.5, n) * (den > 0)
    return pd.DataFrame({"num": num, "den": den})


def _sums(df):
    return (len(df), df.num.sum(), (df.num ** 2).sum(), df.den.sum(), (df.den ** 2).sum(), (df.num * df.den).sum())


def test_delta_method_matches_linearisation_on_rows():
    rng = np.random.default_rng(0)
    for n in (5, 40, 2000):
        df = _units(rng, n)
        r = ratio_delta_method(*_sums(df))
        R = df.num.sum() / df.den.sum()
        lin = (df.num - R * df.den) / df.den.mean()  # pandas reference of the linearised values
        assert float(r.ratio) == pytest.approx(R, rel=RTOL)
        assert float(r.variance) == pytest.approx(lin.var(ddof=1) / n, rel=RTOL)
        # and the three-term form of Deng et al. (2018)
        mn, md = df.num.mean(), df.den.mean()
        c = np.cov(df.num, df.den)
        v3 = (c[0, 0] / md**2 - 2 * mn * c[0, 1] / md**3 + mn**2 * c[1, 1] / md**4) / n
        assert float(r.variance) == pytest.approx(v3, rel=1e-8)


def test_delta_method_degenerate():
    with np.errstate(all="raise"):
        r = ratio_delta_method(np.array([0.0, 1.0, 10.0, 10.0]), np.array([0.0, 2.0, 0.0, 5.0]), np.array([0.0, 4.0, 0.0, 2.5]),
                               np.array([0.0, 1.0, 0.0, 10.0]), np.array([0.0, 1.0, 0.0, 10.0]), np.array([0.0, 2.0, 0.0, 5.0]))
    assert np.isnan(r.ratio[0]) and np.isnan(r.variance[1]) and np.isnan(r.ratio[2])
    assert r.variance[3] == 0.0  # num = 0.5·den for every unit: exactly zero variance


def test_relative_delta_formula():
    mc, vc, mt, vt = 2.0, 0.01, 2.2, 0.02
    r = relative_lift(mc, vc, mt, vt, alpha=0.05)
    se = np.sqrt(vt / mc**2 + mt**2 * vc / mc**4)
    z = stats.norm.ppf(0.975)
    assert float(r.estimate) == pytest.approx(0.1, rel=RTOL)
    assert float(r.std_error) == pytest.approx(se, rel=RTOL)
    assert float(r.ci_lower) == pytest.approx(0.1 - z * se, rel=RTOL)
    t = relative_lift(mc, vc, mt, vt, alpha=0.05, df=10)
    assert float(t.ci_upper) == pytest.approx(0.1 + stats.t.ppf(0.975, 10) * se, rel=RTOL)


def test_relative_log_formula():
    mc, vc, mt, vt = 2.0, 0.01, 2.2, 0.02
    r = relative_lift(mc, vc, mt, vt, alpha=0.1, method="log")
    se = np.sqrt(vt / mt**2 + vc / mc**2)
    z = stats.norm.ppf(0.95)
    assert float(r.ci_lower) == pytest.approx(np.exp(np.log(1.1) - z * se) - 1, rel=RTOL)
    assert float(r.ci_upper) == pytest.approx(np.exp(np.log(1.1) + z * se) - 1, rel=RTOL)
    bad = relative_lift(-1.0, 0.01, 1.0, 0.01, method="log")
    assert bad.flag == LOG_UNDEFINED and np.isnan(bad.ci_lower) and np.isfinite(bad.estimate)


def test_fieller_bounds_solve_the_quadratic_and_agree_with_absolute_test():
    rng = np.random.default_rng(5)
    mc = rng.uniform(0.5, 2, 200)
    mt = mc * rng.uniform(0.8, 1.2, 200)
    vc = rng.uniform(0.001, 0.05, 200)
    vt = rng.uniform(0.001, 0.05, 200)
    r = relative_lift(mc, vc, mt, vt, alpha=0.05, method="fieller")
    z = z_test_difference(mc, vc, mt, vt, alpha=0.05)
    c = stats.norm.ppf(0.975)
    bounded = r.flag == 0
    assert bounded.sum() > 150
    # excludes 0 exactly when the absolute z-test rejects
    excl = (r.ci_lower > 0) | (r.ci_upper < 0)
    np.testing.assert_array_equal(excl[bounded], (z.p_value < 0.05)[bounded])
    # bounds are roots of (mt - rho mc)^2 - c^2 (vt + rho^2 vc)
    for i in np.flatnonzero(bounded)[:20]:
        f = lambda rho: (mt[i] - rho * mc[i]) ** 2 - c**2 * (vt[i] + rho**2 * vc[i])  # noqa: E731
        est = mt[i] / mc[i]
        lo = optimize.brentq(f, est - 100, est)
        hi = optimize.brentq(f, est, est + 100)
        assert r.ci_lower[i] + 1 == pytest.approx(lo, rel=1e-9)
        assert r.ci_upper[i] + 1 == pytest.approx(hi, rel=1e-9)
    unb = relative_lift(0.1, 1.0, 0.2, 0.01, method="fieller")
    assert unb.flag == FIELLER_UNBOUNDED and np.isnan(unb.ci_lower)


@pytest.mark.parametrize("method", ["delta", "log", "fieller"])
def test_zero_control_mean(method):
    with np.errstate(all="raise"):
        r = relative_lift(np.array([0.0, 1.0]), np.array([0.1, 0.1]), np.array([1.0, 1.1]), np.array([0.1, 0.1]), method=method)
    assert r.flag[0] == ZERO_CONTROL_MEAN
    assert np.isnan(r.estimate[0]) and np.isnan(r.ci_lower[0]) and np.isnan(r.ci_upper[0])


def test_relative_rejects_unknown_method():
    with pytest.raises(ValueError):
        relative_lift(1.0, 0.1, 1.0, 0.1, method="bootstrap")
