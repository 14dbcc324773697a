"""Bayesian A/B analysis from sufficient statistics.

* **Conversions (Beta–Binomial).** With a ``Beta(α₀, β₀)`` prior (default ``Beta(1, 1)``) and
  ``x`` conversions out of ``n`` units the posterior is ``Beta(α₀ + x, β₀ + n − x)``.
  :func:`prob_treatment_beats_control` gives ``P(p_T > p_C)`` in closed form (Miller 2015) or by
  deterministic quadrature; :func:`expected_loss_beta` gives the expected loss of shipping either
  arm in closed form (Stucchio 2015).
* **Means (normal model).** The posterior of ``Δ = μ_T − μ_C`` is ``N(Δ̂, SE²)`` under a flat prior,
  or the conjugate update of a ``N(m₀, σ₀²)`` prior (:func:`normal_posterior_difference`).

Everything is vectorised over rows (numpy broadcasting) and never raises on degenerate numbers:
invalid counts (``x < 0``, ``x > n``), non-positive Beta parameters, ``SE <= 0`` give NaN.

Closed form for ``P(p_B > p_A)``
--------------------------------
For ``p_A ~ Beta(a_A, b_A)``, ``p_B ~ Beta(a_B, b_B)`` and an integer ``a_B`` (Miller 2015,
"Formulas for Bayesian A/B testing", https://www.evanmiller.org/bayesian-ab-testing.html)::

    P(p_B > p_A) = Σ_{i=0}^{a_B−1} B(a_A + i, b_A + b_B) / ((b_B + i) B(1 + i, b_B) B(a_A, b_A))

The sum has ``a_B`` terms. By the symmetries ``p ↦ 1 − p`` (swapping ``a`` and ``b``) and
``P(p_B > p_A) = 1 − P(p_A > p_B)`` there are four equivalent sums, over ``a_T``, ``b_C`` (direct),
``a_C`` or ``b_T`` (complement); each row uses the shortest one among its integer parameters
(direct forms preferred on ties, since the complement loses relative precision for tiny
probabilities). Terms are evaluated in log space: the first with an accurate ``log B``
(:func:`betaln`), the others by the exact term ratio (cumulative sum of log ratios). All terms
are positive; absolute error ≲ 1e-11 for sums of a few thousand terms (tested against
``scipy.integrate.quad`` and the quadrature below).

Switch to quadrature
--------------------
The sum costs ~0.1 µs per term. When the shortest sum would exceed
:data:`CLOSED_FORM_MAX_TERMS` = 2000 terms (every integer parameter of the row is large, e.g.
thousands of conversions *and* non-conversions in both arms) or no parameter is an integer
(e.g. a Jeffreys ``Beta(½, ½)`` prior), the row is computed by :func:`prob_best_beta`
(~0.1–0.3 ms per row): deterministic Gauss–Legendre quadrature of ``∫ f_T(x) F_C(x) dx`` in the
logit domain on panels bounded by Beta quantiles of both arms, accurate to ~1e-11 absolute.
Both regimes are tested against each other on overlapping inputs and against ``quad``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from ._common import as_float, positive_sqrt, safe_divide
from .moments import mean_from_sums, variance_from_sums

#: longest closed-form sum (terms per row) before switching to quadrature
CLOSED_FORM_MAX_TERMS = 2000
#: the closed-form sums are evaluated in chunks of at most this many terms (memory bound)
_CHUNK_TERMS = 1_000_000

#: k-arm quadrature panel boundaries: Beta quantiles at Φ(z) for these z, of every arm
_Z_BREAKS = np.array([-8.0, -5.0, -3.0, -1.5, 0.0, 1.5, 3.0, 5.0, 8.0])
#: the same in units of the logit-domain sd for near-normal arms (see ``_panel_breaks``)
_Z_APPROX = np.array([-10.0, -5.0, -3.0, -1.5, 0.0, 1.5, 3.0, 5.0, 10.0])
#: arms with min(a, b) below this get exact (betaincinv) panel boundaries
_EXACT_QUANTILE_BELOW = 30.0
#: Gauss–Legendre nodes per panel
_GL_ORDER = 8
_GL_T, _GL_W = np.polynomial.legendre.leggauss(_GL_ORDER)
#: Gauss–Legendre nodes per segment of the cumulative (CDF) integration
_SUB_T, _SUB_W = np.polynomial.legendre.leggauss(4)
#: logit-domain clip (betaincinv can underflow to 0 / 1 for tiny parameters)
_Y_CLIP = 700.0
#: quadrature work (group × arm × node evaluations) per chunk
_CHUNK_EVALS = 2_000_000

METHODS = ("auto", "closed_form", "quadrature")

# ---------------------------------------------------------------------------------------------
# Posterior parameters
# ---------------------------------------------------------------------------------------------
def beta_posterior(successes, trials, prior_alpha=1.0, prior_beta=1.0):
    """Posterior ``Beta(α₀ + x, β₀ + n − x)`` parameters ``(alpha, beta)`` of a conversion rate.

    NaN where the counts are invalid (``n < 0``, ``x < 0``, ``x > n``, NaN) or the prior is not
    proper (``α₀ <= 0`` or ``β₀ <= 0``). ``n = 0`` gives the prior.
    """
    x, n, a0, b0 = np.broadcast_arrays(as_float(successes), as_float(trials), as_float(prior_alpha), as_float(prior_beta))
    with np.errstate(invalid="ignore"):
        ok = (n >= 0) & (x >= 0) & (x <= n) & (a0 > 0) & (b0 > 0) & np.isfinite(n) & np.isfinite(a0) & np.isfinite(b0)
    a = np.where(ok, a0 + x, np.nan)
    b = np.where(ok, b0 + n - x, np.nan)
    return a, b


#: Stirling-series coefficients of lgamma(x) − ((x − ½)log x − x + ½log 2π) in powers of 1/x
_STIRLING = (1.0 / 12.0, -1.0 / 360.0, 1.0 / 1260.0, -1.0 / 1680.0, 1.0 / 1188.0, -691.0 / 360360.0,
             1.0 / 156.0, -3617.0 / 122400.0)
_LN_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


def _lgamma_correction(x):
    """``lgamma(x) − ((x − ½)log x − x + ½log 2π)`` for ``x >= 10`` (Stirling series, 8 terms:
    truncation error < 1e-17 at x = 10)."""
    inv2 = 1.0 / (x * x)
    acc = np.zeros_like(x)
    for c in reversed(_STIRLING):
        acc = acc * inv2 + c
    return acc / x


def betaln(a, b) -> np.ndarray:
    """``log B(a, b)`` accurate for large arguments, as R's ``lbeta`` (R Core, nmath/lbeta.c):
    with ``p = min(a, b)``, ``q = max(a, b)``, the large-argument parts of ``lgamma`` are combined
    analytically (``(p − ½)log(p/(p+q)) + q·log1p(−p/(p+q))``) and only Stirling corrections are
    added, so nothing of size ``q·log q`` cancels. ``scipy.special.betaln`` computes
    ``lgamma(a) + lgamma(b) − lgamma(a + b)`` here and loses ~1e-8 absolute at ``b ~ 10⁷``."""
    a, b = np.broadcast_arrays(as_float(a), as_float(b))
    p = np.minimum(a, b)
    q = np.maximum(a, b)
    out = np.full(p.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        big = p >= 10
        mid = (p < 10) & (q >= 10)
        small = (p > 0) & (q < 10)
        if np.any(big):
            pb, qb = p[big], q[big]
            r = pb / (pb + qb)
            corr = _lgamma_correction(pb) + _lgamma_correction(qb) - _lgamma_correction(pb + qb)
            out[big] = -0.5 * np.log(qb) + _LN_SQRT_2PI + corr + (pb - 0.5) * np.log(r) + qb * np.log1p(-r)
        if np.any(mid):
            pm, qm = p[mid], q[mid]
            corr = _lgamma_correction(qm) - _lgamma_correction(pm + qm)
            out[mid] = special.gammaln(pm) + corr + pm - pm * np.log(pm + qm) + (qm - 0.5) * np.log1p(-pm / (pm + qm))
        if np.any(small):
            out[small] = special.betaln(p[small], q[small])
    return out


def _valid_beta(*params) -> np.ndarray:
    ok = np.ones(np.broadcast(*params).shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        for p in params:
            ok &= np.isfinite(p) & (p > 0)
    return ok


# ---------------------------------------------------------------------------------------------
# Closed form (Miller 2015)
# ---------------------------------------------------------------------------------------------
def _miller_sum(xa, xb, ya, yb) -> np.ndarray:
    """``P(X > Y)`` for ``X ~ Beta(xa, xb)``, ``Y ~ Beta(ya, yb)`` with integer ``xa >= 1``
    (1-D arrays): ``Σ_{i<xa} t_i`` with ``t_i = B(ya+i, yb+xb) / ((xb+i) B(1+i, xb) B(ya, yb))``.

    ``t_0 = B(ya, yb+xb)/B(ya, yb)`` and ``t_{i+1}/t_i = (ya+i)(xb+i) / ((i+1)(ya+yb+xb+i))``
    (from ``B(p+1, q)/B(p, q) = p/(p+q)``), so ``log t_i`` is a cumulative sum of log ratios along
    each row. Rows are sorted by length and processed in padded 2-D blocks of similar lengths
    (at most ``_CHUNK_TERMS`` cells each), so every row's cumulative sum starts from its own
    ``log t_0`` (no accumulation across rows)."""
    lengths = xa.astype(np.int64)
    out = np.empty(lengths.size)
    order = np.argsort(lengths, kind="stable")
    sorted_len = lengths[order]
    start = 0
    while start < order.size:
        L0 = max(int(sorted_len[start]), 1)
        # block: rows whose length is at most 1.25 × the block's first length (bounded padding)
        stop = int(np.searchsorted(sorted_len, int(L0 * 1.25) + 1, side="left"))
        stop = min(stop, start + max(1, _CHUNK_TERMS // int(sorted_len[stop - 1])))
        Lmax = int(sorted_len[stop - 1])
        idx = order[start:stop]
        xa_b, xb_b, ya_b, yb_b = (v[idx][:, None] for v in (xa, xb, ya, yb))
        logt = np.empty((idx.size, Lmax))
        logt[:, :1] = betaln(ya_b, yb_b + xb_b) - betaln(ya_b, yb_b)
        if Lmax > 1:
            i = np.arange(Lmax - 1, dtype=np.float64)[None, :]
            logr = np.log((ya_b + i) * (xb_b + i)) - np.log((i + 1.0) * (ya_b + yb_b + xb_b + i))
            logt[:, 1:] = logt[:, :1] + np.cumsum(logr, axis=1)
        mask = np.arange(Lmax)[None, :] < xa_b
        out[idx] = np.where(mask, np.exp(logt), 0.0).sum(axis=1)
        start = stop
    return out


def _closed_form_rows(a_t, b_t, a_c, b_c, max_terms):
    """Closed-form ``P(p_T > p_C)`` for 1-D rows; NaN where no integer parameter gives a sum of at
    most ``max_terms`` terms (those rows are left to the quadrature)."""
    # candidate summation parameters, direct forms first: a_T, b_C (direct), a_C, b_T (complement)
    cand = np.stack([a_t, b_c, a_c, b_t])
    with np.errstate(invalid="ignore"):
        is_int = (cand >= 1) & (cand == np.floor(cand)) & np.isfinite(cand)
    lengths = np.where(is_int, cand, np.inf)
    form = np.argmin(lengths, axis=0)
    best = lengths[form, np.arange(a_t.size)]
    usable = np.isfinite(best) & (best <= max_terms)
    out = np.full(a_t.shape, np.nan)
    # (x-params, y-params, complement?) of P(X > Y) for each form
    forms = (
        ((a_t, b_t), (a_c, b_c), False),  # sum over a_T:  P(p_T > p_C)
        ((b_c, a_c), (b_t, a_t), False),  # sum over b_C:  P(1−p_C > 1−p_T)
        ((a_c, b_c), (a_t, b_t), True),   # sum over a_C:  1 − P(p_C > p_T)
        ((b_t, a_t), (b_c, a_c), True),   # sum over b_T:  1 − P(1−p_T > 1−p_C)
    )
    for k, ((xa, xb), (ya, yb), complement) in enumerate(forms):
        m = usable & (form == k)
        if np.any(m):
            g = _miller_sum(xa[m], xb[m], ya[m], yb[m])
            out[m] = 1.0 - g if complement else g
    return np.clip(out, 0.0, 1.0)


# ---------------------------------------------------------------------------------------------
# Quadrature helpers (logit domain)
# ---------------------------------------------------------------------------------------------
def _logit_quantiles(a, b, z) -> np.ndarray:
    """logit of the Beta(a, b) quantiles at Φ(z) (shape ``a.shape + z.shape``), computed from the
    near tail on each side (``betaincinv(b, a, ·)`` for the upper tail) to keep precision."""
    a_ = a[..., None]
    b_ = b[..., None]
    lo, hi = z[z <= 0], z[z > 0]
    x = special.betaincinv(a_, b_, special.ndtr(lo))
    w = special.betaincinv(b_, a_, special.ndtr(-hi))  # = 1 − x in the upper tail
    with np.errstate(divide="ignore"):
        y = np.concatenate([np.log(x) - np.log1p(-x), np.log1p(-w) - np.log(w)], axis=-1)
    return np.clip(y, -_Y_CLIP, _Y_CLIP)


def _panel_breaks(a, b) -> np.ndarray:
    """Panel boundaries (logit domain) of each arm, shape ``a.shape + (_Z_BREAKS.size,)``.

    Exact logit quantiles at ``Φ(_Z_BREAKS)`` (``betaincinv``, 2–20 µs each) when
    ``min(a, b) < _EXACT_QUANTILE_BELOW`` (= 30). Otherwise ``logit(p)`` is close to normal
    (|skewness| ≲ 1/√min(a, b) ≤ 0.18) and the boundaries are ``μ + σ·z`` with the exact mean
    ``μ = ψ(a) − ψ(b)`` and sd ``σ = √(ψ'(a) + ψ'(b))`` of ``logit(p)``, the outermost widened to
    ``z = ±10`` so that the mass outside stays < 1e-13 (worst case ``min(a, b) = 30``)."""
    out = np.empty(a.shape + (_Z_BREAKS.size,))
    exact = np.minimum(a, b) < _EXACT_QUANTILE_BELOW
    if np.any(exact):
        out[exact] = _logit_quantiles(a[exact], b[exact], _Z_BREAKS)
    approx = ~exact
    if np.any(approx):
        aa, bb = a[approx], b[approx]
        mu = special.digamma(aa) - special.digamma(bb)
        sd = np.sqrt(special.polygamma(1, aa) + special.polygamma(1, bb))
        out[approx] = mu[:, None] + sd[:, None] * _Z_APPROX
    return out


def _panel_nodes(breaks):
    """Gauss–Legendre nodes and weights on the panels between consecutive sorted ``breaks``
    (last axis): ``(y, w)`` with ``_GL_ORDER`` nodes per panel."""
    half = 0.5 * (breaks[..., 1:] - breaks[..., :-1])
    mid = 0.5 * (breaks[..., 1:] + breaks[..., :-1])
    y = (mid[..., None] + half[..., None] * _GL_T).reshape(*breaks.shape[:-1], -1)
    w = (half[..., None] * _GL_W).reshape(*breaks.shape[:-1], -1)
    return y, w


def _logit_beta_density(a, b, y):
    """Density of ``logit(p)`` for ``p ~ Beta(a, b)`` at ``y``: ``x^a (1 − x)^b / B(a, b)`` with
    ``x = expit(y)``; ``a``, ``b`` are ``(g, k, 1)``, ``y`` is ``(g, n)`` → ``(g, k, n)``."""
    logx = special.log_expit(y)[:, None, :]
    log1mx = special.log_expit(-y)[:, None, :]  # not log(x) − y: that cancels for y << 0
    t = a * logx
    t += b * log1mx
    t -= betaln(a, b)
    return np.exp(t, out=t)


def _prob_best_chunk(a, b, valid):
    """Un-normalised ``P_i = ∫ f_i Π_{j≠i} F_j`` for a chunk of groups (2-D ``a``, ``b``, ``valid``)."""
    g, k = a.shape
    aa = np.where(valid, a, 1.0)
    bb = np.where(valid, b, 1.0)
    br = np.where(valid[..., None], _panel_breaks(aa, bb), np.nan).reshape(g, -1)
    fill = np.max(np.where(np.isnan(br), -np.inf, br), axis=1, keepdims=True)
    fill = np.where(np.isfinite(fill), fill, 0.0)
    br = np.sort(np.where(np.isnan(br), fill, br), axis=1)  # (g, M·k) panel boundaries
    y, w = _panel_nodes(br)  # (g, Pn·K) main nodes
    n_panels = br.shape[1] - 1
    # CDFs at the main nodes by cumulative integration of each density over the segments
    # [b_p, y_p1], [y_p1, y_p2], …, [y_pK, b_p+1] (4-point Gauss–Legendre per segment)
    edges = np.concatenate([br[:, :-1, None], y.reshape(g, n_panels, _GL_ORDER), br[:, 1:, None]], axis=2)
    half = 0.5 * (edges[..., 1:] - edges[..., :-1])
    mid = 0.5 * (edges[..., 1:] + edges[..., :-1])
    sub_y = (mid[..., None] + half[..., None] * _SUB_T).reshape(g, -1)  # (g, Pn·(K+1)·4)
    sub_w = (half[..., None] * _SUB_W).reshape(g, 1, -1)
    A = aa[:, :, None]
    B = bb[:, :, None]
    seg = (sub_w * _logit_beta_density(A, B, sub_y)).reshape(g, k, n_panels, _GL_ORDER + 1, _SUB_T.size).sum(-1)
    cum = np.cumsum(seg.reshape(g, k, -1), axis=2)  # F at the right end of every segment
    total = cum[:, :, -1:]
    # F at main node m of panel p = cumulative sum through segment m − 1 of panel p
    F = (cum.reshape(g, k, n_panels, _GL_ORDER + 1)[..., :-1]).reshape(g, k, -1)
    total = np.where(total > 0, total, 1.0)
    F = np.where(valid[:, :, None], F / total, 1.0)
    # each density is also divided by its own quadrature total, so that errors of the
    # normalising constant B(a, b) cancel
    dens = np.where(valid[:, :, None], _logit_beta_density(A, B, y) / total, 0.0)
    # leave-one-out products Π_{j≠i} F_j
    loo = np.ones(F.shape)
    if k > 1:
        loo[:, 1:, :] = np.cumprod(F[:, :-1, :], axis=1)
        loo[:, :-1, :] *= np.cumprod(F[:, :0:-1, :], axis=1)[:, ::-1, :]
    p = np.einsum("gn,gkn->gk", w, dens * loo)
    return np.where(valid, p, np.nan)


def prob_best_beta(alpha, beta):
    """``P(arm i has the largest p)`` for independent ``p_i ~ Beta(alpha_i, beta_i)`` along the
    last axis (arms; any leading shape = groups), by deterministic quadrature of
    ``P_i = ∫ f_i(x) Π_{j≠i} F_j(x) dx``.

    Integration is in the logit domain ``y = log(x/(1−x))``, where every Beta density is smooth
    and log-concave: 8-point Gauss–Legendre panels between the logit Beta quantiles at ``Φ(z)``,
    ``z ∈ {0, ±1.5, ±3, ±5, ±8}``, of **every** arm of the group, so a narrow arm's density and
    CDF step are resolved even inside a wide arm's range (probability mass outside the outermost
    boundaries < 1e-13 per arm; see ``_panel_breaks``). The CDFs ``F_j`` at the nodes are obtained without ``betainc`` (slow for large
    parameters) by cumulative integration of each density over the segments between consecutive
    nodes (4-point Gauss–Legendre per segment); each density and CDF is divided by its own
    quadrature total, so the normalising constants cancel. Arms with NaN or non-positive
    parameters (e.g. NaN padding of groups with fewer arms) are absent: probability NaN, and
    they do not count for the others.

    Returns ``(prob, total)``: ``prob`` normalised to sum to 1 over the valid arms of each group
    and ``total`` the un-normalised sum (``|1 − total|`` measures the integration error, ~1e-11).
    Tested against the closed form (2 arms), ``scipy.integrate.quad`` and Monte Carlo.
    """
    a, b = np.broadcast_arrays(as_float(alpha), as_float(beta))
    if a.ndim == 0:
        a, b = a[None], b[None]
    shape = a.shape
    k = shape[-1]
    a2 = a.reshape(-1, k)
    b2 = b.reshape(-1, k)
    valid = _valid_beta(a2, b2)
    raw = np.full(a2.shape, np.nan)
    per_group = k * (k * _Z_BREAKS.size - 1) * (_GL_ORDER + 1) * _SUB_T.size
    step = max(1, _CHUNK_EVALS // per_group)
    for s in range(0, a2.shape[0], step):
        sl = slice(s, s + step)
        raw[sl] = _prob_best_chunk(a2[sl], b2[sl], valid[sl])
    total = np.where(valid.any(axis=1), np.nansum(raw, axis=1), np.nan)
    prob = np.clip(safe_divide(raw, total[:, None]), 0.0, 1.0)
    return prob.reshape(shape), total.reshape(shape[:-1])


def _quadrature_rows(a_t, b_t, a_c, b_c):
    prob, _ = prob_best_beta(np.stack([a_c, a_t], axis=-1), np.stack([b_c, b_t], axis=-1))
    return prob[..., 1]


# ---------------------------------------------------------------------------------------------
# Public Beta–Binomial functions
# ---------------------------------------------------------------------------------------------
def prob_treatment_beats_control(alpha_treatment, beta_treatment, alpha_control, beta_control,
                                 method: str = "auto", max_terms: int = CLOSED_FORM_MAX_TERMS) -> np.ndarray:
    """``P(p_T > p_C)`` for independent ``p_T ~ Beta(α_T, β_T)``, ``p_C ~ Beta(α_C, β_C)``.

    ``method='auto'``: closed form (Miller 2015; see module docstring) when some parameter is an
    integer and the shortest sum has at most ``max_terms`` terms, otherwise quadrature
    (:func:`prob_best_beta`). ``'closed_form'`` forces the sum whenever some parameter is an
    integer (any length; NaN otherwise), ``'quadrature'`` forces quadrature. NaN for invalid
    parameters (non-positive, NaN, inf).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    at, bt, ac, bc = np.broadcast_arrays(*(as_float(v) for v in (alpha_treatment, beta_treatment, alpha_control, beta_control)))
    shape = at.shape
    at, bt, ac, bc = (v.ravel() for v in (at, bt, ac, bc))
    valid = _valid_beta(at, bt, ac, bc)
    out = np.full(at.shape, np.nan)
    if method != "quadrature" and np.any(valid):
        limit = np.inf if method == "closed_form" else max_terms
        out[valid] = _closed_form_rows(at[valid], bt[valid], ac[valid], bc[valid], limit)
    todo = valid & np.isnan(out) if method != "closed_form" else np.zeros_like(valid)
    if np.any(todo):
        out[todo] = _quadrature_rows(at[todo], bt[todo], ac[todo], bc[todo])
    return out.reshape(shape)


