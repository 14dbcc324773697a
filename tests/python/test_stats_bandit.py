import numpy as np
import pytest

from analysis_py.bandit import apply_weight_floor, thompson_allocation, thompson_allocation_long
from analysis_py.bayesian import beta_posterior, prob_treatment_beats_control


def test_two_arms_equal_closed_form():
    rng = np.random.default_rng(3)
    g = 300
    n = rng.integers(0, 2000, (g, 2))
    x = rng.binomial(n, rng.uniform(0.0, 0.3, (g, 2)))
    r = thompson_allocation(x, n)
    a, b = beta_posterior(x, n)
    closed = prob_treatment_beats_control(a[:, 1], b[:, 1], a[:, 0], b[:, 0], method="closed_form")
    np.testing.assert_allclose(r.prob_best[:, 1], closed, atol=1e-6)
    assert np.max(np.abs(r.prob_best[:, 1] - closed)) < 1e-9  # actual accuracy
    np.testing.assert_allclose(r.prob_best.sum(axis=1), 1.0, rtol=1e-15)
    assert np.all(r.integration_error < 1e-9)


GROUPS = [
    # (successes, trials) per arm
    ([10, 12, 20], [100, 100, 100]),
    ([50, 52, 55, 49], [1000, 1000, 1000, 1000]),
    ([3, 300, 31, 0, 2], [10, 3000, 300, 0, 25]),          # very different posterior widths
    ([51_000, 50_400, 50_900], [1_000_000, 1_000_000, 1_000_000]),  # large counts
    ([0, 1, 0], [40, 40, 5]),
]


@pytest.mark.parametrize("group", GROUPS)
def test_k_arms_match_monte_carlo(group):
    s, n = (np.array(v, float) for v in group)
    r = thompson_allocation(s[None, :], n[None, :])
    a, b = beta_posterior(s, n)
    rng = np.random.default_rng(12345)
    draws = 1_000_000
    best = np.argmax(rng.beta(a, b, size=(draws, s.size)), axis=1)
    mc = np.bincount(best, minlength=s.size) / draws
    se = np.sqrt(mc * (1 - mc) / draws)
    assert np.all(np.abs(r.prob_best[0] - mc) <= 4 * se + 1e-6), (r.prob_best[0], mc, se)
    assert r.prob_best[0].sum() == pytest.approx(1.0, abs=1e-14)
    assert float(r.integration_error[0]) < 1e-9


def test_symmetric_arms_equal_and_vectorised_groups():
    s = np.array([[5.0, 5.0, 5.0], [7.0, 30.0, 7.0], [0.0, 0.0, 0.0]])
    n = np.array([[50.0, 50.0, 50.0], [70.0, 100.0, 70.0], [0.0, 0.0, 0.0]])
    r = thompson_allocation(s, n)
    np.testing.assert_allclose(r.prob_best[0], 1 / 3, rtol=1e-12)
    np.testing.assert_allclose(r.prob_best[2], 1 / 3, rtol=1e-12)  # no data: the prior
    assert r.prob_best[1, 0] == pytest.approx(r.prob_best[1, 2], rel=1e-12)
    # groups are independent: computing one alone gives the same numbers
    alone = thompson_allocation(s[1:2], n[1:2])
    np.testing.assert_allclose(alone.prob_best, r.prob_best[1:2], rtol=1e-13)
    # leading group shape is preserved
    r3 = thompson_allocation(np.stack([s, s]), np.stack([n, n]))
    assert r3.prob_best.shape == (2, 3, 3) and r3.integration_error.shape == (2, 3)


def test_weight_floor():
    p = np.array([[0.97, 0.02, 0.01], [0.5, 0.3, 0.2], [0.9, 0.1, np.nan], [0.6, 0.25, 0.15], [0.4, 0.35, 0.25]])
    w = apply_weight_floor(p, 0.1)
    np.testing.assert_allclose(np.nansum(w, axis=1), 1.0, rtol=1e-14)
    assert np.all(w[np.isfinite(w)] >= 0.1 - 1e-15)
    np.testing.assert_allclose(w[0], [0.8, 0.1, 0.1], rtol=1e-14)
    np.testing.assert_allclose(w[1], p[1], rtol=1e-14)  # already above the floor: unchanged
    assert np.isnan(w[2, 2]) and w[2, 0] == pytest.approx(0.9)
    # unfloored arms keep their proportions
    w4 = apply_weight_floor(p[3:4], 0.2)
    assert w4[0, 2] == pytest.approx(0.2) and w4[0, 0] / w4[0, 1] == pytest.approx(0.6 / 0.25, rel=1e-13)
    # k·floor >= 1: equal weights
    np.testing.assert_allclose(apply_weight_floor(p[4], 0.4), 1 / 3, rtol=1e-14)
    np.testing.assert_allclose(apply_weight_floor(p[0], 0.0), p[0], rtol=1e-14)
    # through the allocation
    r = thompson_allocation([[1, 40, 2], [9, 10, 8]], [[100, 100, 100], [100, 100, 100]], min_weight=0.05)
    assert np.all(r.weights >= 0.05 - 1e-15)
    np.testing.assert_allclose(r.weights.sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(r.weights[1], r.prob_best[1], rtol=1e-14)  # all arms already above 5%


def test_long_format_matches_wide():
    rng = np.random.default_rng(8)
    groups = np.array(["e1", "e1", "e2", "e2", "e2", "e3", "e1"])
    n = rng.integers(50, 500, groups.size).astype(float)
    s = rng.binomial(n.astype(int), 0.1).astype(float)
    perm = rng.permutation(groups.size)
    r = thompson_allocation_long(groups[perm], s[perm], n[perm], min_weight=0.02)
    for gname in ("e1", "e2", "e3"):
        m = groups[perm] == gname
        wide = thompson_allocation(s[perm][m][None, :], n[perm][m][None, :], min_weight=0.02)
        np.testing.assert_allclose(r.prob_best[m], wide.prob_best[0], rtol=1e-13)
        np.testing.assert_allclose(r.weights[m], wide.weights[0], rtol=1e-13)
    assert np.all(r.weights[groups[perm] == "e3"] == 1.0)  # a single arm gets everything
    empty = thompson_allocation_long(np.array([]), np.array([]), np.array([]))
    assert empty.weights.size == 0


def test_degenerate_arms():
    with np.errstate(all="raise"):
        r = thompson_allocation(np.array([[5.0, -1.0, 3.0], [np.nan, np.nan, np.nan], [4.0, 11.0, 2.0]]),
                                np.array([[10.0, 10.0, 10.0], [np.nan, np.nan, np.nan], [10.0, 10.0, 10.0]]))
    # invalid arm (x < 0 or x > n) is absent, the others are renormalised among themselves
    assert np.isnan(r.prob_best[0, 1]) and r.prob_best[0, [0, 2]].sum() == pytest.approx(1.0)
    a, b = beta_posterior(np.array([5.0, 3.0]), np.array([10.0, 10.0]))
    assert r.prob_best[0, 0] == pytest.approx(float(prob_treatment_beats_control(a[0], b[0], a[1], b[1])), abs=1e-9)
    assert np.isnan(r.prob_best[1]).all() and np.isnan(r.weights[1]).all() and np.isnan(r.integration_error[1])
    assert np.isnan(r.prob_best[2, 1]) and np.nansum(r.weights[2]) == pytest.approx(1.0)
