import numpy as np
import pytest

from analysis_py.moments import (
    centered_cross_product,
    covariance_from_sums,
    inconsistent_sums,
    mean_from_sums,
    variance_condition,
    variance_from_sums,
)

RTOL = 1e-9


def test_variance_and_covariance_match_numpy():
    rng = np.random.default_rng(0)
    groups = [rng.normal(3, 2, size=n) for n in (2, 3, 17, 500)]
    xs = [g * 0.5 + rng.normal(size=g.size) for g in groups]
    n = np.array([g.size for g in groups], float)
    s = np.array([g.sum() for g in groups])
    ss = np.array([(g * g).sum() for g in groups])
    sx = np.array([x.sum() for x in xs])
    sxy = np.array([(x * g).sum() for x, g in zip(xs, groups)])
    np.testing.assert_allclose(mean_from_sums(n, s), [g.mean() for g in groups], rtol=RTOL)
    np.testing.assert_allclose(variance_from_sums(n, s, ss), [g.var(ddof=1) for g in groups], rtol=RTOL)
    np.testing.assert_allclose(variance_from_sums(n, s, ss, ddof=0), [g.var() for g in groups], rtol=RTOL)
    np.testing.assert_allclose(covariance_from_sums(n, sx, s, sxy), [np.cov(x, g)[0, 1] for x, g in zip(xs, groups)], rtol=RTOL)


def test_degenerate_n_gives_nan_without_warnings():
    with np.errstate(all="raise"):
        assert np.isnan(mean_from_sums(0.0, 0.0))
        assert np.isnan(variance_from_sums(1.0, 5.0, 25.0))
        assert np.isnan(variance_from_sums(0.0, 0.0, 0.0))
        assert np.isnan(covariance_from_sums(1.0, 1.0, 1.0, 1.0))
        assert np.isnan(variance_from_sums(np.nan, 1.0, 1.0))


def test_constant_data_gives_exact_zero_variance():
    for c in (0.1, 3.3, 1e6 + 0.1, 123456.789):
        y = np.full(1000, c)
        v = variance_from_sums(y.size, y.sum(), (y * y).sum())
        assert v == 0.0


def test_large_nearly_constant_values_precision_limit():
    """Documented limit: relative error ~ eps * (mean/sd)^2. At mean/sd = 1e3 we keep ~1e-9;
    at 1e5 ~1e-5 (the condition number flags it); beyond 1e6 the variance is declared 0."""
    rng = np.random.default_rng(1)
    for shift, tol in ((1e3, 1e-8), (1e5, 1e-4)):
        y = shift + rng.normal(0, 1, 10_000)
        v = variance_from_sums(y.size, y.sum(), np.sum(y * y))
        exact = np.var(y - shift, ddof=1)
        assert abs(v / exact - 1) < tol, (shift, v, exact)
    y = 1e5 + rng.normal(0, 1, 10_000)
    assert variance_condition(y.size, y.sum(), np.sum(y * y)) > 1e8
    y = 1e9 + rng.normal(0, 1, 10_000)  # hopeless: must not produce a spurious positive variance
    v = variance_from_sums(y.size, y.sum(), np.sum(y * y))
    assert v == 0.0 or abs(v / np.var(y - 1e9, ddof=1) - 1) < 1


def test_inconsistent_sums_detected_but_rounding_tolerated():
    assert inconsistent_sums(10.0, 10.0, 5.0)  # Σy² < (Σy)²/n by far
    y = np.full(100, 0.1)
    assert not inconsistent_sums(100.0, y.sum(), (y * y).sum())
    assert centered_cross_product(2.0, 1.0, 1.0, 0.0) == -0.5


def test_broadcasting():
    n = np.array([[10.0], [20.0]])
    s = np.array([1.0, 2.0, 3.0])
    ss = np.array([5.0, 5.0, 5.0])
    assert variance_from_sums(n, s, ss).shape == (2, 3)
