"""Sequential testing (analysis_py.sequential): mSPRT and group-sequential boundaries.

References used (independent of the implementation):
* published boundaries: Lan–DeMets O'Brien–Fleming-type, two-sided α = 0.05 (gsDesign
  ``gsDesign(k, test.type=2, alpha=0.025, sfu=sfLDOF)`` / ldbounds; DeMets & Lan 1994),
  Jennison & Turnbull (2000) Table 2.1 (Pocock C_P) and Table 2.3 (O'Brien–Fleming C_B),
  Armitage, McPherson & Rowe (1969) / J&T Table 1.1 (repeated 5% tests);
* gsDesign's own regression values (tests/testthat/test-normal-density-constant-regression.R:
  gsBound, gsBound1, gsProbability) to ~1e-7;
* scipy's multivariate-normal CDF (Genz) of the Brownian-motion covariance √(t_i/t_j);
* scipy.integrate.quad of the mixture likelihood ratio; brentq inversion of the p-value;
* plain-loop references and seeded Monte Carlo.
"""
import time

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from analysis_py.proportions import two_proportion_ztest
from analysis_py.sequential import (
    always_valid,
    boundaries_for_crossing_probabilities,
    classic_obf_boundaries,
    classic_pocock_boundaries,
    crossing_probabilities,
    default_mixing_variance,
    group_sequential_boundaries,
    information_fractions_from_std_error,
    msprt_confidence_interval,
    msprt_log_statistic,
    msprt_p_value,
    msprt_statistic,
    msprt_z_boundaries,
    naive_obf_boundaries,
    obf_spending,
    pocock_spending,
    sequential_crossing,
)

ALPHA = 0.05


def _equal(k):
    return np.arange(1, k + 1) / k


def _mvn_exit_cumulative(upper, t, lower=None):
    """P(exit by look k) for k = 1..K from the multivariate-normal CDF (Genz algorithm)."""
    t = np.asarray(t, float)
    b = np.asarray(upper, float)
    a = -b if lower is None else np.asarray(lower, float)
    cov = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    out = [stats.norm.sf(b[0]) + stats.norm.cdf(a[0])]
    for k in range(2, t.size + 1):
        mv = stats.multivariate_normal(np.zeros(k), cov[:k, :k], abseps=1e-8, releps=1e-8, maxpts=400_000)
        out.append(1.0 - mv.cdf(b[:k], lower_limit=a[:k], rng=np.random.default_rng(k)))
    return np.array(out)


# ---- published boundaries ----------------------------------------------------------------------
@pytest.mark.parametrize("k, expected", [
    (3, [3.7103, 2.5114, 1.9930]),
    (4, [4.3326, 2.9631, 2.3590, 2.0141]),
    (5, [4.8769, 3.3569, 2.6803, 2.2898, 2.0310]),
])
def test_lan_demets_obf_published(k, expected):
    d = group_sequential_boundaries(_equal(k), ALPHA, "obf")
    np.testing.assert_allclose(d.boundaries, expected, atol=1e-3)
    np.testing.assert_allclose(d.lower_boundaries, -np.asarray(expected), atol=1e-3)
    np.testing.assert_allclose(d.cumulative_alpha, obf_spending(_equal(k), ALPHA), atol=1e-8)
    np.testing.assert_allclose(d.nominal_p_value, 2 * stats.norm.sf(d.boundaries), rtol=1e-12)
    assert d.total_alpha == pytest.approx(ALPHA, abs=1e-8)


def test_obf_spending_convention():
    """sides=2 spends per side gsDesign's sfLDOF with α/2: 2 − 2Φ(z_{1−α/4}/√t); the 'total α'
    variant 2 − 2Φ(z_{1−α/2}/√t) equals sides=1 (first K=5 boundary would be 1.96/√0.2 = 4.38)."""
    t = np.array([0.2, 0.5, 1.0])
    np.testing.assert_allclose(obf_spending(t, ALPHA), 2 * (2 - 2 * stats.norm.cdf(stats.norm.ppf(1 - ALPHA / 4) / np.sqrt(t))))
    np.testing.assert_allclose(obf_spending(t, ALPHA, sides=1), 2 - 2 * stats.norm.cdf(stats.norm.ppf(1 - ALPHA / 2) / np.sqrt(t)))
    np.testing.assert_allclose(pocock_spending(t, ALPHA), ALPHA * np.log(1 + (np.e - 1) * t))
    assert obf_spending(1.5, ALPHA) == ALPHA and obf_spending(0.0, ALPHA) == 0.0
    total_variant = group_sequential_boundaries(_equal(5), ALPHA, lambda t, a: obf_spending(t, a, sides=1))
    assert total_variant.boundaries[0] == pytest.approx(stats.norm.ppf(0.975) / np.sqrt(0.2), abs=1e-9)


