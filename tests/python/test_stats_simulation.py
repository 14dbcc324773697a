"""Seeded A/A (and A/B) simulations: false-positive rate and CI coverage near nominal.

Each simulation draws unit-level rows, reduces them to sufficient statistics exactly as the
SQL does, and runs the vectorised method over all simulations at once. With S = 2000
simulations the Monte-Carlo SE of a 5% rate is 0.49%; the bounds below are ~3 SE.
"""
import numpy as np
import pytest

from analysis_py.cuped import cuped_means, cuped_ratio
from analysis_py.means import welch_ttest, z_test_difference
from analysis_py.moments import ArmSums, variance_from_sums
from analysis_py.proportions import two_proportion_ztest
from analysis_py.ratio import ratio_delta_method
from analysis_py.relative import relative_lift

S = 2000
ALPHA = 0.05
LO, HI = 0.035, 0.065


def _s(a, b=None):
    return (a if b is None else a * b).sum(axis=1)


def _check(p_value, ci_lower, ci_upper, truth=0.0):
    fpr = np.mean(p_value < ALPHA)
    miss = np.mean((ci_lower > truth) | (ci_upper < truth))
    assert LO < fpr < HI, fpr
    assert LO < miss < HI, miss


def test_two_proportion_z_aa():
    rng = np.random.default_rng(11)
    yc = (rng.random((S, 600)) < 0.1).astype(float)
    yt = (rng.random((S, 700)) < 0.1).astype(float)
    r = two_proportion_ztest(_s(yc), 600, _s(yt), 700, alpha=ALPHA)
    _check(r.p_value, r.ci_lower, r.ci_upper)


def test_welch_aa_skewed_unequal_sizes():
    rng = np.random.default_rng(12)
    yc = rng.exponential(2.0, (S, 150))
    yt = rng.exponential(2.0, (S, 250))
    r = welch_ttest(_s(yc) / 150, variance_from_sums(150, _s(yc), _s(yc, yc)), 150,
                    _s(yt) / 250, variance_from_sums(250, _s(yt), _s(yt, yt)), 250, alpha=ALPHA)
    _check(r.p_value, r.ci_lower, r.ci_upper)


def _ratio_rows(rng, n, scale=1.0):
    den = rng.poisson(2.0, (S, n)).astype(float) + 1.0
    num = den * rng.gamma(2.0, scale, (S, n))
    return num, den


def test_delta_ratio_aa_and_relative_coverage():
    rng = np.random.default_rng(13)
    (nc_, dc), (nt_, dt) = _ratio_rows(rng, 400), _ratio_rows(rng, 400)
    rc = ratio_delta_method(400, _s(nc_), _s(nc_, nc_), _s(dc), _s(dc, dc), _s(nc_, dc))
    rt = ratio_delta_method(400, _s(nt_), _s(nt_, nt_), _s(dt), _s(dt, dt), _s(nt_, dt))
    z = z_test_difference(rc.ratio, rc.variance, rt.ratio, rt.variance, alpha=ALPHA)
    _check(z.p_value, z.ci_lower, z.ci_upper)
    for method in ("delta", "log", "fieller"):
        rel = relative_lift(rc.ratio, rc.variance, rt.ratio, rt.variance, alpha=ALPHA, method=method)
        miss = np.mean((rel.ci_lower > 0) | (rel.ci_upper < 0))
        assert LO < miss < HI, (method, miss)


def test_relative_coverage_with_true_lift():
    """A/B with a true 10% lift of a ratio metric: relative CIs cover 0.10 ~95% of the time."""
    rng = np.random.default_rng(14)
    (nc_, dc) = _ratio_rows(rng, 500, 1.0)
    (nt_, dt) = _ratio_rows(rng, 500, 1.1)
    rc = ratio_delta_method(500, _s(nc_), _s(nc_, nc_), _s(dc), _s(dc, dc), _s(nc_, dc))
    rt = ratio_delta_method(500, _s(nt_), _s(nt_, nt_), _s(dt), _s(dt, dt), _s(nt_, dt))
    for method in ("delta", "log", "fieller"):
        rel = relative_lift(rc.ratio, rc.variance, rt.ratio, rt.variance, alpha=ALPHA, method=method)
        miss = np.mean((rel.ci_lower > 0.1) | (rel.ci_upper < 0.1))
        assert LO < miss < HI, (method, miss)


def test_cuped_means_aa_and_ab_coverage():
    rng = np.random.default_rng(15)
    n = 300
    xc, xt = rng.gamma(2.0, 1.0, (S, n)), rng.gamma(2.0, 1.0, (S, n))
    yc = 0.8 * xc + rng.normal(0, 1, (S, n))
    for effect in (0.0, 0.25):
        yt = 0.8 * xt + effect + rng.normal(0, 1, (S, n))
        r = cuped_means(n, _s(yc), _s(yc, yc), _s(xc), _s(xc, xc), _s(xc, yc),
                        n, _s(yt), _s(yt, yt), _s(xt), _s(xt, xt), _s(xt, yt), alpha=ALPHA)
        miss = np.mean((r.ci_lower > effect) | (r.ci_upper < effect))
        assert LO < miss < HI, (effect, miss)
        if effect == 0.0:
            _check(r.p_value, r.ci_lower, r.ci_upper)
        assert np.median(r.variance_reduction) > 0.4


def test_cuped_ratio_aa():
    rng = np.random.default_rng(16)
    n = 400

    def arm():
        pre_den = rng.poisson(3.0, (S, n)).astype(float) + 1
        pre_num = pre_den * rng.gamma(2.0, 1.0, (S, n))
        den = rng.poisson(3.0, (S, n)).astype(float) + 1
        num = den * (0.5 * pre_num / pre_den + rng.gamma(2.0, 0.5, (S, n)))
        c = {"n_units": float(n), "sum_num": _s(num), "sum_num_sq": _s(num, num), "sum_den": _s(den),
             "sum_den_sq": _s(den, den), "sum_num_den": _s(num, den), "sum_pre_num": _s(pre_num),
             "sum_pre_num_sq": _s(pre_num, pre_num), "sum_pre_den": _s(pre_den), "sum_pre_den_sq": _s(pre_den, pre_den),
             "sum_pre_num_pre_den": _s(pre_num, pre_den), "sum_num_pre_num": _s(num, pre_num),
             "sum_num_pre_den": _s(num, pre_den), "sum_den_pre_num": _s(den, pre_num), "sum_den_pre_den": _s(den, pre_den)}
        return ArmSums.from_mapping(c)

    r = cuped_ratio(arm(), arm(), alpha=ALPHA)
    _check(r.p_value, r.ci_lower, r.ci_upper)
    assert np.median(r.variance_reduction) > 0.1