def expected_loss_beta(alpha_treatment, beta_treatment, alpha_control, beta_control,
                       method: str = "auto", max_terms: int = CLOSED_FORM_MAX_TERMS):
    """Expected loss ``(loss_treatment, loss_control)`` of shipping treatment / keeping control:
    ``loss_T = E[max(p_C − p_T, 0)]``, ``loss_C = E[max(p_T − p_C, 0)]``.

    Closed form (Stucchio 2015, "Bayesian A/B testing at VWO", §3): with ``x f_{a,b}(x) =
    a/(a+b)·f_{a+1,b}(x)``, ``E[p_T·1{p_T > p_C}] = m_T·P(p_T' > p_C)`` with ``p_T' ~ Beta(α_T + 1, β_T)``,
    so ``loss_C = m_T·P(p_T' > p_C) − m_C·P(p_T > p_C')`` and ``loss_T = loss_C + m_C − m_T``
    (each probability from :func:`prob_treatment_beats_control`; ``m`` = posterior means). The
    result is accurate in absolute terms (~1e-13); tiny losses have no relative accuracy.
    """
    at, bt, ac, bc = np.broadcast_arrays(*(as_float(v) for v in (alpha_treatment, beta_treatment, alpha_control, beta_control)))
    m_t = safe_divide(at, at + bt)
    m_c = safe_divide(ac, ac + bc)
    p_tplus = prob_treatment_beats_control(at + 1.0, bt, ac, bc, method, max_terms)   # P(p_T' > p_C)
    p_cplus = prob_treatment_beats_control(at, bt, ac + 1.0, bc, method, max_terms)   # P(p_T > p_C')
    loss_c = m_t * p_tplus - m_c * p_cplus
    loss_t = m_c * (1.0 - p_cplus) - m_t * (1.0 - p_tplus)
    return np.maximum(loss_t, 0.0), np.maximum(loss_c, 0.0)