def test_pocock_type_published_and_exact():
    """DeMets & Lan (1994): Pocock-type K=5, two-sided 0.05: 2.44, 2.43, 2.41, 2.40, 2.39. The
    4-decimal values are checked by the multivariate-normal CDF (cumulative exit = α(t_k))."""
    t = _equal(5)
    d = group_sequential_boundaries(t, ALPHA, "pocock")
    np.testing.assert_allclose(d.boundaries, [2.44, 2.43, 2.41, 2.40, 2.39], atol=5e-3)
    np.testing.assert_allclose(d.boundaries, [2.4380, 2.4268, 2.4102, 2.3966, 2.3860], atol=1e-4)
    np.testing.assert_allclose(_mvn_exit_cumulative(d.boundaries, t), pocock_spending(t, ALPHA), atol=1e-5)


@pytest.mark.parametrize("t, spending", [
    ([0.3, 0.6, 1.0], "obf"),
    ([0.3, 0.6, 1.0], "pocock"),
    ([0.1, 0.25, 0.5, 0.8, 1.0], "obf"),
    ([0.15, 0.4, 0.7], "obf"),  # interim set: t_K < 1 spends only α(0.7)
    ([0.5, 0.51, 0.99, 1.0], "pocock"),  # nearly coincident looks
])
def test_unequal_fractions_vs_multivariate_normal(t, spending):
    d = group_sequential_boundaries(t, ALPHA, spending)
    fn = obf_spending if spending == "obf" else pocock_spending
    np.testing.assert_allclose(_mvn_exit_cumulative(d.boundaries, t), fn(np.asarray(t), ALPHA), atol=1e-5)


def test_unequal_fractions_monte_carlo():
    t = np.array([0.3, 0.6, 1.0])
    d = group_sequential_boundaries(t, ALPHA, "obf")
    rng = np.random.default_rng(2024)
    s = 400_000
    incr = rng.standard_normal((s, 3)) * np.sqrt(np.diff(np.r_[0.0, t]))
    z = np.cumsum(incr, axis=1) / np.sqrt(t)
    first = np.argmax(np.abs(z) >= d.boundaries, axis=1)
    any_cross = np.any(np.abs(z) >= d.boundaries, axis=1)
    per_look = np.array([np.mean(any_cross & (first == k)) for k in range(3)])
    se = np.sqrt(d.alpha_spent * (1 - d.alpha_spent) / s)
    assert np.all(np.abs(per_look - d.alpha_spent) < 4.5 * se + 1e-5), (per_look, d.alpha_spent)
    assert abs(any_cross.mean() - ALPHA) < 0.002


# ---- gsDesign regression values ------------------------------------------------------------------
def test_gsdesign_gsbound_asymmetric():
    d = boundaries_for_crossing_probabilities([0.25, 0.5, 0.75, 1.0], [0.005, 0.01, 0.015, 0.02],
                                              [0.01, 0.02, 0.03, 0.04])
    np.testing.assert_allclose(d.lower_boundaries, [-2.32634787404084, -1.96818185313167, -1.67671154533665,
                                                    -1.41871200118752], atol=2e-7)
    np.testing.assert_allclose(d.boundaries, [2.5758293035489, 2.25986082564025, 2.00956238688048,
                                              1.79397591800809], atol=2e-7)


def test_gsdesign_gsbound1_drift_probabilities():
    """gsBound1(theta=0.35, I=c(.25,.5,.75,1), a, probhi): with these (a, b) the upper exit
    probabilities under drift θ√I_K = 0.35 are probhi and the lower ones problo."""
    cp = crossing_probabilities([3.05316173909548, 2.71771590385463, 2.4436403142931, 2.19873543003778],
                                [0.25, 0.5, 0.75, 1.0], drift=0.35, lower_boundaries=[-2.8, -2.4, -2.1, -1.96])
    np.testing.assert_allclose(cp.upper, [0.002, 0.006, 0.012, 0.02], atol=1e-8)
    np.testing.assert_allclose(cp.lower, [0.00146494273922955, 0.00358821454505199, 0.00597577248693223,
                                          0.00579998523854975], atol=1e-8)


