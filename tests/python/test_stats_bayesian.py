import math

import numpy as np
import pytest
from scipy import integrate, special, stats

from analysis_py import bayesian
from analysis_py.bayesian import (
    beta_binomial_ab_test,
    beta_posterior,
    betaln,
    expected_loss_beta,
    normal_posterior_difference,
    normal_posterior_from_sums,
    prob_best_beta,
    prob_treatment_beats_control,
)

TOL = 1e-9


def _pts(*ab):
    return sorted({float(stats.beta.ppf(q, a, b)) for a, b in ab for q in (1e-9, 1e-4, 0.02, 0.5, 0.98, 1 - 1e-4, 1 - 1e-9)})


def _pdf(x, a, b):
    # scalar Beta density via scipy.special (stats.beta.pdf is ~50x slower per call inside quad)
    if x <= 0.0 or x >= 1.0:
        return 0.0
    return math.exp((a - 1) * math.log(x) + (b - 1) * math.log1p(-x) - special.betaln(a, b))


def _quad_prob(at, bt, ac, bc):
    """P(p_T > p_C) = ∫ f_T(x) F_C(x) dx by adaptive quadrature (scipy.integrate.quad)."""
    pts = _pts((at, bt), (ac, bc))
    f = lambda x: _pdf(x, at, bt) * special.betainc(ac, bc, x)  # noqa: E731
    return integrate.quad(f, 0.0, 1.0, points=pts, epsabs=1e-14, epsrel=1e-13, limit=1000)[0]


def _quad_loss_treatment(at, bt, ac, bc):
    """E[max(p_C − p_T, 0)] = ∫ f_T(y) E[(p_C − y)⁺] dy with E[(p_C − y)⁺] = m_C S_{C+1}(y) − y S_C(y)."""
    mc = ac / (ac + bc)
    pts = _pts((at, bt), (ac, bc))
    f = lambda y: _pdf(y, at, bt) * (mc * special.betaincc(ac + 1, bc, y) - y * special.betaincc(ac, bc, y))  # noqa: E731
    return integrate.quad(f, 0.0, 1.0, points=pts, epsabs=1e-15, epsrel=1e-13, limit=1000)[0]


CASES = [
    (1, 1, 1, 1), (2, 30, 5, 40), (31, 970, 21, 980), (101, 900, 81, 920), (6, 1, 3, 2),
    (500, 500, 480, 520), (3, 2000, 1, 3000), (1201, 8800, 1101, 8900), (40, 400, 4, 8),
    (1, 100_000, 3, 100_000), (150, 60, 120, 90),
]


# ---------------------------------------------------------------------------------------------
# P(p_T > p_C)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES)
def test_prob_closed_form_and_quadrature_match_quad(case):
    ref = _quad_prob(*case)
    cf = float(prob_treatment_beats_control(*case, method="closed_form"))
    qd = float(prob_treatment_beats_control(*case, method="quadrature"))
    assert cf == pytest.approx(ref, abs=TOL)
    assert qd == pytest.approx(ref, abs=TOL)
    assert float(prob_treatment_beats_control(*case)) == pytest.approx(ref, abs=TOL)


def test_prob_exact_special_cases():
    # a_T = a_C = 1: P(p_T > p_C) = b_C / (b_C + b_T); identical posteriors: 1/2
    bt = np.array([1.0, 7.0, 95_773.0, 10.0])
    bc = np.array([1.0, 3.0, 95_756.0, 12.0])
    np.testing.assert_allclose(prob_treatment_beats_control(1.0, bt, 1.0, bc), bc / (bc + bt), rtol=1e-13)
    np.testing.assert_allclose(prob_treatment_beats_control(1.0, bt, 1.0, bc, method="quadrature"), bc / (bc + bt), atol=1e-10)
    for m in ("closed_form", "quadrature"):
        assert float(prob_treatment_beats_control(37, 4000, 37, 4000, method=m)) == pytest.approx(0.5, abs=1e-12)
        # complement symmetry
        p = prob_treatment_beats_control(12, 300, 19, 310, method=m) + prob_treatment_beats_control(19, 310, 12, 300, method=m)
        assert float(p) == pytest.approx(1.0, abs=1e-12)


