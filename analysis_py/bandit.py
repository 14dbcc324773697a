"""Thompson-sampling traffic allocation for conversion metrics, computed deterministically.

Thompson sampling (Thompson 1933, "On the likelihood that one unknown probability exceeds another
in view of the evidence of two samples", Biometrika 25; Chapelle & Li 2011, "An empirical
evaluation of Thompson sampling", NeurIPS) assigns each unit to arm ``i`` with the posterior
probability that ``i`` is the best arm. Scott (2010, "A modern Bayesian look at the multi-armed
bandit", Appl. Stoch. Models Bus. Ind. 26) recommends exactly these probabilities as the
**traffic weights** of a batch-updated experiment ("randomized probability matching"), which is
what this module computes from per-arm sufficient statistics (successes, trials):

``w_i = P(p_i = max_j p_j) = ∫ f_i(x) Π_{j≠i} F_j(x) dx`` with ``p_i ~ Beta(α₀ + s_i, β₀ + n_i − s_i)``

(default prior ``Beta(1, 1)``). Instead of sampling, the integral is evaluated by deterministic
quadrature (:func:`analysis_py.bayesian.prob_best_beta`): the weights are reproducible, accurate
to ~1e-10 and sum to 1. An optional floor keeps every arm explored (:func:`apply_weight_floor`).

Layout: wide arrays with arms on the last axis and any leading shape of groups (experiment ×
date …); groups with fewer arms are NaN-padded (absent arms get NaN weights), or use
:func:`thompson_allocation_long` for long-format rows with a group key. Vectorised over groups
(no per-group Python loop); never raises on degenerate numbers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._common import as_float
from .bayesian import beta_posterior, prob_best_beta


@dataclass(frozen=True)
class ThompsonAllocation:
    """Arrays; ``prob_best`` / ``weights`` have the input shape (arms on the last axis)."""

    prob_best: np.ndarray  #: P(arm has the highest conversion rate); NaN for absent arms
    weights: np.ndarray  #: recommended traffic weights (prob_best with the floor applied)
    integration_error: np.ndarray  #: |1 − Σ_i P_i| before normalisation, per group


def apply_weight_floor(prob, min_weight=0.0) -> np.ndarray:
    """Weights ``w_i = max(f, c·p_i)`` with ``c`` chosen so that ``Σ w_i = 1`` (arms on the last axis).

    Arms whose probability is small are raised to the floor ``f`` and the others are scaled down
    proportionally ("water filling"): the result is the closest weighting to ``p`` in the
    proportional sense that gives every arm at least ``f``. With ``k`` present arms and
    ``k·f >= 1`` every arm gets ``1/k``. NaN (absent) arms stay NaN and are not counted.
    ``min_weight = 0`` returns ``p`` renormalised.
    """
    p = as_float(prob)
    if p.ndim == 0:
        p = p[None]
    f = float(min_weight)
    shape = p.shape
    k = shape[-1]
    p2 = p.reshape(-1, k)
    valid = np.isfinite(p2)
    k_valid = valid.sum(axis=1)
    pv = np.where(valid, np.maximum(p2, 0.0), 0.0)
    total = pv.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        pv = pv / total
    if f <= 0.0:
        return np.where(valid, pv, np.nan).reshape(shape)
    ps = np.sort(np.where(valid, pv, np.inf), axis=1)  # ascending, absent arms last
    prefix = np.concatenate([np.zeros((p2.shape[0], 1)), np.cumsum(np.where(np.isfinite(ps), ps, 0.0), axis=1)], axis=1)
    m = np.arange(k)[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        c = (1.0 - m * f) / (1.0 - prefix[:, :k])
        # the m smallest arms are floored iff the (m+1)-th smallest still gets >= f once scaled
        ok = (m < k_valid[:, None]) & (c * ps >= f * (1.0 - 1e-12)) & (1.0 - m * f > 0)
    has = ok.any(axis=1)
    m_star = np.argmax(ok, axis=1)
    c_star = c[np.arange(p2.shape[0]), m_star][:, None]
    w = np.maximum(f, c_star * pv)
    with np.errstate(invalid="ignore", divide="ignore"):
        equal = np.broadcast_to(1.0 / k_valid[:, None], w.shape)
    w = np.where(has[:, None], w, equal)
    w = np.where(valid & (k_valid[:, None] > 0) & np.isfinite(total), w, np.nan)
    return w.reshape(shape)


def thompson_allocation(successes, trials, prior_alpha=1.0, prior_beta=1.0, min_weight=0.0) -> ThompsonAllocation:
    """Thompson-sampling weights of the arms on the last axis of ``successes`` / ``trials``.

    ``prob_best[..., i] = P(arm i best)`` under independent Beta posteriors
    (:func:`analysis_py.bayesian.beta_posterior`), normalised to sum to 1 over the present arms;
    ``weights`` additionally apply the floor ``min_weight`` (:func:`apply_weight_floor`). Absent
    arms (NaN counts) and invalid counts (``s < 0``, ``s > n``) get NaN and do not count for the
    others; an arm with ``n = 0`` has the prior as posterior. Groups with a single present arm get
    weight 1; groups without any get NaN.
    """
    a, b = beta_posterior(successes, trials, prior_alpha, prior_beta)
    if a.ndim == 0:
        a, b = a[None], b[None]
    prob, total = prob_best_beta(a, b)
    return ThompsonAllocation(prob, apply_weight_floor(prob, min_weight), np.abs(1.0 - total))


def thompson_allocation_long(group, successes, trials, prior_alpha=1.0, prior_beta=1.0,
                             min_weight=0.0) -> ThompsonAllocation:
    """:func:`thompson_allocation` for long-format rows (one row per arm, ``group`` identifying the
    experiment × date …). Returns 1-D arrays aligned with the input rows
    (``integration_error`` repeated on every row of a group)."""
    g = np.asarray(group)
    s = as_float(successes)
    n = as_float(trials)
    g, s, n = np.broadcast_arrays(g, s, n)
    if g.size == 0:
        empty = np.empty(0)
        return ThompsonAllocation(empty, empty, empty)
    _, codes = np.unique(g.ravel(), return_inverse=True)
    codes = codes.ravel()
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    sizes = np.diff(np.r_[starts, sorted_codes.size])
    pos = np.empty(codes.size, dtype=np.int64)
    pos[order] = np.arange(codes.size) - np.repeat(starts, sizes)
    n_groups, k = starts.size, int(sizes.max())
    S = np.full((n_groups, k), np.nan)
    N = np.full((n_groups, k), np.nan)
    S[codes, pos] = s.ravel()
    N[codes, pos] = n.ravel()
    res = thompson_allocation(S, N, prior_alpha, prior_beta, min_weight)
    return ThompsonAllocation(res.prob_best[codes, pos], res.weights[codes, pos], res.integration_error[codes])