def test_gsdesign_classic_obf_k4_exit_probabilities():
    """gsDesign(k=4, test.type=2, sfu='OF', alpha=0.025): gsProbability upper exits at θ = 0."""
    d = classic_obf_boundaries(4, ALPHA)
    np.testing.assert_allclose(d.alpha_spent / 2, [2.57634255827315e-05, 0.00208457724169985,
                                                   0.00834554793644277, 0.0145441105183363], atol=1e-8)
    np.testing.assert_allclose(np.round(d.boundaries, 2), [4.05, 2.86, 2.34, 2.02])  # gsDesign test.Deming.OFbound


# ---- classic designs: Jennison & Turnbull tables ----------------------------------------------------
@pytest.mark.parametrize("k, c_obf, c_pocock", [
    (1, 1.960, 1.960), (2, 1.977, 2.178), (3, 2.004, 2.289), (4, 2.024, 2.361), (5, 2.040, 2.413),
    (6, 2.053, 2.453), (8, 2.072, 2.512), (10, 2.087, 2.555), (15, 2.110, 2.626), (20, 2.126, 2.672),
])
def test_classic_constants_jennison_turnbull(k, c_obf, c_pocock):
    obf = classic_obf_boundaries(k, ALPHA)
    poc = classic_pocock_boundaries(k, ALPHA)
    assert obf.constant == pytest.approx(c_obf, abs=1e-3)
    assert poc.constant == pytest.approx(c_pocock, abs=1e-3)
    np.testing.assert_allclose(obf.boundaries, obf.constant * np.sqrt(k / np.arange(1, k + 1)), rtol=1e-12)
    assert obf.total_alpha == pytest.approx(ALPHA, abs=1e-8)
    assert poc.total_alpha == pytest.approx(ALPHA, abs=1e-8)


@pytest.mark.parametrize("k, expected", [(2, 0.083), (3, 0.107), (4, 0.126), (5, 0.142), (10, 0.193),
                                         (20, 0.248), (50, 0.320)])
def test_repeated_significance_tests_armitage(k, expected):
    """Overall level of K repeated two-sided 5% tests (Armitage et al. 1969; J&T Table 1.1)."""
    cp = crossing_probabilities(np.full(k, stats.norm.ppf(0.975)), _equal(k))
    assert cp.total == pytest.approx(expected, abs=6e-4)
    assert cp.upper.sum() == pytest.approx(cp.total / 2, rel=1e-12)


def test_naive_obf_is_not_alpha_level():
    d = naive_obf_boundaries(_equal(30), ALPHA)
    np.testing.assert_allclose(d.boundaries, stats.norm.ppf(0.975) / np.sqrt(_equal(30)))
    assert d.total_alpha > ALPHA + 0.005
    np.testing.assert_allclose(d.cumulative_alpha, crossing_probabilities(d.boundaries, _equal(30)).cumulative)


def test_power_and_expected_stopping():
    """Fixed sample (K=1) power at drift z_.975 + z_.8 is 0.8; a GS design loses a little power
    at the same maximum information and stops earlier on average."""
    drift = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    fixed = crossing_probabilities([stats.norm.ppf(0.975)], [1.0], drift=drift)
    assert fixed.total == pytest.approx(0.8 + stats.norm.cdf(-drift - stats.norm.ppf(0.975)), abs=1e-10)
    d = group_sequential_boundaries(_equal(5), ALPHA)
    cp = crossing_probabilities(d.boundaries, _equal(5), drift=drift)
    assert 0.77 < cp.total < 0.8
    assert cp.expected_stopping_fraction < 0.85
    np.testing.assert_allclose(cp.cumulative[-1], cp.total)