def test_regimes_agree_on_random_batch():
    rng = np.random.default_rng(11)
    n = 600
    nt = rng.integers(0, 3000, n)
    nc = rng.integers(0, 3000, n)
    xt = rng.binomial(nt, rng.uniform(0.0, 1.0, n))
    xc = rng.binomial(nc, rng.uniform(0.0, 1.0, n))
    at, bt = beta_posterior(xt, nt)
    ac, bc = beta_posterior(xc, nc)
    cf = prob_treatment_beats_control(at, bt, ac, bc, method="closed_form")
    qd = prob_treatment_beats_control(at, bt, ac, bc, method="quadrature")
    np.testing.assert_allclose(cf, qd, atol=TOL)
    # 'auto' with a small threshold mixes both regimes in one vectorised call
    auto = prob_treatment_beats_control(at, bt, ac, bc, max_terms=300)
    np.testing.assert_allclose(auto, cf, atol=TOL)


def test_auto_switches_to_quadrature_for_large_counts(monkeypatch):
    # 5% vs 5.1% conversion on 1M users per arm: every parameter > CLOSED_FORM_MAX_TERMS
    at, bt = beta_posterior(51_000, 1_000_000)
    ac, bc = beta_posterior(50_000, 1_000_000)
    assert min(at, bt, ac, bc) > bayesian.CLOSED_FORM_MAX_TERMS
    calls = []
    orig = bayesian._quadrature_rows
    monkeypatch.setattr(bayesian, "_quadrature_rows", lambda *a: calls.append(1) or orig(*a))
    auto = float(prob_treatment_beats_control(at, bt, ac, bc))
    assert calls
    exact = float(prob_treatment_beats_control(at, bt, ac, bc, method="closed_form"))  # 50k-term sum
    assert auto == pytest.approx(exact, abs=TOL)
    assert auto == pytest.approx(_quad_prob(at, bt, ac, bc), abs=1e-8)
    # sanity: normal approximation of the difference of two rates
    m = at / (at + bt) - ac / (ac + bc)
    v = at * bt / ((at + bt) ** 2 * (at + bt + 1)) + ac * bc / ((ac + bc) ** 2 * (ac + bc + 1))
    assert auto == pytest.approx(stats.norm.cdf(m / math.sqrt(v)), abs=2e-3)


def test_non_integer_parameters_use_quadrature():
    # Jeffreys prior Beta(1/2, 1/2): no integer parameter -> quadrature in 'auto'; closed form NaN
    at, bt = beta_posterior(20, 100, 0.5, 0.5)
    ac, bc = beta_posterior(10, 100, 0.5, 0.5)
    assert np.isnan(prob_treatment_beats_control(at, bt, ac, bc, method="closed_form"))
    assert float(prob_treatment_beats_control(at, bt, ac, bc)) == pytest.approx(_quad_prob(at, bt, ac, bc), abs=TOL)
    # parameters below 1 (densities with integrable singularities at 0 and 1): reference by the
    # substitution x = Q_T(u), P = ∫_0^1 F_C(Q_T(u)) du, whose integrand is bounded
    ref = integrate.quad(lambda u: stats.beta.cdf(stats.beta.ppf(u, 0.5, 0.7), 0.6, 0.5), 0.0, 1.0,
                         epsabs=1e-13, epsrel=1e-12, limit=500)[0]
    assert float(prob_treatment_beats_control(0.5, 0.7, 0.6, 0.5)) == pytest.approx(ref, abs=TOL)


def test_prob_best_beta_two_arms_and_shapes():
    a = np.array([[3.0, 30.0], [2.0, 5.0], [np.nan, 4.0]])
    b = np.array([[40.0, 400.0], [1e4, 2e4], [1.0, 6.0]])
    p, total = prob_best_beta(a, b)
    assert float(p[0, 1]) == pytest.approx(float(prob_treatment_beats_control(30, 400, 3, 40, method="closed_form")), abs=TOL)
    np.testing.assert_allclose(np.nansum(p, axis=1), 1.0, rtol=1e-15)
    assert np.all(np.abs(total[:2] - 1.0) < 1e-10)
    assert np.isnan(p[2, 0]) and p[2, 1] == 1.0  # a single present arm is best with probability 1