@dataclass(frozen=True)
class BetaBinomialResult:
    """Arrays, broadcast shape of the inputs."""

    alpha_control: np.ndarray
    beta_control: np.ndarray
    alpha_treatment: np.ndarray
    beta_treatment: np.ndarray
    mean_control: np.ndarray  #: posterior mean α/(α+β)
    mean_treatment: np.ndarray
    ci_lower_control: np.ndarray  #: equal-tailed credible interval of p_C
    ci_upper_control: np.ndarray
    ci_lower_treatment: np.ndarray
    ci_upper_treatment: np.ndarray
    prob_treatment_beats_control: np.ndarray  #: P(p_T > p_C)
    expected_loss_treatment: np.ndarray  #: E[max(p_C − p_T, 0)]: loss if treatment is shipped
    expected_loss_control: np.ndarray  #: E[max(p_T − p_C, 0)]: loss if control is kept


def beta_binomial_ab_test(x_control, n_control, x_treatment, n_treatment, prior_alpha=1.0, prior_beta=1.0,
                          credible_level=0.95, method: str = "auto") -> BetaBinomialResult:
    """Beta–Binomial analysis of two conversion rates from (conversions, units) per arm.

    Posterior ``Beta(α₀ + x, β₀ + n − x)`` per arm (prior configurable, default uniform), posterior
    means, equal-tailed ``credible_level`` intervals (``betaincinv``), ``P(p_T > p_C)``
    (:func:`prob_treatment_beats_control`) and the expected losses (:func:`expected_loss_beta`).
    Invalid counts give NaN.
    """
    ac, bc = beta_posterior(x_control, n_control, prior_alpha, prior_beta)
    at, bt = beta_posterior(x_treatment, n_treatment, prior_alpha, prior_beta)
    ac, bc, at, bt = np.broadcast_arrays(ac, bc, at, bt)
    lvl = as_float(credible_level)
    lvl = np.where((lvl > 0) & (lvl < 1), lvl, np.nan)
    lo_q, hi_q = (1.0 - lvl) / 2.0, (1.0 + lvl) / 2.0

    def ci(a, b):
        with np.errstate(invalid="ignore"):
            return special.betaincinv(a, b, lo_q), special.betaincinv(a, b, hi_q)

    lc, uc = ci(ac, bc)
    lt, ut = ci(at, bt)
    prob = prob_treatment_beats_control(at, bt, ac, bc, method)
    loss_t, loss_c = expected_loss_beta(at, bt, ac, bc, method)
    return BetaBinomialResult(ac, bc, at, bt, safe_divide(ac, ac + bc), safe_divide(at, at + bt),
                              lc, uc, lt, ut, prob, loss_t, loss_c)


