"""Relative lift ``Δ_rel = μ_T/μ_C − 1`` and its confidence interval, for two independent
estimates ``μ̂_C, μ̂_T`` with estimator variances ``V_C, V_T``.

Methods (``method=``):

* ``'delta'`` (default) — first-order delta method (Deng, Knoblich & Lu 2018, §3.3;
  Kohavi, Tang & Xu 2020, *Trustworthy Online Controlled Experiments*, ch. 18):
  ``Var(Δ_rel) ≈ V_T/μ_C² + μ_T² V_C/μ_C⁴``, CI ``Δ_rel ± c·SE``.
* ``'log'`` — delta method on the log ratio: ``SE_log = sqrt(V_T/μ_T² + V_C/μ_C²)``, CI
  ``exp(log(μ_T/μ_C) ± c·SE_log) − 1``. Requires ``μ_T/μ_C > 0`` (else NaN, flag ``LOG_UNDEFINED``).
  ``std_error`` reports SE_log.
* ``'fieller'`` — Fieller (1954) "Some problems in interval estimation", JRSS-B 16: the set of
  ρ with ``(μ_T − ρμ_C)² ≤ c²(V_T + ρ²V_C)``; with ``a = μ_C² − c²V_C`` it is the bounded interval
  ``(μ_Tμ_C ± sqrt(c²(μ_T²V_C + a·V_T)))/a`` when ``a > 0`` and unbounded otherwise (NaN bounds, flag
  ``FIELLER_UNBOUNDED``). It excludes 0 exactly when the absolute z-test rejects.
  ``std_error`` reports the delta-method SE.

``c`` is the normal critical value, or the Student-t one when ``df`` is given (Welch metrics).
``μ_C == 0`` gives NaN everything with flag ``ZERO_CONTROL_MEAN``. With a negative control mean
``μ_T/μ_C − 1`` has the opposite sign of ``μ_T − μ_C`` (reported as is; decision logic
re-orients it, see ``docs/statistics.md``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._common import as_float, check_alternative, critical_value, positive_sqrt, safe_divide

OK = 0
ZERO_CONTROL_MEAN = 1
LOG_UNDEFINED = 2
FIELLER_UNBOUNDED = 3
INVALID = 4
FLAG_REASONS = {
    OK: "",
    ZERO_CONTROL_MEAN: "relative_effect_undefined_zero_control_mean",
    LOG_UNDEFINED: "relative_log_ci_undefined_nonpositive_ratio",
    FIELLER_UNBOUNDED: "relative_fieller_ci_unbounded",
    INVALID: "relative_effect_undefined_invalid_variance",
}
METHODS = ("delta", "log", "fieller")


@dataclass(frozen=True)
class RelativeLiftResult:
    estimate: np.ndarray
    std_error: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    flag: np.ndarray  #: int8 codes, see FLAG_REASONS


def relative_lift(
    mean_control,
    variance_control,
    mean_treatment,
    variance_treatment,
    alpha=0.05,
    method: str = "delta",
    df=None,
    alternative: str = "two-sided",
    crit=None,
) -> RelativeLiftResult:
    """Relative lift ``μ_T/μ_C − 1`` with a delta / log / Fieller CI (see module docstring).
    ``crit`` (optional) overrides the critical value computed from ``alpha``/``df``."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    check_alternative(alternative)
    mc, vc, mt, vt = np.broadcast_arrays(
        as_float(mean_control), as_float(variance_control), as_float(mean_treatment), as_float(variance_treatment)
    )
    if crit is None:
        crit = critical_value(as_float(alpha), alternative, df=df)
    crit = np.broadcast_to(as_float(crit), mc.shape)
    ratio = safe_divide(mt, mc)
    est = ratio - 1.0
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        var_delta = safe_divide(vt, mc * mc) + mt * mt * safe_divide(vc, mc ** 4)
    se_delta = positive_sqrt(var_delta)
    flag = np.zeros(mc.shape, dtype=np.int8)
    bad_var = ~(np.isfinite(vc) & np.isfinite(vt) & (vc >= 0) & (vt >= 0))
    flag[bad_var] = INVALID

    if method == "delta":
        se = se_delta
        lo = est - crit * se
        hi = est + crit * se
    elif method == "log":
        pos = ratio > 0
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            se = positive_sqrt(safe_divide(vt, mt * mt) + safe_divide(vc, mc * mc))
            lr = np.log(np.where(pos, ratio, np.nan))
            lo = np.exp(lr - crit * se) - 1.0
            hi = np.exp(lr + crit * se) - 1.0
        flag[(~pos) & (flag == OK)] = LOG_UNDEFINED
    else:  # fieller
        se = se_delta
        c2 = crit * crit
        a = mc * mc - c2 * vc
        bounded = a > 0
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            root = positive_sqrt(c2 * (mt * mt * vc + a * vt))
            a_safe = np.where(bounded, a, np.nan)
            r1 = (mt * mc - root) / a_safe
            r2 = (mt * mc + root) / a_safe
        lo = r1 - 1.0
        hi = r2 - 1.0
        flag[(~bounded) & (flag == OK)] = FIELLER_UNBOUNDED

    if alternative == "greater":
        hi = np.where(np.isnan(lo), np.nan, np.inf)
    elif alternative == "less":
        lo = np.where(np.isnan(hi), np.nan, -np.inf)

    zero_c = mc == 0
    flag[zero_c] = ZERO_CONTROL_MEAN
    undefined = zero_c | ~np.isfinite(mc) | ~np.isfinite(mt)
    est = np.where(undefined, np.nan, est)
    nan_ci = undefined | (flag != OK)
    se = np.where(undefined | (flag == INVALID), np.nan, se)
    lo = np.where(nan_ci, np.nan, lo)
    hi = np.where(nan_ci, np.nan, hi)
    return RelativeLiftResult(est, se, lo, hi, flag)