def test_speed_30_and_60_looks():
    best = min(_timed(lambda: group_sequential_boundaries(_equal(30), ALPHA)) for _ in range(3))
    assert best < 0.5, best
    d60 = group_sequential_boundaries(_equal(60), ALPHA, "pocock")
    assert d60.total_alpha == pytest.approx(ALPHA, abs=1e-7)
    d1 = group_sequential_boundaries([1.0], ALPHA)
    assert d1.boundaries[0] == pytest.approx(stats.norm.ppf(0.975), abs=1e-10)


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def test_one_sided_design():
    d = group_sequential_boundaries(_equal(4), 0.025, "obf", sides=1)
    two = group_sequential_boundaries(_equal(4), ALPHA, "obf", sides=2)
    np.testing.assert_allclose(d.boundaries, two.boundaries, atol=1e-6)  # same per-side spending
    assert np.all(np.isneginf(d.lower_boundaries))
    assert d.total_alpha == pytest.approx(0.025, abs=1e-8)


# ---- mSPRT ------------------------------------------------------------------------------------------
def _mixture_lr_quad(effect, se, tau2, null=0.0):
    v = se * se
    post_var = 1 / (1 / v + 1 / tau2)
    post_mean = post_var * (effect / v + null / tau2)
    half = 40 * np.sqrt(post_var)

    def integrand(d):
        return np.exp(stats.norm.logpdf(effect, d, se) + stats.norm.logpdf(d, null, np.sqrt(tau2))
                      - stats.norm.logpdf(effect, null, se))

    val, _ = integrate.quad(integrand, post_mean - half, post_mean + half, epsabs=0, epsrel=1e-13, limit=500,
                            points=[post_mean])
    return val


@pytest.mark.parametrize("effect, se, tau2, null", [
    (0.0, 1.0, 1.0, 0.0), (0.3, 0.1, 0.04, 0.0), (-0.02, 0.01, 1e-4, 0.0), (5.0, 1.0, 0.5, 1.0),
    (0.012, 0.004, 0.0009, 0.0), (1e-3, 1e-4, 1e-10, 0.0), (2.0, 0.3, 25.0, -0.5),
])
def test_msprt_statistic_vs_quadrature(effect, se, tau2, null):
    ref = _mixture_lr_quad(effect, se, tau2, null)
    assert msprt_statistic(effect, se, tau2, null) == pytest.approx(ref, rel=1e-8)
    assert msprt_log_statistic(effect, se, tau2, null) == pytest.approx(np.log(ref), rel=1e-8, abs=1e-10)
    assert msprt_p_value(effect, se, tau2, null) == pytest.approx(min(1.0, 1.0 / ref), rel=1e-8)


def test_msprt_no_overflow():
    lr = msprt_log_statistic(1.0, 1e-6, 1.0)
    assert np.isfinite(lr) and lr > 1e10
    assert msprt_p_value(1.0, 1e-6, 1.0) == 0.0
    assert np.isinf(msprt_statistic(1.0, 1e-6, 1.0))


@pytest.mark.parametrize("effect, se, tau2, alpha", [
    (0.3, 0.1, 0.04, 0.05), (-0.02, 0.01, 1e-4, 0.1), (0.0, 2.0, 0.5, 0.01), (0.012, 0.004, 0.0009, 0.05),
])
def test_msprt_ci_is_set_where_p_exceeds_alpha(effect, se, tau2, alpha):
    lo, hi = msprt_confidence_interval(effect, se, tau2, alpha)

    def f(d0):
        return msprt_p_value(effect, se, tau2, d0) - alpha

    far = 100 * (se + np.sqrt(tau2))
    ref_lo = optimize.brentq(f, effect - far, effect, xtol=1e-14 * far, rtol=1e-14)
    ref_hi = optimize.brentq(f, effect, effect + far, xtol=1e-14 * far, rtol=1e-14)
    assert float(lo) == pytest.approx(ref_lo, rel=1e-9, abs=1e-12 * far)
    assert float(hi) == pytest.approx(ref_hi, rel=1e-9, abs=1e-12 * far)
    mid = 0.5 * (lo + hi)
    assert msprt_p_value(effect, se, tau2, mid) > alpha
    assert msprt_p_value(effect, se, tau2, hi + 1e-6 * (hi - lo)) < alpha


