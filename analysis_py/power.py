"""Power, sample size and minimum detectable effect (MDE) of two-arm tests.

Conventions: arm 1 is the **control** with ``n_control`` units, the treatment gets
``n_treatment = ratio · n_control``; effects are treatment − control; ``alternative`` is
``'two-sided'``, ``'greater'`` (H1: Δ > 0) or ``'less'``. Everything is vectorised over numpy
arrays (broadcasting) and never raises on degenerate numbers:

* invalid inputs (proportions outside [0, 1], ``alpha`` or ``power`` outside (0, 1),
  ``power <= alpha``, ``ratio <= 0``, ``n <= 0``, ``std_dev <= 0``, NaN) → NaN;
* a target power that no finite sample reaches (zero effect, or an effect in the direction
  opposite to a one-sided alternative) → sample size ``inf``; an MDE that does not exist for the
  given n (e.g. even ``p_T = 1`` is not detectable) → NaN.

Proportions (Fleiss, Levin & Paik 2003, *Statistical Methods for Rates and Proportions*, 3rd
ed., §4.2–4.3; Fleiss, Tytun & Ury 1980, Biometrics 36): the test is the two-proportion z-test with
the pooled SE under H0 (:func:`analysis_py.proportions.two_proportion_ztest`), so

``n_C = [z_a √((r+1) p̄ q̄) + z_β √(r p_C q_C + p_T q_T)]² / (r Δ²)``, ``p̄ = (p_C + r p_T)/(r + 1)``,

with ``z_a = z_{1−α/2}`` (two-sided) or ``z_{1−α}``, ``z_β = z_{power}``; and with the Fleiss–Tytun–Ury
continuity correction (for the Yates-corrected test) ``n_cc = n/4 · (1 + √(1 + 2(r+1)/(r n |Δ|)))²``.
``pooled=False`` uses the unpooled (Wald) SE under H0 as well (Chow, Shao & Wang 2008, *Sample Size
Calculations in Clinical Research*, 2nd ed., §4.2): ``n_C = (z_a + z_β)² (p_C q_C + p_T q_T / r) / Δ²``.
The sample-size formulas ignore the far tail of a two-sided test (as the published tables);
:func:`power_two_proportions` includes it.

Means (normal approximation; Chow, Shao & Wang §3.2): ``SE = σ √(1/n_C + 1/n_T)``. ``test='z'``
solves the power equation exactly including both tails of a two-sided test (this equals
statsmodels ``zt_ind_solve_power``); ``test='t'`` uses the pooled two-sample t-test with
``df = n_C + n_T − 2`` and the noncentral t (equals ``tt_ind_solve_power``). σ should be the
pre-period standard deviation computed in the warehouse (:func:`std_dev_from_sums`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from ._common import as_float, check_alternative, on_constant, positive_sqrt
from .moments import variance_from_sums

TESTS = ("z", "t")
DIRECTIONS = ("increase", "decrease")
#: bisection steps of the vectorised root finder (interval shrinks by 2**-N)
_BISECT_STEPS = 100


@dataclass(frozen=True)
class SampleSize:
    """Required units per arm; ``*_ceil`` are rounded up (float arrays: NaN / inf preserved)."""

    n_control: np.ndarray  #: un-rounded
    n_treatment: np.ndarray  #: ratio · n_control, un-rounded
    n_control_ceil: np.ndarray
    n_treatment_ceil: np.ndarray

    @property
    def n_total_ceil(self) -> np.ndarray:
        return self.n_control_ceil + self.n_treatment_ceil


@dataclass(frozen=True)
class PowerCurve:
    effects: np.ndarray  #: absolute effects (treatment − control), axis 0 of ``power``
    n_control: np.ndarray  #: control sample sizes, axis 1 of ``power``
    power: np.ndarray  #: shape (len(effects), len(n_control))


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def _ceil(x) -> np.ndarray:
    """Round up, tolerating 1e-12 relative float noise (434.0000000000001 → 434)."""
    x = as_float(x)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(x), np.ceil(x * (1.0 - 1e-12)), x)


def _z_alpha(alpha, alternative: str) -> np.ndarray:
    a = as_float(alpha)
    with np.errstate(invalid="ignore"):
        ok = (a > 0) & (a < 1)
    q = 1.0 - a / 2.0 if alternative == "two-sided" else 1.0 - a
    return np.where(ok, on_constant(special.ndtri, np.where(ok, q, 0.5)), np.nan)


def _valid_power(power, alpha) -> np.ndarray:
    pw, a = np.broadcast_arrays(as_float(power), as_float(alpha))
    with np.errstate(invalid="ignore"):
        return (pw > 0) & (pw < 1) & (a > 0) & (a < 1) & (pw > a)


def _phi_ratio(num, den) -> np.ndarray:
    """Φ(num/den), with den = 0 giving the step 1{num > 0} (½ at 0); NaN propagates."""
    num, den = np.broadcast_arrays(as_float(num), as_float(den))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(den > 0, special.ndtr(num / np.where(den > 0, den, 1.0)),
                       np.where(num > 0, 1.0, np.where(num < 0, 0.0, 0.5)))
        return np.where(np.isnan(num) | np.isnan(den) | (den < 0), np.nan, out)


def _bisect_increasing(f, lo, hi, steps: int = _BISECT_STEPS, log: bool = False):
    """Vectorised bisection for ``f(x) = 0`` with ``f`` increasing, ``f(lo) <= 0 <= f(hi)``
    (elementwise; the caller checks the bracket). ``log=True`` bisects on log(x) (x > 0)."""
    lo, hi = np.broadcast_arrays(as_float(lo).copy(), as_float(hi).copy())
    lo, hi = lo.copy(), hi.copy()
    for _ in range(steps):
        mid = np.sqrt(lo * hi) if log else 0.5 * (lo + hi)
        up = f(mid) >= 0
        hi = np.where(up, mid, hi)
        lo = np.where(up, lo, mid)
    return np.sqrt(lo * hi) if log else 0.5 * (lo + hi)


def _direction_ok(effect, alternative: str) -> np.ndarray:
    e = as_float(effect)
    with np.errstate(invalid="ignore"):
        if alternative == "greater":
            return e > 0
        if alternative == "less":
            return e < 0
        return e != 0


def std_dev_from_sums(n, sum_y, sum_y_sq) -> np.ndarray:
    """Sample standard deviation ``√((Σy² − (Σy)²/n)/(n − 1))`` of a pre-period metric from its
    warehouse sums (NaN for n < 2); the σ input of :func:`sample_size_means`."""
    return positive_sqrt(variance_from_sums(n, sum_y, sum_y_sq))


# ---------------------------------------------------------------------------------------------
# proportions
# ---------------------------------------------------------------------------------------------
def _prop_terms(p1, p2, r, pooled: bool):
    """(s0, s1): √((r+1)p̄q̄) (or s1 if not pooled) and √(r p1 q1 + p2 q2)."""
    s1 = positive_sqrt(r * p1 * (1.0 - p1) + p2 * (1.0 - p2))
    if not pooled:
        return s1, s1
    pbar = (p1 + r * p2) / (1.0 + r)
    return positive_sqrt((r + 1.0) * pbar * (1.0 - pbar)), s1


def _valid_props(*ps) -> np.ndarray:
    ok = np.ones(np.broadcast(*ps).shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        for p in ps:
            ok &= (p >= 0) & (p <= 1)
    return ok


def _n_fleiss(p1, p2, r, za, zb, continuity_correction: bool, pooled: bool):
    """Fleiss sample size (control arm) for signed Δ = p2 − p1 (no direction check)."""
    d = p2 - p1
    s0, s1 = _prop_terms(p1, p2, r, pooled)
    num = za * s0 + zb * s1
    with np.errstate(divide="ignore", invalid="ignore"):
        n = np.where(num > 0, num * num / (r * d * d), np.nan)
        if continuity_correction:
            fin = np.isfinite(n) & (n > 0)
            nn = np.where(fin, n, 1.0)
            n_cc = nn / 4.0 * (1.0 + np.sqrt(1.0 + 2.0 * (r + 1.0) / (r * nn * np.abs(d)))) ** 2
            n = np.where(fin, n_cc, n)
    return n


def sample_size_two_proportions(p_control, p_treatment, alpha=0.05, power=0.8, ratio=1.0,
                                alternative: str = "two-sided", continuity_correction: bool = False,
                                pooled: bool = True) -> SampleSize:
    """Units per arm for the two-proportion z-test to reach ``power`` at ``p_T`` vs ``p_C``.

    Fleiss, Levin & Paik (2003) §4.2, eq. (4.14) generalised to ``n_T = r·n_C`` (§4.3; Fleiss,
    Tytun & Ury 1980)::

        n_C = [z_a √((r+1) p̄ q̄) + z_β √(r p_C q_C + p_T q_T)]² / (r Δ²),  p̄ = (p_C + r p_T)/(r+1)

    ``continuity_correction=True``: ``n_C' = n_C/4 · (1 + √(1 + 2(r+1)/(r n_C |Δ|)))²`` (Fleiss,
    Tytun & Ury 1980, eq. 3; the exact solution of the power equation of the Yates-corrected test,
    whose statistic is shrunk by ½(1/n_C + 1/n_T)); e.g. 474 per group for .05 vs .10 as in
    Fleiss' Table A.4 (435 uncorrected).
    ``pooled=False``: unpooled SE under H0 too, ``n_C = (z_a + z_β)²(p_C q_C + p_T q_T/r)/Δ²``.
    ``Δ = 0`` or the wrong sign for a one-sided alternative → ``inf``; invalid input → NaN.
    """
    check_alternative(alternative)
    p1, p2, a, pw, r = np.broadcast_arrays(*(as_float(v) for v in (p_control, p_treatment, alpha, power, ratio)))
    with np.errstate(invalid="ignore"):
        valid = _valid_props(p1, p2) & _valid_power(pw, a) & (r > 0) & np.isfinite(r)
    za = _z_alpha(a, alternative)
    zb = special.ndtri(np.where(valid, pw, 0.5))
    rr = np.where(valid, r, 1.0)
    n = _n_fleiss(p1, p2, rr, za, zb, continuity_correction, pooled)
    n = np.where(_direction_ok(p2 - p1, alternative), n, np.inf)
    n = np.where(valid, n, np.nan)
    return SampleSize(n, r * n, _ceil(n), _ceil(r * n))


def power_two_proportions(p_control, p_treatment, n_control, ratio=1.0, alpha=0.05,
                          alternative: str = "two-sided", continuity_correction: bool = False,
                          pooled: bool = True) -> np.ndarray:
    """Power of the two-proportion z-test with ``n_control`` and ``ratio·n_control`` units.

    With ``SE₀ = √(p̄q̄(1/n_C + 1/n_T))`` (pooled, ``p̄`` as in :func:`sample_size_two_proportions`),
    ``SE₁ = √(p_C q_C/n_C + p_T q_T/n_T)`` and ``cc = ½(1/n_C + 1/n_T)`` if continuity-corrected (else 0):
    ``P(reject upward) = Φ((Δ − cc − z_a SE₀)/SE₁)``, ``P(reject downward) = Φ((−Δ − cc − z_a SE₀)/SE₁)``;
    two-sided power is their sum (both tails; Fleiss, Levin & Paik 2003 §4.2; equals statsmodels
    ``power_proportions_2indep``), ``greater`` / ``less`` the first / second. At Δ = 0 (without
    cc) the power is α. ``n <= 0``, a zero SE under H0 (``p̄ ∈ {0, 1}``) or invalid input → NaN.
    """
    check_alternative(alternative)
    p1, p2, n1, r, a = np.broadcast_arrays(*(as_float(v) for v in (p_control, p_treatment, n_control, ratio, alpha)))
    with np.errstate(invalid="ignore", divide="ignore"):
        valid = _valid_props(p1, p2) & (n1 > 0) & (r > 0) & np.isfinite(r) & (a > 0) & (a < 1)
        n1v = np.where(valid, n1, 1.0)
        n2v = np.where(valid, r * n1, 1.0)
        inv = 1.0 / n1v + 1.0 / n2v
        se1 = positive_sqrt(p1 * (1.0 - p1) / n1v + p2 * (1.0 - p2) / n2v)
        if pooled:
            pbar = (p1 * n1v + p2 * n2v) / (n1v + n2v)
            se0 = positive_sqrt(pbar * (1.0 - pbar) * inv)
        else:
            se0 = se1
    za = _z_alpha(a, alternative)
    cc = 0.5 * inv if continuity_correction else 0.0
    d = p2 - p1
    up = _phi_ratio(d - cc - za * se0, se1)
    down = _phi_ratio(-d - cc - za * se0, se1)
    out = {"two-sided": up + down, "greater": up, "less": down}[alternative]
    # p̄ ∈ {0, 1} (e.g. p_C = p_T = 0): the test statistic is undefined (zero pooled SE)
    return np.where(valid & (se0 > 0), out, np.nan)


def minimum_detectable_effect_proportions(p_control, n_control, ratio=1.0, alpha=0.05, power=0.8,
                                          alternative: str = "two-sided", continuity_correction: bool = False,
                                          pooled: bool = True, direction: str = "increase") -> np.ndarray:
    """Smallest absolute effect ``Δ = p_T − p_C`` detectable with ``n_control`` (and ``ratio·n_control``)
    units, i.e. the ``Δ`` for which :func:`sample_size_two_proportions` returns exactly ``n_control``.

    Signed: ``Δ > 0`` for ``direction='increase'``, ``< 0`` for ``'decrease'``; one-sided
    alternatives fix the direction (``greater`` → increase, ``less`` → decrease). Unpooled without
    continuity correction has a closed form (the sample-size equation is a quadratic in Δ:
    ``Δ²(1 + K/r) − ΔK(1 − 2p_C)/r − K p_C q_C (1 + 1/r) = 0``, ``K = (z_a + z_β)²/n_C``); otherwise the
    Fleiss equation is solved for ``p_T`` by vectorised bisection (to ~1e-16). NaN when even the most
    extreme ``p_T`` (1 or 0) needs more than ``n_control`` units, or for invalid input.
    """
    check_alternative(alternative)
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    sign = 1.0 if direction == "increase" else -1.0
    if alternative == "greater":
        sign = 1.0
    elif alternative == "less":
        sign = -1.0
    p1, n, r, a, pw = np.broadcast_arrays(*(as_float(v) for v in (p_control, n_control, ratio, alpha, power)))
    with np.errstate(invalid="ignore"):
        valid = _valid_props(p1) & (n > 0) & np.isfinite(n) & (r > 0) & np.isfinite(r) & _valid_power(pw, a)
    p1v = np.where(valid, p1, 0.5)
    nv = np.where(valid, n, 1.0)
    rv = np.where(valid, r, 1.0)
    za = _z_alpha(np.where(valid, a, 0.05), alternative)
    zb = special.ndtri(np.where(valid, pw, 0.8))
    if not pooled and not continuity_correction:
        K = (za + zb) ** 2 / nv
        lin = K * (1.0 - 2.0 * p1v) / rv
        quad = 1.0 + K / rv
        const = K * p1v * (1.0 - p1v) * (1.0 + 1.0 / rv)
        disc = positive_sqrt(lin * lin + 4.0 * quad * const)
        d = (lin + sign * disc) / (2.0 * quad)
        p2 = p1v + d
        with np.errstate(invalid="ignore"):
            ok = valid & (p2 >= 0) & (p2 <= 1) & (za + zb > 0)
        return np.where(ok, d, np.nan)
    t_max = np.where(sign > 0, 1.0 - p1v, p1v)  # largest |Δ| possible

    def excess(t):  # log(n_required(t)) − log(n): decreasing in t → negate for the solver
        with np.errstate(divide="ignore", invalid="ignore"):
            req = _n_fleiss(p1v, p1v + sign * t, rv, za, zb, continuity_correction, pooled)
            return np.log(nv) - np.log(np.where(np.isnan(req), np.inf, req))

    reachable = valid & (t_max > 0) & (excess(t_max) >= 0)
    t = _bisect_increasing(excess, np.zeros_like(t_max), np.where(reachable, t_max, 1.0))
    return np.where(reachable, sign * t, np.nan)


# ---------------------------------------------------------------------------------------------
# means
# ---------------------------------------------------------------------------------------------
def _check_test(test: str) -> None:
    if test not in TESTS:
        raise ValueError(f"test must be one of {TESTS}, got {test!r}")


def _standardised_effect_z(alpha, power, alternative: str) -> np.ndarray:
    """u = δ/SE at which the z-test has ``power``: ``z_{1−α} + z_power`` one-sided; two-sided the
    root of ``Φ(u − z_{1−α/2}) + Φ(−u − z_{1−α/2}) = power`` (both tails; ≈ ``z_{1−α/2} + z_power``,
    smaller by ~1e-6 at α = 0.05, power = 0.8). NaN unless 0 < α < power < 1."""
    a, pw = np.broadcast_arrays(as_float(alpha), as_float(power))
    ok = _valid_power(pw, a)
    za = _z_alpha(np.where(ok, a, 0.05), alternative)
    zb = special.ndtri(np.where(ok, pw, 0.8))
    u = za + zb
    if alternative == "two-sided":
        def f(x):
            return special.ndtr(x - za) + special.ndtr(-x - za) - pw
        u = _bisect_increasing(f, np.zeros_like(u), np.maximum(u, 0.0))
    return np.where(ok, u, np.nan)


def _power_means_arrays(d_std, n1, r, a, alternative: str, test: str):
    """Power for a standardised effect ``d_std = δ/σ`` (valid inputs assumed)."""
    n2 = r * n1
    ncp = d_std / np.sqrt(1.0 / n1 + 1.0 / n2)
    if test == "z":
        za = _z_alpha(a, alternative)
        up = special.ndtr(ncp - za)
        down = special.ndtr(-ncp - za)
    else:
        df = n1 + n2 - 2.0
        q = 1.0 - a / 2.0 if alternative == "two-sided" else 1.0 - a
        with np.errstate(invalid="ignore"):
            crit = special.stdtrit(df, q)
            up = 1.0 - special.nctdtr(df, ncp, crit)
            down = special.nctdtr(df, ncp, -crit)
    return {"two-sided": up + down, "greater": up, "less": down}[alternative]


def power_means(std_dev, effect, n_control, ratio=1.0, alpha=0.05, alternative: str = "two-sided",
                test: str = "z") -> np.ndarray:
    """Power of the two-sample test of means for an absolute effect ``δ = μ_T − μ_C``.

    ``test='z'``: ``Φ(δ/SE − z_a) + Φ(−δ/SE − z_a)`` (two-sided, both tails), ``SE = σ√(1/n_C + 1/n_T)``;
    equals statsmodels ``NormalIndPower``. ``test='t'``: pooled two-sample t-test, ``df = n_C + n_T − 2``,
    noncentral t with ncp ``δ/SE`` (Cohen 1988 ch. 2; equals ``TTestIndPower``). NaN for σ <= 0,
    n <= 0 (t: df <= 0) or invalid α.
    """
    check_alternative(alternative)
    _check_test(test)
    s, e, n1, r, a = np.broadcast_arrays(*(as_float(v) for v in (std_dev, effect, n_control, ratio, alpha)))
    with np.errstate(invalid="ignore"):
        valid = (s > 0) & np.isfinite(s) & np.isfinite(e) & (n1 > 0) & (r > 0) & np.isfinite(r) & (a > 0) & (a < 1)
        if test == "t":
            valid &= n1 * (1.0 + r) > 2.0
    sv = np.where(valid, s, 1.0)
    out = _power_means_arrays(np.where(valid, e, 0.0) / sv, np.where(valid, n1, 10.0), np.where(valid, r, 1.0),
                              np.where(valid, a, 0.05), alternative, test)
    return np.where(valid, out, np.nan)


def sample_size_means(std_dev, mde, alpha=0.05, power=0.8, ratio=1.0, alternative: str = "two-sided",
                      test: str = "z") -> SampleSize:
    """Units per arm to detect an absolute difference in means ``mde`` (= μ_T − μ_C) with ``power``.

    ``test='z'``: ``n_C = (u σ / δ)² (1 + 1/r)`` with ``u`` the standardised effect at which the
    z-test has the target power (``z_{1−α} + z_β`` one-sided; the exact two-tailed root two-sided,
    see :func:`power_means`) — equals statsmodels ``zt_ind_solve_power``. ``test='t'``: the root in
    ``n_C`` of the noncentral-t power (``tt_ind_solve_power``; Cohen 1988 Table 2.4.1), by
    bisection on log n. σ: the pre-period SD (:func:`std_dev_from_sums`). ``mde = 0`` or the wrong
    sign for a one-sided alternative → ``inf``; σ <= 0 or invalid input → NaN.
    """
    check_alternative(alternative)
    _check_test(test)
    s, d, a, pw, r = np.broadcast_arrays(*(as_float(v) for v in (std_dev, mde, alpha, power, ratio)))
    with np.errstate(invalid="ignore"):
        valid = (s > 0) & np.isfinite(s) & np.isfinite(d) & _valid_power(pw, a) & (r > 0) & np.isfinite(r)
    right = _direction_ok(d, alternative) & valid
    sv = np.where(valid, s, 1.0)
    rv = np.where(valid, r, 1.0)
    av = np.where(valid, a, 0.05)
    pv = np.where(valid, pw, 0.8)
    dstd = np.abs(np.where(right, d, 1.0)) / sv
    u = _standardised_effect_z(av, pv, alternative)
    n = (u / dstd) ** 2 * (1.0 + 1.0 / rv)
    if test == "t" and np.any(right):
        sgn = np.where(np.where(right, d, 1.0) > 0, 1.0, -1.0)

        def f(n1):
            return _power_means_arrays(sgn * dstd, n1, rv, av, alternative, "t") - pv

        lo = np.maximum(n, 2.0 / (1.0 + rv) * (1.0 + 1e-9))
        hi = lo * 2.0 + 2.0
        for _ in range(64):  # expand until the bracket holds (the t-test needs a bit more than z)
            short = right & (f(hi) < 0)
            if not np.any(short):
                break
            hi = np.where(short, hi * 2.0, hi)
        n = np.where(f(lo) >= 0, lo, _bisect_increasing(f, lo, hi, log=True))
    n = np.where(right, n, np.inf)
    n = np.where(valid, n, np.nan)
    return SampleSize(n, r * n, _ceil(n), _ceil(r * n))


def minimum_detectable_effect_means(std_dev, n_control, ratio=1.0, alpha=0.05, power=0.8,
                                    alternative: str = "two-sided", test: str = "z") -> np.ndarray:
    """Smallest absolute difference in means detectable with the given sample sizes:
    ``u·σ·√(1/n_C + 1/n_T)`` for the z-test (closed form given ``u``, see :func:`sample_size_means`),
    the root of the noncentral-t power for ``test='t'``. Positive (negative for ``'less'``).
    NaN for σ <= 0, n <= 0 or invalid α / power."""
    check_alternative(alternative)
    _check_test(test)
    s, n1, r, a, pw = np.broadcast_arrays(*(as_float(v) for v in (std_dev, n_control, ratio, alpha, power)))
    with np.errstate(invalid="ignore"):
        valid = (s > 0) & np.isfinite(s) & (n1 > 0) & np.isfinite(n1) & (r > 0) & np.isfinite(r) & _valid_power(pw, a)
        if test == "t":
            valid &= n1 * (1.0 + r) > 2.0
    sv, nv, rv = np.where(valid, s, 1.0), np.where(valid, n1, 10.0), np.where(valid, r, 1.0)
    av, pv = np.where(valid, a, 0.05), np.where(valid, pw, 0.8)
    u = _standardised_effect_z(av, pv, alternative)
    dstd = u * np.sqrt(1.0 / nv + 1.0 / (rv * nv))
    if test == "t":
        sgn = -1.0 if alternative == "less" else 1.0

        def f(x):
            return _power_means_arrays(sgn * x, nv, rv, av, alternative, "t") - pv

        hi = dstd * 2.0
        for _ in range(64):
            short = valid & (f(hi) < 0)
            if not np.any(short):
                break
            hi = np.where(short, hi * 2.0, hi)
        dstd = _bisect_increasing(f, dstd, hi, log=True)
    out = dstd * sv * (-1.0 if alternative == "less" else 1.0)
    return np.where(valid, out, np.nan)


# ---------------------------------------------------------------------------------------------
# dispatchers, curves, achieved power
# ---------------------------------------------------------------------------------------------
def minimum_detectable_effect(n_control, *, p_control=None, std_dev=None, ratio=1.0, alpha=0.05, power=0.8,
                              alternative: str = "two-sided", **kwargs) -> np.ndarray:
    """MDE for a conversion metric (give ``p_control``; see
    :func:`minimum_detectable_effect_proportions`) or a mean metric (give ``std_dev``; see
    :func:`minimum_detectable_effect_means`). Exactly one of the two must be given."""
    if (p_control is None) == (std_dev is None):
        raise ValueError("give exactly one of p_control (proportions) or std_dev (means)")
    if p_control is not None:
        return minimum_detectable_effect_proportions(p_control, n_control, ratio, alpha, power, alternative, **kwargs)
    return minimum_detectable_effect_means(std_dev, n_control, ratio, alpha, power, alternative, **kwargs)


def power_curve(effects, n_control, *, p_control=None, std_dev=None, ratio=1.0, alpha=0.05,
                alternative: str = "two-sided", **kwargs) -> PowerCurve:
    """Power over the grid ``effects × n_control`` (outer product: ``power[i, j]`` at ``effects[i]``
    and ``n_control[j]``). Give ``p_control`` (conversion: effects are ``p_T − p_C``, power from
    :func:`power_two_proportions`; ``p_T`` outside [0, 1] → NaN) or ``std_dev`` (means,
    :func:`power_means`). Extra keyword arguments go to the power function."""
    if (p_control is None) == (std_dev is None):
        raise ValueError("give exactly one of p_control (proportions) or std_dev (means)")
    e = np.atleast_1d(as_float(effects))
    n = np.atleast_1d(as_float(n_control))
    E, N = e[:, None], n[None, :]
    if p_control is not None:
        pc = as_float(p_control)
        pw = power_two_proportions(pc, pc + E, N, ratio, alpha, alternative, **kwargs)
    else:
        pw = power_means(std_dev, E, N, ratio, alpha, alternative, **kwargs)
    return PowerCurve(e, n, pw)


def achieved_power(effect_of_interest, std_error, alpha=0.05, alternative: str = "two-sided") -> np.ndarray:
    """Power of the z-test actually run (its observed standard error ``SE``) against the effect of
    interest ``δ*`` (the practical-significance threshold in absolute units), i.e. the probability
    that the experiment *as run* would have detected an effect of that size:
    ``Φ(δ*/SE − z_a) + Φ(−δ*/SE − z_a)`` two-sided (``z_a = z_{1−α/2}``), ``Φ(δ*/SE − z_{1−α})``
    for ``greater`` and ``Φ(−δ*/SE − z_{1−α})`` for ``less``.

    This is deliberately **not** "observed" (post-hoc) power evaluated at the observed effect:
    that is a one-to-one function of the p-value (p = α ⇔ observed power ≈ 50% two-sided), so it
    adds no information and is always low for non-significant results (Hoenig & Heisey 2001,
    "The abuse of power", Am. Stat. 55). Evaluated at a pre-specified effect it measures
    the sensitivity of the experiment that was actually run (Cohen 1988 ch. 1; Kohavi, Tang & Xu
    2020 ch. 17). ``δ* = 0`` gives α; ``SE <= 0`` / NaN → NaN.
    """
    check_alternative(alternative)
    e, se, a = np.broadcast_arrays(as_float(effect_of_interest), as_float(std_error), as_float(alpha))
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = (se > 0) & np.isfinite(se) & np.isfinite(e)
        ncp = np.where(ok, e / np.where(ok, se, 1.0), np.nan)
    za = _z_alpha(a, alternative)
    up = special.ndtr(ncp - za)
    down = special.ndtr(-ncp - za)
    out = {"two-sided": up + down, "greater": up, "less": down}[alternative]
    return np.where(ok, out, np.nan)