# ---------------------------------------------------------------------------------------------
# Normal model for a difference in means
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NormalPosteriorResult:
    posterior_mean: np.ndarray  #: of Δ = μ_T − μ_C
    posterior_sd: np.ndarray
    prob_treatment_better: np.ndarray  #: P(Δ > 0)
    ci_lower: np.ndarray  #: equal-tailed credible interval
    ci_upper: np.ndarray
    expected_loss_treatment: np.ndarray  #: E[max(−Δ, 0)]
    expected_loss_control: np.ndarray  #: E[max(Δ, 0)]


def normal_posterior_difference(estimate, std_error, prior_sd=np.inf, prior_mean=0.0,
                                credible_level=0.95) -> NormalPosteriorResult:
    """Posterior of ``Δ`` from an estimate ``Δ̂`` with standard error ``SE`` (normal likelihood).

    Flat prior (``prior_sd = inf``, default): ``Δ | data ~ N(Δ̂, SE²)``. Normal prior ``N(m₀, σ₀²)``:
    precision-weighted update ``1/s² = 1/SE² + 1/σ₀²``, ``m = s²(Δ̂/SE² + m₀/σ₀²)`` (Gelman et al.
    2013, *Bayesian Data Analysis*, §2.5). Then ``P(Δ > 0) = Φ(m/s)``, credible interval
    ``m ± z_{(1+level)/2}·s`` and the expected losses (Stucchio 2015; mean of a truncated normal)
    ``E[max(−Δ, 0)] = s·φ(m/s) − m·Φ(−m/s)`` and ``E[max(Δ, 0)] = s·φ(m/s) + m·Φ(m/s)``.
    NaN when ``SE <= 0`` / NaN or ``prior_sd <= 0``.
    """
    est, se, psd, pm, lvl = np.broadcast_arrays(*(as_float(v) for v in (estimate, std_error, prior_sd, prior_mean, credible_level)))
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = (se > 0) & np.isfinite(se) & np.isfinite(est) & (psd > 0) & np.isfinite(pm)
        prec_d = np.where(ok, 1.0 / np.where(ok, se, 1.0) ** 2, np.nan)
        prec_p = np.where(np.isinf(psd), 0.0, 1.0 / np.where(psd > 0, psd, np.nan) ** 2)
        var = 1.0 / (prec_d + prec_p)
        m = var * (est * prec_d + np.where(prec_p > 0, pm * prec_p, 0.0))
        s = positive_sqrt(var)
        r = m / s
        z = special.ndtri(np.where((lvl > 0) & (lvl < 1), (1.0 + lvl) / 2.0, np.nan))
        phi = np.exp(-0.5 * r * r) / np.sqrt(2.0 * np.pi)
        loss_t = s * phi - m * special.ndtr(-r)
        loss_c = s * phi + m * special.ndtr(r)
    return NormalPosteriorResult(m, s, special.ndtr(r), m - z * s, m + z * s,
                                 np.maximum(loss_t, 0.0), np.maximum(loss_c, 0.0))