def test_msprt_z_boundaries_match_p_value():
    t = np.array([0.1, 0.5, 1.0])
    se_planned, tau2 = 0.01, 4e-4
    c = msprt_z_boundaries(t, tau2, se_planned)
    se = se_planned / np.sqrt(t)
    np.testing.assert_allclose(msprt_p_value(c * se, se, tau2), ALPHA, rtol=1e-10)
    assert np.all(msprt_p_value(0.999 * c * se, se, tau2) > ALPHA)
    assert np.all(np.isnan(msprt_z_boundaries([0.0, 0.5, 0.5], [4e-4, 0.0, 4e-4], [0.01, 0.01, np.nan])))


def test_msprt_vectorised_broadcast():
    e = np.array([[0.1, 0.2, 0.3]])
    se = np.array([[0.05], [0.1]])
    p = msprt_p_value(e, se, 0.01)
    assert p.shape == (2, 3)
    for i in range(2):
        for j in range(3):
            assert p[i, j] == pytest.approx(float(msprt_p_value(e[0, j], se[i, 0], 0.01)), rel=1e-14)
    lo, hi = msprt_confidence_interval(e, se, 0.01, 0.05)
    assert lo.shape == hi.shape == (2, 3)


def test_default_mixing_variance_rules():
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    out = default_mixing_variance(practical_effect=[np.nan, 0.02, -0.02, np.nan, np.nan, 0.0],
                                  planned_std_error=[0.01, 0.01, 0.01, np.nan, 0.01, 0.0],
                                  mixing_sd=[np.nan, np.nan, np.nan, 0.3, 0.5, np.nan])
    np.testing.assert_allclose(out[:5], [(z * 0.01) ** 2, 4e-4, 4e-4, 0.09, 0.25])
    assert np.isnan(out[5])
    assert np.isnan(default_mixing_variance(planned_std_error=0.01, alpha=1.5))
    # the MDE rule is close to minimising the final-look |z| threshold of the mSPRT
    thr = lambda r: np.sqrt((1 + 1 / r) * (2 * np.log(20) + np.log1p(r)))  # noqa: E731
    best = optimize.minimize_scalar(thr, bounds=(0.1, 100), method="bounded").fun
    assert thr(z * z) - best < 1e-3 and thr(1.0) - best > 0.5


# ---- always_valid and sequential_crossing vs loops ----------------------------------------------------
def _ref_running(groups, keys, values, op):
    out = np.full(len(values), np.nan)
    for g in dict.fromkeys(groups):
        idx = [i for i in range(len(values)) if groups[i] == g]
        idx.sort(key=lambda i: keys[i])  # stable: ties keep the input order
        cur = None
        for i in idx:
            if not np.isnan(values[i]):
                cur = values[i] if cur is None else op(cur, values[i])
            out[i] = np.nan if cur is None else cur
    return out


def test_always_valid_vs_loop():
    rng = np.random.default_rng(5)
    n = 600
    groups = rng.choice(["exp_a|m1", "exp_a|m2", "exp_b|m1", "z"], n)
    keys = rng.integers(0, 40, n)
    p = rng.random(n)
    lo = rng.normal(0, 1, n)
    hi = lo + rng.random(n) * 3
    for arr in (p, lo, hi):
        arr[rng.random(n) < 0.15] = np.nan
    r = always_valid(groups, keys, p, lo, hi)
    np.testing.assert_array_equal(r.p_value, _ref_running(groups, keys, p, min))
    np.testing.assert_array_equal(r.ci_lower, _ref_running(groups, keys, lo, max))
    np.testing.assert_array_equal(r.ci_upper, _ref_running(groups, keys, hi, min))
    # datetime order keys, integer group codes, tiny p-values kept exactly
    dates = np.datetime64("2026-10-01") + keys.astype("timedelta64[D]")
    codes = np.unique(groups, return_inverse=True)[1]
    p2 = p * 1e-300
    r2 = always_valid(codes, dates, p2, lo, hi)
    np.testing.assert_array_equal(r2.p_value, _ref_running(groups, keys, p2, min))


def test_always_valid_nan_and_empty():
    r = always_valid([1, 1, 1, 1], [1, 2, 3, 4], [np.nan, 0.4, np.nan, 0.6],
                     [np.nan, -1.0, np.nan, -2.0], [np.nan, 1.0, 0.5, np.nan])
    np.testing.assert_array_equal(r.p_value, [np.nan, 0.4, 0.4, 0.4])
    np.testing.assert_array_equal(r.ci_lower, [np.nan, -1.0, -1.0, -1.0])
    np.testing.assert_array_equal(r.ci_upper, [np.nan, 1.0, 0.5, 0.5])
    np.testing.assert_array_equal(r.look_number, [1, 2, 3, 4])
    e = always_valid([], [], [], [], [])
    assert e.p_value.size == e.ci_lower.size == e.ci_upper.size == 0


