"""Two-proportion z-test (difference of two independent binomial proportions).

Conventions (treatment − control throughout):

* Test statistic uses the pooled SE under H0 (p_T = p_C):
  ``z = (p̂_T − p̂_C) / sqrt(p̄(1 − p̄)(1/n_T + 1/n_C))`` with ``p̄ = (x_T + x_C)/(n_T + n_C)``.
  This equals statsmodels ``proportions_ztest([x_T, x_C], [n_T, n_C])`` and ``z² =`` Pearson's
  chi-square of the 2x2 table without Yates' correction (Fleiss, Levin & Paik 2003, §2.2/§3.1).
* The CI of the difference uses the unpooled (Wald) SE
  ``sqrt(p̂_T(1 − p̂_T)/n_T + p̂_C(1 − p̂_C)/n_C)``, which equals statsmodels
  ``confint_proportions_2indep(..., method='wald', compare='diff')``.
* Optional continuity correction as in R ``prop.test(correct=TRUE)``: with
  ``cc = min(½(1/n_T + 1/n_C), |Δ|)`` the statistic is ``sign(Δ)(|Δ| − cc)/SE_pooled`` (so
  ``z² =`` Yates-corrected chi-square) and the CI is ``Δ ± (z_crit·SE_unpooled + ½(1/n_T + 1/n_C))``.
  Default is **no** correction.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._common import (
    as_float,
    check_alternative,
    confidence_interval,
    critical_value,
    normal_p_value,
    positive_sqrt,
    safe_divide,
)


@dataclass(frozen=True)
class ProportionsZTestResult:
    """Arrays, broadcast shape of the inputs."""

    p_control: np.ndarray
    p_treatment: np.ndarray
    estimate: np.ndarray  #: p_T − p_C
    std_error: np.ndarray  #: unpooled SE (used for the CI)
    std_error_pooled: np.ndarray  #: pooled SE (used for the statistic)
    statistic: np.ndarray
    p_value: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray


def two_proportion_ztest(
    x_control,
    n_control,
    x_treatment,
    n_treatment,
    alpha=0.05,
    alternative: str = "two-sided",
    continuity_correction: bool = False,
) -> ProportionsZTestResult:
    """Two-proportion z-test of ``p_T − p_C`` with pooled-SE statistic and unpooled Wald CI.

    References: Fleiss, Levin & Paik (2003) *Statistical Methods for Rates and Proportions*,
    ch. 3; Agresti (2013) *Categorical Data Analysis* §3.1; R ``prop.test`` for the continuity
    correction. Degenerate input (n = 0, p̄ ∈ {0, 1}) gives NaN statistic / p-value.
    """
    check_alternative(alternative)
    xc, nc, xt, nt = np.broadcast_arrays(
        as_float(x_control), as_float(n_control), as_float(x_treatment), as_float(n_treatment)
    )
    pc = safe_divide(xc, nc)
    pt = safe_divide(xt, nt)
    diff = pt - pc
    inv_n = safe_divide(1.0, nc) + safe_divide(1.0, nt)
    pbar = safe_divide(xc + xt, nc + nt)
    se_pooled = positive_sqrt(pbar * (1.0 - pbar) * inv_n)
    se = positive_sqrt(safe_divide(pt * (1.0 - pt), nt) + safe_divide(pc * (1.0 - pc), nc))
    if continuity_correction:
        cc = np.minimum(0.5 * inv_n, np.abs(diff))
        num = np.sign(diff) * (np.abs(diff) - cc)
        extra = 0.5 * inv_n
    else:
        num = diff
        extra = 0.0
    stat = np.where(se_pooled > 0, safe_divide(num, se_pooled), np.nan)
    p = normal_p_value(stat, alternative)
    crit = critical_value(as_float(alpha), alternative)
    se_ok = np.where(se > 0, se, np.nan)
    lo, hi = confidence_interval(diff, se_ok, crit, alternative)
    if continuity_correction:
        lo = lo - extra
        hi = hi + extra
    return ProportionsZTestResult(pc, pt, diff, se, se_pooled, stat, p, lo, hi)


def cohens_h(p_control, p_treatment) -> np.ndarray:
    """Cohen's h = 2·asin(√p_T) − 2·asin(√p_C) (Cohen 1988, *Statistical Power Analysis*, §6.2)."""
    pc = as_float(p_control)
    pt = as_float(p_treatment)
    with np.errstate(invalid="ignore"):
        return 2.0 * np.arcsin(np.sqrt(pt)) - 2.0 * np.arcsin(np.sqrt(pc))
