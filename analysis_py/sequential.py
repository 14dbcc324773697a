"""Sequential testing: mSPRT always-valid inference and group-sequential (α-spending) designs.

Peeking at a fixed-horizon test every day and stopping at the first p < α inflates the type-I
error (30 daily looks at α = 0.05: ≈ 0.3; Armitage, McPherson & Rowe 1969). Two remedies:

**mSPRT** (Johari, Koomen, Pekelis & Walsh 2022, "Always valid inference: continuous monitoring
of A/B tests", Operations Research 70(3); Robbins 1970). For an effect estimate Δ̂ with
(estimated) variance ``V = SE²`` and a normal mixing distribution ``δ ~ N(δ0, τ²)`` over the
alternatives, the mixture likelihood ratio against ``H0: δ = δ0`` is

    Λ = ∫ N(Δ̂; δ, V) N(δ; δ0, τ²) dδ / N(Δ̂; δ0, V) = √(V/(V+τ²)) · exp(τ²(Δ̂−δ0)² / (2V(V+τ²))).

Under H0, Λ over the looks is a (approximate, by the CLT) non-negative martingale with mean 1,
so by Ville's inequality P(sup_n Λ_n ≥ 1/α) ≤ α: the always-valid p-value
``p_n = min(1, min_{m≤n} 1/Λ_m)`` and the running intersection of the per-look intervals
``{δ0 : Λ(δ0) < 1/α} = Δ̂ ± √(V(V+τ²)/τ² · (2 log(1/α) + log((V+τ²)/V)))`` stay valid however
often and whenever one looks (:func:`always_valid`).

**Group-sequential designs** (Jennison & Turnbull 2000, *Group Sequential Methods with
Applications to Clinical Trials*; Lan & DeMets 1983, Biometrika 70; O'Brien & Fleming 1979,
Biometrics 35; Pocock 1977, Biometrika 64). The standardised statistics Z_k at information
fractions t_k behave like Brownian motion, ``Cov(Z_i, Z_j) = √(t_i/t_j)`` (i ≤ j). Boundaries
are found by the exact recursive numerical integration of Armitage, McPherson & Rowe (1969) in
the form of Jennison & Turnbull ch. 19: the sub-density of Z_k on the continuation region is
propagated with composite Simpson's rule, and each boundary solves ``P(cross at look k, not
before | H0) = α(t_k) − α(t_{k−1})`` with Brent's method. The nodes are uniform with spacing
≤ min(0.03, SD of the increment / 8) on E[Z_k] ± 6.5, the boundaries being nodes (J&T's
6r − 1-point grid has coarse tails that lose accuracy when many closely spaced looks make the
increments' SD small). Accuracy: ~1e-8 in the crossing probabilities and ~1e-6 in the
boundaries (tested against gsDesign's regression values, published tables and an independent
multivariate-normal CDF).

All mSPRT functions are vectorised over rows and return NaN (never raise) on degenerate input
(SE ≤ 0 or NaN, τ² ≤ 0 or NaN, α ∉ (0, 1)). Design functions return NaN boundaries for invalid
designs (non-increasing or non-positive fractions, α ∉ (0, 1)).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
from scipy import optimize, special

from ._common import as_float

# ================================================================================================
# mSPRT
# ================================================================================================
def _valid_msprt_inputs(effect, std_error, mixing_variance, null_effect):
    e, se, tau2, d0 = np.broadcast_arrays(as_float(effect), as_float(std_error), as_float(mixing_variance),
                                          as_float(null_effect))
    with np.errstate(invalid="ignore"):
        ok = (np.isfinite(e) & np.isfinite(d0) & np.isfinite(se) & (se > 0)
              & np.isfinite(tau2) & (tau2 > 0))
    return e, se, tau2, d0, ok


def msprt_log_statistic(effect, std_error, mixing_variance, null_effect=0.0) -> np.ndarray:
    """log Λ of the normal-mixture SPRT (module docstring), computed stably as
    ``−½ log(1 + r) + ½ z² r/(1 + r)`` with ``z = (Δ̂ − δ0)/SE`` and ``r = τ²/V``. NaN for SE ≤ 0,
    τ² ≤ 0 or non-finite input."""
    e, se, tau2, d0, ok = _valid_msprt_inputs(effect, std_error, mixing_variance, null_effect)
    out = np.full(e.shape, np.nan)
    if not np.any(ok):
        return out
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        z = (e[ok] - d0[ok]) / se[ok]
        r = tau2[ok] / (se[ok] * se[ok])
        shrink = np.where(np.isinf(r), 1.0, r / (1.0 + r))
        out[ok] = -0.5 * np.log1p(r) + 0.5 * z * z * shrink
    return out


def msprt_statistic(effect, std_error, mixing_variance, null_effect=0.0) -> np.ndarray:
    """Mixture likelihood ratio ``Λ = √(V/(V+τ²)) · exp(τ²(Δ̂−δ0)²/(2V(V+τ²)))``, V = SE², τ² =
    ``mixing_variance`` (Johari et al. 2022, normal mixture; computed in log space, +inf
    only when Λ exceeds the float range). NaN on degenerate input."""
    with np.errstate(over="ignore"):
        return np.exp(msprt_log_statistic(effect, std_error, mixing_variance, null_effect))


def msprt_p_value(effect, std_error, mixing_variance, null_effect=0.0) -> np.ndarray:
    """Per-look mSPRT p-value ``min(1, 1/Λ)``. The always-valid p-value is its running minimum
    over the looks (:func:`always_valid`)."""
    log_lr = msprt_log_statistic(effect, std_error, mixing_variance, null_effect)
    with np.errstate(invalid="ignore"):
        return np.exp(-np.maximum(log_lr, 0.0))


def msprt_confidence_interval(effect, std_error, mixing_variance, alpha=0.05):
    """Per-look mSPRT confidence interval ``{δ0 : Λ(δ0) < 1/α}`` =
    ``Δ̂ ± SE·√((1 + V/τ²)(2 log(1/α) + log(1 + τ²/V)))`` (the inversion of
    :func:`msprt_p_value`: δ0 is inside iff its p-value > α). Returns ``(lower, upper)``; the
    always-valid interval is the running intersection (:func:`always_valid`). NaN on degenerate
    input or α ∉ (0, 1)."""
    e, se, tau2, a = np.broadcast_arrays(as_float(effect), as_float(std_error), as_float(mixing_variance),
                                         as_float(alpha))
    e, se, tau2, _, ok = _valid_msprt_inputs(e, se, tau2, 0.0)
    with np.errstate(invalid="ignore"):
        ok = ok & (a > 0) & (a < 1)
    lo = np.full(e.shape, np.nan)
    hi = np.full(e.shape, np.nan)
    if np.any(ok):
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            v = se[ok] * se[ok]
            r = tau2[ok] / v
            half = se[ok] * np.sqrt((1.0 + 1.0 / r) * (-2.0 * np.log(a[ok]) + np.log1p(r)))
        lo[ok] = e[ok] - half
        hi[ok] = e[ok] + half
    return lo, hi


def default_mixing_variance(practical_effect=np.nan, planned_std_error=np.nan, alpha=0.05, power=0.8,
                            mixing_sd=np.nan) -> np.ndarray:
    """Mixing variance τ² of the mSPRT (absolute effect scale), by the first applicable rule:

    1. ``mixing_sd`` (registry column ``msprt_mixing_sd``, the SD τ of the effect prior) finite
       and > 0: ``τ² = mixing_sd²``;
    2. ``practical_effect`` (the smallest effect worth detecting, absolute scale; a relative
       threshold must be multiplied by the baseline mean first) finite and ≠ 0:
       ``τ² = practical_effect²``;
    3. ``planned_std_error`` (SE of the effect at the planned end of the experiment) finite and
       > 0: ``τ = (z_{1−α/2} + z_{power}) · planned_SE``, i.e. the minimum detectable effect of
       the fixed-horizon design (τ²/V_planned = 7.85 for α = 0.05, power = 0.8);
    4. otherwise NaN.

    Justification. Johari et al. (2022) show that the mSPRT is asymptotically efficient (as
    α → 0) for any mixing distribution with a positive density, but that at practical α its
    power / run time depends on how well the mixture N(0, τ²) matches the effects one actually
    expects; they recommend choosing τ from the effect sizes of past experiments. Absent a
    prior, the effect size the experiment was designed for is the natural scale: an N(0, τ²)
    prior with τ = the practical effect (or the MDE) puts its mass on effects of that order.
    Rule 3 is moreover close to optimal for stopping by the planned horizon: at a look with
    variance V the mSPRT rejects when ``|z| ≥ √((1 + 1/r)(2 log(1/α) + log(1 + r)))``,
    ``r = τ²/V``; for α = 0.05 this threshold is minimised at r ≈ 8.2 (|z| ≥ 3.035), and the MDE
    rule gives r = 7.85 at the planned end (|z| ≥ 3.035), whereas τ = SE_planned (r = 1) would
    need |z| ≥ 3.66 there. Rule 3 is used by :mod:`analysis_py.simulate`, which reports the
    sensitivity to τ.

    τ must be fixed before the experiment starts (registry value, practical threshold, or the SE
    implied by the planned sample size): recomputing it from the running SE or from the observed
    effect makes the mixture data-dependent and voids the always-valid guarantee.
    """
    sd, eff, se, a, pw = np.broadcast_arrays(as_float(mixing_sd), as_float(practical_effect),
                                             as_float(planned_std_error), as_float(alpha), as_float(power))
    out = np.full(sd.shape, np.nan)
    with np.errstate(invalid="ignore"):
        mde_mult = -special.ndtri(a / 2.0) + special.ndtri(pw)
        mde_ok = np.isfinite(se) & (se > 0) & (a > 0) & (a < 1) & (pw > 0) & (pw < 1)
        out = np.where(mde_ok, (mde_mult * se) ** 2, out)
        eff_ok = np.isfinite(eff) & (eff != 0)
        out = np.where(eff_ok, eff * eff, out)
        sd_ok = np.isfinite(sd) & (sd > 0)
        out = np.where(sd_ok, sd * sd, out)
    return out


def msprt_z_boundaries(information_fractions, mixing_variance, planned_std_error, alpha=0.05) -> np.ndarray:
    """The |z| boundary of the mSPRT at information fraction t when the effect's variance is
    ``V = planned_SE²/t``: Λ ≥ 1/α ⇔ ``|z| ≥ √((1 + 1/r)(2 log(1/α) + log(1 + r)))`` with
    ``r = τ²/V = τ²t/planned_SE²`` (inverting :func:`msprt_log_statistic`). With these boundaries
    :func:`crossing_probabilities` gives the exact (normal-theory, known-variance) type-I error
    and power of the mSPRT checked at a given set of looks. NaN on degenerate input."""
    t, tau2, se, a = np.broadcast_arrays(as_float(information_fractions), as_float(mixing_variance),
                                         as_float(planned_std_error), as_float(alpha))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        ok = (t > 0) & np.isfinite(t) & (tau2 > 0) & np.isfinite(tau2) & (se > 0) & np.isfinite(se) & (a > 0) & (a < 1)
        r = np.where(ok, tau2 * t / np.where(ok, se * se, 1.0), 1.0)
        c = np.sqrt((1.0 + 1.0 / r) * (-2.0 * np.log(np.where(ok, a, 0.5)) + np.log1p(r)))
    return np.where(ok, c, np.nan)


# ---- group-wise running values -----------------------------------------------------------------
def _codes(values, n) -> np.ndarray:
    if values is None:
        return np.zeros(n, dtype=np.int64)
    v = np.asarray(values).ravel()
    if v.dtype.kind in "iub":
        return v.astype(np.int64, copy=False)
    return pd.factorize(v)[0].astype(np.int64)


def _order_values(order_key, n):
    if order_key is None:
        return np.arange(n)
    k = np.asarray(order_key).ravel()
    if k.dtype.kind in "mM":
        return k.view(np.int64)
    if k.dtype.kind in "iufb":
        return k
    return pd.factorize(k, sort=True)[0]


@dataclass(frozen=True)
class _Segments:
    order: np.ndarray  #: permutation sorting rows by (group, order key, input position)
    gid: np.ndarray  #: segment id of each sorted row (0..n_seg−1)
    start: np.ndarray  #: index (in sorted order) of each segment's first row
    n_seg: int


def _segments(group_codes, order_key, n) -> _Segments:
    g = _codes(group_codes, n)
    k = _order_values(order_key, n)
    order = None
    if n and k.dtype.kind in "iub":
        # one stable argsort of a combined int64 key when it cannot overflow (else lexsort)
        g0, k0 = g - g.min(), k.astype(np.int64) - int(k.min())
        span = int(k0.max()) + 1
        if (int(g0.max()) + 1) * span < 2 ** 62:
            order = np.argsort(g0 * span + k0, kind="stable")
    if order is None:
        order = np.lexsort((k, g))  # stable: ties keep the input order
    gs = g[order]
    first = np.empty(n, dtype=bool)
    if n:
        first[0] = True
        first[1:] = gs[1:] != gs[:-1]
    start = np.flatnonzero(first)
    gid = np.cumsum(first) - 1
    return _Segments(order, gid, start, int(start.size))


def _segmented_accumulate(x, seg: _Segments, kind: str) -> np.ndarray:
    """Running min ('min') or max ('max') of float ``x`` (sorted order, no NaN; ±inf allowed)
    restarting at each segment (pandas' Cython group-wise cummin / cummax: exact, O(n))."""
    if x.size == 0:
        return x.copy()
    grouped = pd.Series(x, copy=False).groupby(seg.gid, sort=False)
    return (grouped.cummin() if kind == "min" else grouped.cummax()).to_numpy(dtype=np.float64)


def _segmented_count(valid, seg: _Segments) -> np.ndarray:
    c = np.cumsum(valid, dtype=np.int64)
    s = seg.start[seg.gid]
    return c - c[s] + valid[s]


@dataclass(frozen=True)
class AlwaysValidResult:
    """Arrays in the input row order."""

    p_value: np.ndarray  #: running min of the per-look p-values (NaN before the first valid look)
    ci_lower: np.ndarray  #: running max of the lower bounds
    ci_upper: np.ndarray  #: running min of the upper bounds
    look_number: np.ndarray  #: 1-based position of the row within its group (by order_key)


def always_valid(group_codes, order_key, p_values, ci_lower, ci_upper) -> AlwaysValidResult:
    """Always-valid p-values and confidence intervals (Johari et al. 2022): within each group
    (e.g. experiment × metric × arm × slice), ordered by ``order_key`` (e.g. analysis date), the
    running minimum of the per-look mSPRT p-values and the running intersection of the per-look
    intervals (running max of the lower, running min of the upper bounds).

    A NaN look neither resets nor poisons the running values: it carries the value of the looks
    before it (NaN only while no valid look has been seen). Each bound is carried separately.
    The intersection can be empty (lower > upper); under the model this has probability ≤ α
    and then every δ0 is rejected (the running p-value is ≤ α too). Vectorised: one lexsort and
    one group-wise cumulative min / max per output (:func:`_segmented_accumulate`).
    """
    p, lo, hi = np.broadcast_arrays(as_float(p_values).ravel(), as_float(ci_lower).ravel(),
                                    as_float(ci_upper).ravel())
    n = p.size
    seg = _segments(group_codes, order_key, n)
    o = seg.order
    out = []
    for vals, kind, fill in ((p, "min", np.inf), (lo, "max", -np.inf), (hi, "min", np.inf)):
        vs = vals[o]
        valid = ~np.isnan(vs)
        acc = _segmented_accumulate(np.where(valid, vs, fill), seg, kind)
        acc = np.where(_segmented_count(valid, seg) > 0, acc, np.nan)
        back = np.empty(n)
        back[o] = acc
        out.append(back)
    look = np.empty(n, dtype=np.int64)
    look[o] = np.arange(n) - seg.start[seg.gid] + 1
    return AlwaysValidResult(out[0], out[1], out[2], look)


# ================================================================================================
# Group-sequential designs
# ================================================================================================
def obf_spending(t, alpha=0.05, sides: int = 2) -> np.ndarray:
    """Lan–DeMets (1983) O'Brien–Fleming-type spending: cumulative type-I error spent by
    information fraction t. Each side spends ``a(t) = 2 − 2Φ(z_{1−a/2}/√t)`` with ``a = α/sides``,
    and the total is ``sides·a(t)``. For ``sides = 2`` this is gsDesign's ``sfLDOF`` with one-sided
    α/2 per side (``gsDesign(test.type = 2, alpha = α/2, sfu = sfLDOF)``, ldbounds
    ``bounds(iuse = c(1, 1), alpha = c(α/2, α/2))``), the convention of the published tables
    (K = 5 equally spaced, α = 0.05: 4.877, 3.357, 2.680, 2.290, 2.031). Note that applying
    ``2 − 2Φ(z_{1−α/2}/√t)`` to the *two-sided total* α is a different (more liberal early)
    function; it equals ``obf_spending(t, α, sides=1)`` and can be passed as a callable
    ``spending`` to :func:`group_sequential_boundaries`. ``t ≥ 1`` spends α, ``t ≤ 0`` nothing."""
    t, a = np.broadcast_arrays(as_float(t), as_float(alpha))
    with np.errstate(invalid="ignore", divide="ignore"):
        side = a / sides
        z = -special.ndtri(side / 2.0)
        tc = np.clip(t, 0.0, 1.0)
        out = sides * 2.0 * special.ndtr(-z / np.sqrt(tc))
        out = np.where(tc <= 0, 0.0, out)
        out = np.where(tc >= 1, a, out)
        bad = np.isnan(t) | ~((a > 0) & (a < 1))
    return np.where(bad, np.nan, out)


def pocock_spending(t, alpha=0.05, sides: int = 2) -> np.ndarray:
    """Lan–DeMets Pocock-type spending ``α log(1 + (e − 1)t)`` (Lan & DeMets 1983; gsDesign
    ``sfLDPocock``), total α split equally between the sides (the function is linear in α, so
    ``sides`` does not change it). ``t`` clipped to [0, 1]."""
    t, a = np.broadcast_arrays(as_float(t), as_float(alpha))
    with np.errstate(invalid="ignore"):
        tc = np.clip(t, 0.0, 1.0)
        out = a * np.log1p((np.e - 1.0) * tc)
        bad = np.isnan(t) | ~((a > 0) & (a < 1))
    return np.where(bad, np.nan, out)


_SPENDING = {"obf": obf_spending, "pocock": pocock_spending}

#: Simpson node spacing = min(_MAX_STEP, min(kernel SD of this look, of the next look) / _NODES_PER_SD)
_NODES_PER_SD = 8.0
_MAX_STEP = 0.03
_TAIL_NODES_PER_SD = 4.0
#: half-width of the integration range around E[Z_k] (Z_k has unit variance: mass outside < 1e-10)
_HALF_WIDTH = 6.5
#: boundaries are searched in [0, _Z_MAX]; a boundary beyond it is reported as +inf
_Z_MAX = 37.0


@dataclass(frozen=True)
class GroupSequentialDesign:
    """Efficacy boundaries on the Z scale: reject H0 at look k when ``|Z_k| ≥ boundaries[k]``
    (``sides = 2``) or ``Z_k ≥ boundaries[k]`` (``sides = 1``); a fixed-sample p-value at look k
    is significant when ``≤ nominal_p_value[k]``."""

    information_fractions: np.ndarray
    boundaries: np.ndarray  #: upper boundary b_k (+inf: no rejection possible at that look)
    lower_boundaries: np.ndarray  #: −b_k (two-sided), −inf (one-sided), or as solved
    alpha_spent: np.ndarray  #: P(first crossing at look k | H0), from the recursion
    cumulative_alpha: np.ndarray
    nominal_p_value: np.ndarray  #: 2Φ(−b_k) (two-sided) or Φ(−b_k)
    alpha: float
    sides: int
    method: str  #: 'obf', 'pocock', 'classic_obf', 'classic_pocock', 'naive_obf', 'custom'
    constant: float = np.nan  #: c of the classic designs (b_k = c/√t_k resp. c), else NaN

    @property
    def total_alpha(self) -> float:
        return float(self.cumulative_alpha[-1]) if self.cumulative_alpha.size else np.nan


@dataclass(frozen=True)
class CrossingProbabilities:
    upper: np.ndarray  #: P(first exit at look k through the upper boundary)
    lower: np.ndarray  #: P(first exit at look k through the lower boundary)
    per_look: np.ndarray  #: upper + lower
    cumulative: np.ndarray
    total: float  #: P(any crossing) = type-I error (drift 0) or power
    expected_stopping_fraction: float  #: E[t at stop], stopping at t_K when never crossing
    expected_stopping_look: float  #: E[look number at stop], K when never crossing


def _check_fractions(information_fractions) -> tuple[np.ndarray, bool]:
    t = as_float(information_fractions).ravel()
    with np.errstate(invalid="ignore"):
        ok = bool(t.size == 0 or (np.all(np.isfinite(t)) and t[0] > 0 and np.all(np.diff(t) > 0)))
    return t, ok


def _simpson(left, right, step):
    panels = max(1, int(np.ceil((right - left) / (2.0 * step))))
    nodes = np.linspace(left, right, 2 * panels + 1)
    w = np.full(nodes.size, 2.0)
    w[1::2] = 4.0
    w[0] = w[-1] = 1.0
    return nodes, w * ((right - left) / (6.0 * panels))


def _grid(mu, lo, hi, step, tail_step):
    """Composite-Simpson nodes and weights for the continuation region (lo, hi): spacing ``step``
    on the core ``mu ± _HALF_WIDTH`` (the sub-density of Z_k is bounded by the N(mu, 1) density,
    so the mass outside the core is < 1e-10) and ``tail_step`` from the core out to a finite
    boundary (the tail mass only matters for the very small crossing probabilities of early
    O'Brien–Fleming looks, i.e. for the boundary values, not for α). Boundaries are nodes, so
    the truncated density is integrated without a kink inside a panel."""
    core_lo = max(lo, mu - _HALF_WIDTH)
    core_hi = min(hi, mu + _HALF_WIDTH)
    parts = []
    if np.isfinite(lo) and lo < mu - _HALF_WIDTH:
        left, right = max(lo, mu - _Z_MAX), min(core_lo, hi)
        if left < right:
            parts.append(_simpson(left, right, tail_step))
    if core_lo < core_hi:
        parts.append(_simpson(core_lo, core_hi, step))
    if np.isfinite(hi) and hi > mu + _HALF_WIDTH:
        right = min(hi, mu + _Z_MAX)
        if core_hi < right:
            parts.append(_simpson(max(core_hi, lo), right, tail_step))
    if not parts:
        return np.empty(0), np.empty(0)
    # adjacent parts share an end node: keep it once with the summed weight
    nodes = [parts[0][0]]
    weights = [parts[0][1]]
    for z, w in parts[1:]:
        if z[0] == nodes[-1][-1]:
            weights[-1] = weights[-1].copy()
            weights[-1][-1] += w[0]
            z, w = z[1:], w[1:]
        nodes.append(z)
        weights.append(w)
    return np.concatenate(nodes), np.concatenate(weights)


class _Recursion:
    """State of the Armitage–McPherson–Rowe recursion: nodes u_i and masses m_i = w_i·h(u_i) of
    the sub-density of Z_{k−1} on the continuation region (a point mass at 0 before look 1)."""

    def __init__(self, drift):
        self.drift = float(drift)
        self.u = np.zeros(1)
        self.m = np.ones(1)
        self.t_prev = 0.0

    def transition(self, t):
        dt = t - self.t_prev
        mean = (self.u * np.sqrt(self.t_prev) + self.drift * dt) / np.sqrt(t)
        return mean, float(np.sqrt(dt / t))

    def upper(self, mean, sd, b):
        return float(self.m @ special.ndtr((mean - b) / sd))

    def lower(self, mean, sd, a):
        return float(self.m @ special.ndtr((a - mean) / sd))

    def advance(self, t, mean, sd, a, b, next_t=None):
        """Move to look k: the sub-density of Z_k on (a, b) at Simpson nodes. Skipped after the
        last look (``next_t`` None)."""
        if next_t is None:
            self.u, self.m, self.t_prev = np.empty(0), np.empty(0), t
            return
        next_sd = float(np.sqrt((next_t - t) / next_t))
        s = min(sd, next_sd)
        z, w = _grid(self.drift * np.sqrt(t), a, b, min(_MAX_STEP, s / _NODES_PER_SD), s / _TAIL_NODES_PER_SD)
        if z.size == 0 or self.m.size == 0:
            self.u, self.m = np.empty(0), np.empty(0)
        else:
            dens = np.exp(-0.5 * ((z[:, None] - mean[None, :]) / sd) ** 2) @ self.m
            self.u, self.m = z, w * dens / (sd * np.sqrt(2.0 * np.pi))
        self.t_prev = t


def _solve_side(f, target) -> float:
    """Smallest-error root b of the decreasing crossing probability f(b) = target on [0, Z_MAX]."""
    if not target > 0:
        return np.inf
    f0 = f(0.0)
    if f0 <= target:
        return 0.0
    if f(_Z_MAX) >= target:
        return np.inf
    return optimize.brentq(lambda b: f(b) - target, 0.0, _Z_MAX, xtol=1e-12, rtol=4 * np.finfo(float).eps,
                           maxiter=200)


def _nan_design(t, alpha, sides, method):
    nan = np.full(t.shape, np.nan)
    return GroupSequentialDesign(t, nan, nan.copy(), nan.copy(), nan.copy(), nan.copy(), float(alpha), sides, method)


def _nominal_p(b, sides):
    return (2.0 if sides == 2 else 1.0) * special.ndtr(-b)


def boundaries_for_crossing_probabilities(information_fractions, upper_increments, lower_increments=None,
                                          sides: int = 2) -> GroupSequentialDesign:
    """Boundaries (b_k, a_k) such that under H0 ``P(first exit through the upper boundary at look
    k) = upper_increments[k]`` and likewise for the lower boundary (gsDesign ``gsBound``).
    ``lower_increments`` defaults to ``upper_increments`` for ``sides = 2`` (symmetric: a_k = −b_k)
    and to no lower boundary for ``sides = 1``. Upper and lower boundaries are solved separately
    (each crossing probability depends only on its own boundary given the past)."""
    t, ok = _check_fractions(information_fractions)
    up = np.broadcast_to(as_float(upper_increments), t.shape).astype(float)
    if lower_increments is None:
        low = up.copy() if sides == 2 else np.zeros(t.shape)
    else:
        low = np.broadcast_to(as_float(lower_increments), t.shape).astype(float)
    total = float(np.sum(up) + np.sum(low))
    if not ok or np.any(~np.isfinite(up)) or np.any(~np.isfinite(low)) or np.any(up < 0) or np.any(low < 0):
        return _nan_design(t, total, sides, "custom")
    b = np.empty(t.size)
    a = np.empty(t.size)
    spent_up = np.empty(t.size)
    spent_lo = np.empty(t.size)
    rec = _Recursion(0.0)
    one_sided_no_lower = sides == 1 and lower_increments is None
    for k, tk in enumerate(t):
        mean, sd = rec.transition(tk)
        b[k] = _solve_side(lambda x: rec.upper(mean, sd, x), up[k])
        if one_sided_no_lower:
            a[k] = -np.inf
        else:
            a[k] = -_solve_side(lambda x: rec.lower(mean, sd, -x), low[k])
        spent_up[k] = rec.upper(mean, sd, b[k])
        spent_lo[k] = rec.lower(mean, sd, a[k])
        rec.advance(tk, mean, sd, a[k], b[k], t[k + 1] if k + 1 < t.size else None)
    spent = spent_up + spent_lo
    nominal = special.ndtr(-b) + special.ndtr(a) if sides == 2 else special.ndtr(-b)
    return GroupSequentialDesign(t, b, a, spent, np.cumsum(spent), nominal, total, sides, "custom")


def group_sequential_boundaries(information_fractions, alpha=0.05, spending: str | Callable = "obf",
                                sides: int = 2) -> GroupSequentialDesign:
    """Efficacy boundaries of an α-spending design (Lan & DeMets 1983) for arbitrary increasing
    information fractions ``0 < t_1 < … < t_K`` (t_K < 1 for a design evaluated at an interim
    set; t > 1 spends nothing beyond α). ``spending``: ``'obf'`` (:func:`obf_spending`),
    ``'pocock'`` (:func:`pocock_spending`) or a callable ``f(t, alpha) → cumulative total α
    spent``. Two-sided designs are symmetric (half of each increment per side; reject when
    ``|Z_k| ≥ b_k``). Exact recursive integration (module docstring); 30 looks take ~0.1 s.
    Invalid fractions or α ∉ (0, 1) → NaN boundaries."""
    t, ok = _check_fractions(information_fractions)
    method = spending if isinstance(spending, str) else "custom"
    if not (0 < alpha < 1) or not ok or sides not in (1, 2):
        return _nan_design(t, alpha, sides, method)
    if isinstance(spending, str):
        fn = _SPENDING[spending]
        cum = fn(t, alpha, sides)
    else:
        cum = as_float(spending(t, alpha))
    cum = np.maximum.accumulate(np.minimum(np.nan_to_num(cum, nan=0.0), alpha))
    inc = np.diff(np.r_[0.0, cum])
    d = boundaries_for_crossing_probabilities(t, inc / sides, sides=sides)
    return GroupSequentialDesign(t, d.boundaries, d.lower_boundaries, d.alpha_spent, d.cumulative_alpha,
                                 d.nominal_p_value, float(alpha), sides, method)


def crossing_probabilities(boundaries, information_fractions, drift=0.0, sides: int = 2,
                           lower_boundaries=None) -> CrossingProbabilities:
    """Exact exit probabilities of any boundary set (Armitage, McPherson & Rowe 1969; J&T ch. 19;
    gsDesign ``gsProbability``): Z_k with ``E[Z_k] = drift·√t_k`` (``drift`` = expected Z at
    t = 1, e.g. ``z_{1−α/2} + z_{1−β}`` for a fixed-sample power 1 − β) and
    ``Cov(Z_i, Z_j) = √(t_i/t_j)``. Lower boundaries default to ``−boundaries`` (sides = 2) or
    none (sides = 1). With ``drift = 0`` the total is the type-I error of the boundary set.
    Invalid fractions or NaN boundaries → NaN."""
    t, ok = _check_fractions(information_fractions)
    b = np.broadcast_to(as_float(boundaries), t.shape).astype(float)
    if lower_boundaries is None:
        a = -b if sides == 2 else np.full(t.shape, -np.inf)
    else:
        a = np.broadcast_to(as_float(lower_boundaries), t.shape).astype(float)
    if not ok or np.any(np.isnan(b)) or np.any(np.isnan(a)) or not np.isfinite(drift) or t.size == 0:
        nan = np.full(t.shape, np.nan)
        return CrossingProbabilities(nan, nan.copy(), nan.copy(), nan.copy(), np.nan, np.nan, np.nan)
    up = np.empty(t.size)
    lo = np.empty(t.size)
    rec = _Recursion(drift)
    for k, tk in enumerate(t):
        mean, sd = rec.transition(tk)
        up[k] = rec.upper(mean, sd, b[k])
        lo[k] = rec.lower(mean, sd, a[k])
        rec.advance(tk, mean, sd, a[k], b[k], t[k + 1] if k + 1 < t.size else None)
    per = up + lo
    cum = np.cumsum(per)
    total = float(cum[-1])
    e_t = float(per @ t + (1.0 - total) * t[-1])
    e_k = float(per @ np.arange(1, t.size + 1) + (1.0 - total) * t.size)
    return CrossingProbabilities(up, lo, per, cum, total, e_t, e_k)


def _equal_fractions(n_looks, information_fractions):
    if information_fractions is None:
        return np.arange(1, int(n_looks) + 1, dtype=float) / max(int(n_looks), 1)
    return as_float(information_fractions).ravel()


def _classic(shape, n_looks, alpha, sides, information_fractions, method):
    t, ok = _check_fractions(_equal_fractions(n_looks, information_fractions))
    if not (0 < alpha < 1) or not ok or sides not in (1, 2) or t.size == 0:
        return _nan_design(t, alpha, sides, method)
    # c = 0 rejects at look 1 with probability >= 1/2 >= α; at c_hi every b_k >= the Bonferroni
    # critical value, so the total is <= α: the root is bracketed.
    s = shape(t)
    c_hi = -special.ndtri(alpha / (sides * t.size)) / s.min()

    def excess(c):
        return crossing_probabilities(c * s, t, 0.0, sides).total - alpha

    c = optimize.brentq(excess, 0.0, c_hi, xtol=1e-12)
    b = c * s
    cp = crossing_probabilities(b, t, 0.0, sides)
    low = -b if sides == 2 else np.full(t.shape, -np.inf)
    return GroupSequentialDesign(t, b, low, cp.per_look, cp.cumulative, _nominal_p(b, sides), float(alpha), sides,
                                 method, float(c))


def classic_obf_boundaries(n_looks: int, alpha=0.05, sides: int = 2, information_fractions=None) -> GroupSequentialDesign:
    """Classic O'Brien & Fleming (1979) design: ``b_k = c/√t_k`` (``c·√(K/k)`` for equally spaced
    looks), c solved by the exact recursion so that the overall type-I error is α
    (Jennison & Turnbull 2000, Table 2.3, C_B(K, α)). ``information_fractions`` (t_K = 1 expected)
    overrides the equal spacing."""
    return _classic(lambda t: 1.0 / np.sqrt(t), n_looks, alpha, sides, information_fractions, "classic_obf")


def classic_pocock_boundaries(n_looks: int, alpha=0.05, sides: int = 2, information_fractions=None) -> GroupSequentialDesign:
    """Classic Pocock (1977) design: a constant boundary ``b_k = c`` with overall type-I error α
    (Jennison & Turnbull 2000, Table 2.1, C_P(K, α))."""
    return _classic(lambda t: np.ones_like(t), n_looks, alpha, sides, information_fractions, "classic_pocock")


def naive_obf_boundaries(information_fractions, alpha=0.05, sides: int = 2) -> GroupSequentialDesign:
    """``b_k = z_{1−α/sides}/√t_k``: the O'Brien–Fleming *shape* scaled so that the last look
    alone has level α. **Comparison only — not an α-level design**: the earlier looks add type-I
    error (``cumulative_alpha`` reports the true, inflated, value from the recursion)."""
    t, ok = _check_fractions(information_fractions)
    if not (0 < alpha < 1) or not ok or sides not in (1, 2):
        return _nan_design(t, alpha, sides, "naive_obf")
    b = -special.ndtri(alpha / sides) / np.sqrt(t)
    cp = crossing_probabilities(b, t, 0.0, sides)
    low = -b if sides == 2 else np.full(t.shape, -np.inf)
    return GroupSequentialDesign(t, b, low, cp.per_look, cp.cumulative, _nominal_p(b, sides), float(alpha), sides,
                                 "naive_obf")


def information_fractions_from_std_error(std_error, planned_std_error) -> np.ndarray:
    """Information fraction ``t = I/I_max = V_planned/V = (SE_planned/SE)²`` (information is the
    inverse variance of the effect estimate); NaN when either SE is ≤ 0 or NaN."""
    se, pse = np.broadcast_arrays(as_float(std_error), as_float(planned_std_error))
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = (se > 0) & (pse > 0) & np.isfinite(se) & np.isfinite(pse)
        return np.where(ok, (pse / np.where(ok, se, 1.0)) ** 2, np.nan)


@dataclass(frozen=True)
class SequentialCrossing:
    """Arrays in the input row order."""

    crosses: np.ndarray  #: bool: the boundary is crossed at this look
    crossed: np.ndarray  #: bool: crossed at this look or any earlier look of the group
    look_number: np.ndarray  #: 1-based position of the row within its group
    first_crossing_look: np.ndarray  #: group's first crossing look number (0 = never), per row


def sequential_crossing(group_codes, order_key, z, boundaries, sides: int = 2, lower_boundaries=None) -> SequentialCrossing:
    """Whether / when each group's statistic first crossed its efficacy boundary. ``z`` and
    ``boundaries`` are per row (the boundary of that row's look); rows are ordered within each
    group by ``order_key``. Crossing: ``|z| ≥ b`` (sides = 2, or ``z ≥ b`` / ``z ≤ lower`` when
    ``lower_boundaries`` is given) resp. ``z ≥ b`` (sides = 1). NaN z or boundary: no crossing at
    that look (the running state carries on). Vectorised (one sort, one accumulate)."""
    zz = as_float(z).ravel()
    n = zz.size
    bb = np.broadcast_to(as_float(boundaries), zz.shape)
    with np.errstate(invalid="ignore"):
        if lower_boundaries is not None:
            aa = np.broadcast_to(as_float(lower_boundaries), zz.shape)
            cross = (zz >= bb) | (zz <= aa)
        elif sides == 2:
            cross = np.abs(zz) >= bb
        else:
            cross = zz >= bb
    seg = _segments(group_codes, order_key, n)
    o = seg.order
    cs = cross[o]
    look_sorted = (np.arange(n) - seg.start[seg.gid] + 1) if n else np.zeros(0, dtype=np.int64)
    crossed_sorted = _segmented_count(cs.astype(np.int64), seg) > 0 if n else np.zeros(0, dtype=bool)
    # the first crossing row of a segment: crossed now and not crossed at the previous row
    first_row_mask = crossed_sorted.copy()
    first_row_mask[1:] &= ~crossed_sorted[:-1] | (seg.gid[1:] != seg.gid[:-1])
    first = np.zeros(seg.n_seg, dtype=np.int64)
    first[seg.gid[first_row_mask]] = look_sorted[first_row_mask]
    crossed = np.empty(n, dtype=bool)
    crossed[o] = crossed_sorted
    look = np.empty(n, dtype=np.int64)
    look[o] = look_sorted
    first_row = np.empty(n, dtype=np.int64)
    first_row[o] = first[seg.gid]
    return SequentialCrossing(cross, crossed, look, first_row)


__all__ = [
    "AlwaysValidResult", "CrossingProbabilities", "GroupSequentialDesign", "SequentialCrossing", "always_valid",
    "boundaries_for_crossing_probabilities", "classic_obf_boundaries", "classic_pocock_boundaries",
    "crossing_probabilities", "default_mixing_variance", "group_sequential_boundaries",
    "information_fractions_from_std_error", "msprt_confidence_interval", "msprt_log_statistic", "msprt_p_value",
    "msprt_statistic", "msprt_z_boundaries", "naive_obf_boundaries", "obf_spending", "pocock_spending", "sequential_crossing",
]