# ---------------------------------------------------------------------------------------------
# expected loss
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES[:9])
def test_expected_loss_matches_numerical_integration(case):
    at, bt, ac, bc = case
    loss_t, loss_c = expected_loss_beta(*case)
    assert float(loss_t) == pytest.approx(_quad_loss_treatment(at, bt, ac, bc), abs=TOL)
    # loss of keeping control = loss of shipping treatment with the roles swapped
    assert float(loss_c) == pytest.approx(_quad_loss_treatment(ac, bc, at, bt), abs=TOL)
    # E[max(x,0)] − E[max(−x,0)] = E[x]
    assert float(loss_t - loss_c) == pytest.approx(ac / (ac + bc) - at / (at + bt), abs=1e-12)
    lq = expected_loss_beta(*case, method="quadrature")
    assert float(lq[0]) == pytest.approx(float(loss_t), abs=TOL)


def test_expected_loss_monte_carlo_large_counts():
    rng = np.random.default_rng(5)
    at, bt, ac, bc = 5_101.0, 94_901.0, 5_001.0, 95_001.0
    loss_t, loss_c = expected_loss_beta(at, bt, ac, bc)
    draws = 1_000_000
    d = rng.beta(ac, bc, draws) - rng.beta(at, bt, draws)
    mc = np.maximum(d, 0.0)
    assert float(loss_t) == pytest.approx(mc.mean(), abs=4 * mc.std() / math.sqrt(draws))
    assert float(loss_c) == pytest.approx(np.maximum(-d, 0.0).mean(), abs=4 * np.maximum(-d, 0.0).std() / math.sqrt(draws))


# ---------------------------------------------------------------------------------------------
# Beta-Binomial wrapper
# ---------------------------------------------------------------------------------------------
def test_beta_binomial_ab_test():
    r = beta_binomial_ab_test([30, 0, 5], [200, 0, 4], [45, 3, -1], [210, 10, 10], prior_alpha=1.0, prior_beta=2.0,
                              credible_level=0.9)
    np.testing.assert_array_equal(r.alpha_control[:2], [31.0, 1.0])
    np.testing.assert_array_equal(r.beta_control[:2], [172.0, 2.0])
    assert np.isnan(r.alpha_control[2]) and np.isnan(r.alpha_treatment[2])  # x > n, x < 0
    assert r.mean_treatment[0] == pytest.approx(46 / (46 + 167))
    assert r.ci_lower_treatment[0] == pytest.approx(stats.beta.ppf(0.05, 46, 167), rel=1e-10)
    assert r.ci_upper_control[1] == pytest.approx(stats.beta.ppf(0.95, 1, 2), rel=1e-10)
    assert r.prob_treatment_beats_control[0] == pytest.approx(_quad_prob(46, 167, 31, 172), abs=TOL)
    assert r.expected_loss_treatment[0] == pytest.approx(_quad_loss_treatment(46, 167, 31, 172), abs=TOL)
    assert np.isnan(r.prob_treatment_beats_control[2]) and np.isnan(r.expected_loss_control[2])


# ---------------------------------------------------------------------------------------------
# normal model
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("est,se", [(0.3, 0.2), (-1.5, 0.4), (0.0, 1.0), (2e-3, 1e-3)])
def test_normal_posterior_flat_prior(est, se):
    r = normal_posterior_difference(est, se, credible_level=0.95)
    assert float(r.posterior_mean) == est and float(r.posterior_sd) == pytest.approx(se, rel=1e-15)
    assert float(r.prob_treatment_better) == pytest.approx(stats.norm.sf(0, est, se), rel=1e-12)
    assert float(r.ci_lower) == pytest.approx(stats.norm.ppf(0.025, est, se), rel=1e-12, abs=1e-15)
    pdf = lambda x: stats.norm.pdf(x, est, se)  # noqa: E731
    lt = integrate.quad(lambda x: -x * pdf(x), est - 12 * se, 0.0, epsabs=1e-14, epsrel=1e-12)[0] if est - 12 * se < 0 else 0.0
    lc = integrate.quad(lambda x: x * pdf(x), 0.0, est + 12 * se, epsabs=1e-14, epsrel=1e-12)[0] if est + 12 * se > 0 else 0.0
    assert float(r.expected_loss_treatment) == pytest.approx(lt, rel=1e-9, abs=1e-13)
    assert float(r.expected_loss_control) == pytest.approx(lc, rel=1e-9, abs=1e-13)