def test_sequential_crossing_vs_loop():
    rng = np.random.default_rng(9)
    n = 500
    groups = rng.integers(0, 25, n)
    keys = rng.permutation(n)  # unique order keys
    z = rng.normal(0, 2, n)
    z[rng.random(n) < 0.1] = np.nan
    b = rng.uniform(1.5, 4, n)
    r = sequential_crossing(groups, keys, z, b)
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        idx = idx[np.argsort(keys[idx])]
        crossed, first = False, 0
        for look, i in enumerate(idx, start=1):
            now = bool(np.abs(z[i]) >= b[i])
            assert r.crosses[i] == now
            if now and not crossed:
                crossed, first = True, look
            assert r.crossed[i] == crossed and r.look_number[i] == look
        assert np.all(r.first_crossing_look[idx] == first)
    one = sequential_crossing([0, 0], [1, 2], [-3.0, 3.0], [2.0, 2.0], sides=1)
    np.testing.assert_array_equal(one.crosses, [False, True])
    empty = sequential_crossing([], [], [], [])
    assert empty.crossed.size == 0


def test_information_fractions_from_std_error():
    np.testing.assert_allclose(information_fractions_from_std_error([0.2, 0.1, 0.0, np.nan], 0.1),
                               [0.25, 1.0, np.nan, np.nan])


# ---- degenerate input -------------------------------------------------------------------------------
def test_degenerate_msprt_inputs_give_nan():
    e = np.array([0.1, 0.1, 0.1, 0.1, np.nan, 0.1, 0.1])
    se = np.array([0.0, np.nan, 0.1, 0.1, 0.1, -0.1, 0.1])
    tau2 = np.array([0.01, 0.01, 0.0, np.nan, 0.01, 0.01, -1.0])
    with np.errstate(all="raise"):
        for fn in (msprt_statistic, msprt_p_value, msprt_log_statistic):
            assert np.all(np.isnan(fn(e, se, tau2)))
        lo, hi = msprt_confidence_interval(e, se, tau2, 0.05)
        assert np.all(np.isnan(lo)) and np.all(np.isnan(hi))
        lo, hi = msprt_confidence_interval(0.1, 0.1, 0.01, [0.0, 1.0, np.nan])
        assert np.all(np.isnan(lo)) and np.all(np.isnan(hi))
        for fn in (msprt_statistic, msprt_p_value):
            assert fn(np.array([]), np.array([]), 0.01).size == 0
        lo, hi = msprt_confidence_interval(np.array([]), np.array([]), 0.01)
        assert lo.size == hi.size == 0


def test_degenerate_designs_give_nan():
    for t in ([0.5, 0.4, 1.0], [0.0, 1.0], [np.nan, 1.0], [-0.2, 1.0]):
        assert np.all(np.isnan(group_sequential_boundaries(t, ALPHA).boundaries))
        assert np.isnan(crossing_probabilities([2.0, 2.0], t[:2] if len(t) > 2 else t).total)
        assert np.all(np.isnan(naive_obf_boundaries(t, ALPHA).boundaries))
    for a in (0.0, 1.0, np.nan, -0.1):
        assert np.all(np.isnan(group_sequential_boundaries([0.5, 1.0], a).boundaries))
        assert np.all(np.isnan(classic_obf_boundaries(3, a).boundaries))
    assert group_sequential_boundaries([], ALPHA).boundaries.size == 0
    assert classic_obf_boundaries(0, ALPHA).boundaries.size == 0
    assert np.isnan(crossing_probabilities([np.nan, 2.0], [0.5, 1.0]).total)
    assert np.all(np.isnan(obf_spending([0.5], np.nan)))
    # over-running information: nothing left to spend after t = 1
    over = group_sequential_boundaries([0.5, 1.0, 1.2], ALPHA)
    assert np.isinf(over.boundaries[2]) and over.total_alpha == pytest.approx(ALPHA, abs=1e-8)


