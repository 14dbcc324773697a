"""Sample-ratio-mismatch (SRM) tests.

* :func:`srm_p_value` — upper tail of the chi-square distribution, for a statistic computed
  elsewhere (the SQL model computes ``Σ(o − e)²/e`` with ``df = k − 1``).
* :func:`srm_test` — the full test from observed counts and configured weights: Pearson's
  chi-square goodness of fit (Pearson 1900; Fabijan et al. 2019, "Diagnosing Sample Ratio
  Mismatch in Online Controlled Experiments", KDD), except for two arms with fewer than
  ``exact_below`` (default 100) units in total, where the chi-square approximation is poor and the
  exact two-sided binomial test is used (p-value = sum of the probabilities of all outcomes no
  more likely than the observed one, the "minlike" rule of ``scipy.stats.binomtest``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from ._common import as_float

METHOD_CHI_SQUARE = "chi_square"
METHOD_EXACT_BINOMIAL = "exact_binomial"


def srm_p_value(chi_square, degrees_of_freedom) -> np.ndarray:
    """``P(χ²_df ≥ chi_square)``; NaN for df < 1 or a missing / negative statistic."""
    x, df = np.broadcast_arrays(as_float(chi_square), as_float(degrees_of_freedom))
    ok = (df >= 1) & (x >= 0)
    with np.errstate(invalid="ignore"):
        p = special.chdtrc(np.where(ok, df, 1.0), np.where(ok, x, 0.0))
    return np.where(ok, p, np.where((df >= 1) & (x == np.inf), 0.0, np.nan))


@dataclass(frozen=True)
class SrmResult:
    chi_square: np.ndarray
    degrees_of_freedom: np.ndarray  #: k − 1 over arms present (float; NaN when k < 2)
    p_value: np.ndarray
    method: np.ndarray  #: object array of METHOD_* strings
    n_total: np.ndarray


def _binom_two_sided_minlike(x, n, p, rerr=1.0 + 1e-7):
    """Exact two-sided binomial p-values, vectorised (rows = tests). n must be small."""
    n_max = int(np.nanmax(n)) if n.size else 0
    j = np.arange(n_max + 1)[None, :]
    nn = n[:, None]
    pmf = np.where(j <= nn, stats.binom.pmf(j, nn, p[:, None]), 0.0)
    d = stats.binom.pmf(x, n, p)
    pv = np.sum(np.where(pmf <= d[:, None] * rerr, pmf, 0.0), axis=1)
    return np.minimum(pv, 1.0)


def srm_test(observed, weights, exact_below: int = 100) -> SrmResult:
    """SRM test of ``observed`` counts (shape ``(..., k)``) against ``weights`` (broadcastable).

    Arms whose observed count or weight is NaN are treated as absent (pad experiments with fewer
    arms with NaN). Expected counts are ``N·w/Σw``. An arm with zero weight but units gives
    chi-square = inf (p = 0); zero weight and zero units is ignored. Fewer than two arms, or
    N = 0, give NaN.
    """
    obs = as_float(observed)
    w = np.broadcast_to(as_float(weights), obs.shape)
    present = np.isfinite(obs) & np.isfinite(w)
    o = np.where(present, obs, 0.0)
    ww = np.where(present, w, 0.0)
    n = o.sum(axis=-1)
    wsum = ww.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        e = n[..., None] * ww / wsum[..., None]
        contrib = np.where(e > 0, (o - e) ** 2 / np.where(e > 0, e, 1.0), np.where(o > 0, np.inf, 0.0))
    active = present & ((ww > 0) | (o > 0))
    k = active.sum(axis=-1)
    chi = np.where(present, contrib, 0.0).sum(axis=-1)
    df = np.where(k >= 2, k - 1.0, np.nan)
    bad = (k < 2) | ~(n > 0) | ~(wsum > 0) | np.any(present & ((o < 0) | (ww < 0)), axis=-1)
    chi = np.where(bad, np.nan, chi)
    df = np.where(bad, np.nan, df)
    p = srm_p_value(chi, df)
    method = np.full(chi.shape, METHOD_CHI_SQUARE, dtype=object)

    exact = ~bad & (k == 2) & (n < exact_below) & np.isfinite(chi)
    if np.any(exact):
        # first active arm's count ~ Binomial(N, w1 / (w1 + w2))
        oa = np.where(active, o, np.nan)[exact]
        wa = np.where(active, ww, np.nan)[exact]
        first = np.argmax(~np.isnan(oa), axis=-1)
        rows = np.arange(oa.shape[0])
        x1 = oa[rows, first]
        w1 = wa[rows, first]
        pe = _binom_two_sided_minlike(x1, n[exact], w1 / wsum[exact])
        p = p.copy()
        p[exact] = pe
        method[exact] = METHOD_EXACT_BINOMIAL
    return SrmResult(chi, df, p, method, n)