def test_normal_posterior_with_prior_and_from_sums():
    r = normal_posterior_difference(0.5, 0.2, prior_sd=0.1, prior_mean=0.05)
    prec = 1 / 0.2 ** 2 + 1 / 0.1 ** 2
    m = (0.5 / 0.2 ** 2 + 0.05 / 0.1 ** 2) / prec
    assert float(r.posterior_mean) == pytest.approx(m, rel=1e-14)
    assert float(r.posterior_sd) == pytest.approx(prec ** -0.5, rel=1e-14)
    rng = np.random.default_rng(2)
    yc, yt = rng.normal(10, 3, 500), rng.normal(10.4, 3.5, 700)
    s = normal_posterior_from_sums(yc.size, yc.sum(), (yc ** 2).sum(), yt.size, yt.sum(), (yt ** 2).sum())
    se = math.sqrt(yc.var(ddof=1) / yc.size + yt.var(ddof=1) / yt.size)
    assert float(s.posterior_mean) == pytest.approx(yt.mean() - yc.mean(), rel=1e-10)
    assert float(s.posterior_sd) == pytest.approx(se, rel=1e-10)


# ---------------------------------------------------------------------------------------------
# accuracy helpers and degenerate input
# ---------------------------------------------------------------------------------------------
def test_betaln_accuracy_large_arguments():
    # exact: log B(a, b) = log((a−1)!) − Σ_{m<a} log(b + m) for integer a
    for a in (1, 2, 3, 9, 10, 11, 30, 200):
        for b in (1.0, 7.0, 12.0, 95_756.0, 3e6, 1e8):
            ref = math.lgamma(a) - math.fsum(math.log(b + m) for m in range(a))
            assert float(betaln(a, b)) == pytest.approx(ref, rel=1e-13, abs=1e-13)
            assert float(betaln(b, a)) == pytest.approx(ref, rel=1e-13, abs=1e-13)
    x = np.random.default_rng(0).uniform(0.1, 20, (2, 500))
    np.testing.assert_allclose(betaln(*x), special.betaln(*x), rtol=1e-13)


def test_degenerate_inputs_give_nan_without_warnings():
    with np.errstate(all="raise"):
        p = prob_treatment_beats_control([0.0, np.nan, -1.0, np.inf, 3.0], 2.0, 1.0, [1.0, 1.0, 1.0, 1.0, 0.0])
        lt, lc = expected_loss_beta([0.0, np.nan], 2.0, 1.0, 1.0)
        a, b = beta_posterior([5, -1, 3, 0], [4, 10, np.nan, 0])
        r = normal_posterior_difference([1.0, 1.0, np.nan, 1.0], [0.0, np.nan, 1.0, -1.0])
        rp = normal_posterior_difference(1.0, 1.0, prior_sd=0.0)
        pb, tot = prob_best_beta(np.full((1, 3), np.nan), np.ones((1, 3)))
    assert np.isnan(p).all() and np.isnan(lt).all() and np.isnan(lc).all()
    assert np.isnan(a[:3]).all() and a[3] == 1.0 and b[3] == 1.0  # x > n, x < 0, NaN n; n = 0 -> prior
    assert np.isnan(r.prob_treatment_better).all() and np.isnan(r.expected_loss_treatment).all()
    assert np.isnan(rp.posterior_mean)
    assert np.isnan(pb).all() and np.isnan(tot).all()
    # n = 0 in both arms: the prior, P = 1/2
    assert float(beta_binomial_ab_test(0, 0, 0, 0).prob_treatment_beats_control) == pytest.approx(0.5, abs=1e-12)