# ---- simulation: continuous monitoring of A/A and A/B streams -----------------------------------------
K_LOOKS = 30
N_DAY = 400  # units per arm per day
P0 = 0.10


def _binomial_streams(rng, s, p_control, p_treatment):
    xc = np.cumsum(rng.binomial(N_DAY, p_control, (s, K_LOOKS)), axis=1).astype(float)
    xt = np.cumsum(rng.binomial(N_DAY, p_treatment, (s, K_LOOKS)), axis=1).astype(float)
    n = N_DAY * np.arange(1, K_LOOKS + 1, dtype=float)
    return two_proportion_ztest(xc, n, xt, n, alpha=ALPHA)


def _planned_tau2():
    planned_se = np.sqrt(2 * P0 * (1 - P0) / (N_DAY * K_LOOKS))
    return default_mixing_variance(planned_std_error=planned_se)


def test_simulation_aa_peeking_msprt_obf():
    """20,000 A/A streams of 30 daily looks (MC SE of a 5% rate: 0.15%)."""
    s = 20_000
    r = _binomial_streams(np.random.default_rng(31), s, P0, P0)
    naive = np.mean(np.any(r.p_value < ALPHA, axis=1))
    fixed = np.mean(r.p_value[:, -1] < ALPHA)
    tau2 = _planned_tau2()
    p_look = msprt_p_value(r.estimate, r.std_error, tau2)
    stream = np.repeat(np.arange(s), K_LOOKS)
    look = np.tile(np.arange(K_LOOKS), s)
    lo, hi = msprt_confidence_interval(r.estimate, r.std_error, tau2, ALPHA)
    av = always_valid(stream, look, p_look.ravel(), lo.ravel(), hi.ravel())
    msprt_fpr = np.mean(av.p_value.reshape(s, K_LOOKS)[:, -1] <= ALPHA)
    design = group_sequential_boundaries(_equal(K_LOOKS), ALPHA, "obf")
    cross = sequential_crossing(stream, look, r.statistic.ravel(), np.tile(design.boundaries, s))
    obf_fpr = np.mean(cross.first_crossing_look.reshape(s, K_LOOKS)[:, 0] > 0)
    assert abs(fixed - ALPHA) < 0.006, fixed
    assert naive > 2 * ALPHA, naive  # ~0.3
    assert msprt_fpr <= ALPHA + 0.0045, msprt_fpr  # 3 SE
    planned_se = np.sqrt(2 * P0 * (1 - P0) / (N_DAY * K_LOOKS))
    exact = crossing_probabilities(msprt_z_boundaries(_equal(K_LOOKS), tau2, planned_se), _equal(K_LOOKS)).total
    assert abs(msprt_fpr - exact) < 0.003, (msprt_fpr, exact)  # ~0.014: conservative at 30 discrete looks
    assert abs(obf_fpr - ALPHA) < 0.005, obf_fpr
    # always-valid CI excludes 0 at some look iff the always-valid p-value reaches alpha
    excl = np.any(((av.ci_lower > 0) | (av.ci_upper < 0)).reshape(s, K_LOOKS), axis=1)
    assert abs(excl.mean() - msprt_fpr) < 0.003


def test_simulation_always_valid_ci_coverage_ab():
    """A/B (0.10 vs 0.11): the running-intersection CI covers the true difference at every one
    of the 30 looks simultaneously in >= 95% of streams."""
    s = 6_000
    truth = 0.01
    r = _binomial_streams(np.random.default_rng(32), s, P0, P0 + truth)
    lo, hi = msprt_confidence_interval(r.estimate, r.std_error, _planned_tau2(), ALPHA)
    run_lo = np.maximum.accumulate(lo, axis=1)
    run_hi = np.minimum.accumulate(hi, axis=1)
    coverage = np.mean(np.all((run_lo <= truth) & (run_hi >= truth), axis=1))
    assert coverage >= 1 - ALPHA - 3 * np.sqrt(ALPHA * (1 - ALPHA) / s), coverage
    # the always-valid CIs are wider than the fixed-horizon ones but shrink over time
    assert np.all(np.median(hi - lo, axis=0)[-1] > np.median(r.ci_upper - r.ci_lower, axis=0)[-1])
    power = np.mean(np.any(msprt_p_value(r.estimate, r.std_error, _planned_tau2()) <= ALPHA, axis=1))
    assert 0.3 < power < 0.99