def normal_flat_prior_better_and_loss(estimate, std_error) -> tuple[np.ndarray, np.ndarray]:
    """``(prob_treatment_better, expected_loss_treatment)`` of :func:`normal_posterior_difference`
    with its default flat prior, bit for bit, without computing the credible interval and the
    control's loss (the results pipeline reports neither)."""
    est, se = np.broadcast_arrays(as_float(estimate), as_float(std_error))
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = (se > 0) & np.isfinite(se) & np.isfinite(est)
        prec_d = np.where(ok, 1.0 / np.where(ok, se, 1.0) ** 2, np.nan)
        var = 1.0 / prec_d  # the flat prior adds precision 0 (+ 0.0 is exact here: prec_d > 0 or NaN)
        m = var * (est * prec_d)  # (+ 0.0 would only turn -0.0 into 0.0: same r, loss and Φ(r))
        s = positive_sqrt(var)
        r = m / s
        phi = np.exp(-0.5 * r * r) / np.sqrt(2.0 * np.pi)
        loss_t = s * phi - m * special.ndtr(-r)
    return special.ndtr(r), np.maximum(loss_t, 0.0)


def normal_posterior_from_sums(n_control, sum_control, sum_sq_control, n_treatment, sum_treatment, sum_sq_treatment,
                               prior_sd=np.inf, prior_mean=0.0, credible_level=0.95) -> NormalPosteriorResult:
    """:func:`normal_posterior_difference` with ``Δ̂ = ȳ_T − ȳ_C`` and ``SE = √(s²_T/n_T + s²_C/n_C)``
    computed from per-arm ``n, Σy, Σy²`` (sample variances, ddof = 1; NaN when an arm has n < 2)."""
    mc = mean_from_sums(n_control, sum_control)
    mt = mean_from_sums(n_treatment, sum_treatment)
    v = safe_divide(variance_from_sums(n_control, sum_control, sum_sq_control), n_control) + \
        safe_divide(variance_from_sums(n_treatment, sum_treatment, sum_sq_treatment), n_treatment)
    return normal_posterior_difference(mt - mc, positive_sqrt(v), prior_sd, prior_mean, credible_level)
