"""Tests of a difference in means: Welch's t-test and the normal (z) test of two estimates.

Orientation is always treatment − control; ``alternative='greater'`` tests Δ > 0.
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
    t_p_value,
)


@dataclass(frozen=True)
class TTestResult:
    estimate: np.ndarray  #: mean_T − mean_C
    std_error: np.ndarray
    statistic: np.ndarray
    df: np.ndarray
    p_value: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    critical_value: np.ndarray  #: t quantile used for the CI


@dataclass(frozen=True)
class ZTestResult:
    estimate: np.ndarray  #: est_T − est_C
    std_error: np.ndarray
    statistic: np.ndarray
    p_value: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray


def welch_ttest(
    mean_control,
    var_control,
    n_control,
    mean_treatment,
    var_treatment,
    n_treatment,
    alpha=0.05,
    alternative: str = "two-sided",
) -> TTestResult:
    """Welch's unequal-variance t-test from summary statistics.

    ``SE = sqrt(s²_T/n_T + s²_C/n_C)``, ``t = Δ/SE``, Welch–Satterthwaite
    ``df = SE⁴ / ((s²_T/n_T)²/(n_T − 1) + (s²_C/n_C)²/(n_C − 1))`` and CI ``Δ ± t_{1−α/2, df}·SE``.
    Welch (1947) "The generalization of Student's problem when several different population
    variances are involved", Biometrika 34; Satterthwaite (1946). Matches
    ``scipy.stats.ttest_ind(equal_var=False)``. Variances are sample variances (ddof = 1).
    NaN results when SE = 0 or either n < 2.
    """
    check_alternative(alternative)
    diff, se, stat, df = _welch_statistic(mean_control, var_control, n_control, mean_treatment, var_treatment,
                                          n_treatment)
    p = t_p_value(stat, df, alternative)
    crit = critical_value(as_float(alpha), alternative, df=df)
    lo, hi = confidence_interval(diff, se, crit, alternative)
    return TTestResult(diff, se, stat, df, p, lo, hi, crit)


def _welch_statistic(mean_control, var_control, n_control, mean_treatment, var_treatment, n_treatment):
    """(Δ, SE, t, Welch–Satterthwaite df) of :func:`welch_ttest`."""
    mc, vc, nc, mt, vt, nt = np.broadcast_arrays(
        *(as_float(a) for a in (mean_control, var_control, n_control, mean_treatment, var_treatment, n_treatment))
    )
    valid_n = (nc >= 2) & (nt >= 2)
    ac = safe_divide(vc, nc)
    at = safe_divide(vt, nt)
    var = ac + at
    se = np.where(valid_n & (var > 0), positive_sqrt(var), np.nan)
    diff = mt - mc
    stat = safe_divide(diff, se)
    denom = safe_divide(ac * ac, nc - 1.0) + safe_divide(at * at, nt - 1.0)
    df = np.where(np.isfinite(se), safe_divide(var * var, denom), np.nan)
    return diff, se, stat, df


def welch_p_value(mean_control, var_control, n_control, mean_treatment, var_treatment, n_treatment,
                  alternative: str = "two-sided") -> np.ndarray:
    """The p-value of :func:`welch_ttest` alone (skips the t quantile of the interval, which is
    costly for small df)."""
    check_alternative(alternative)
    _, _, stat, df = _welch_statistic(mean_control, var_control, n_control, mean_treatment, var_treatment, n_treatment)
    return t_p_value(stat, df, alternative)


def z_test_difference(
    estimate_control,
    variance_control,
    estimate_treatment,
    variance_treatment,
    alpha=0.05,
    alternative: str = "two-sided",
) -> ZTestResult:
    """Normal (Wald) test of ``est_T − est_C`` for two independent estimators with estimator
    variances ``V_C``, ``V_T`` (variance of the estimate, e.g. s²/n or a delta-method variance):
    ``SE = sqrt(V_T + V_C)``, ``z = Δ/SE``, CI ``Δ ± z_{1−α/2}·SE``. Used for delta-method
    ratio / mean metrics (Deng et al. 2018) and CUPED (Deng et al. 2013). NaN when SE = 0.
    """
    check_alternative(alternative)
    ec, vc, et, vt = np.broadcast_arrays(
        as_float(estimate_control), as_float(variance_control), as_float(estimate_treatment), as_float(variance_treatment)
    )
    var = vc + vt
    se = np.where(var > 0, positive_sqrt(var), np.nan)
    diff = et - ec
    stat = safe_divide(diff, se)
    p = normal_p_value(stat, alternative)
    crit = critical_value(as_float(alpha), alternative)
    lo, hi = confidence_interval(diff, se, crit, alternative)
    return ZTestResult(diff, se, stat, p, lo, hi)


def cohens_d(mean_control, var_control, n_control, mean_treatment, var_treatment, n_treatment) -> np.ndarray:
    """Cohen's d with the pooled SD: ``Δ / sqrt(((n_T−1)s²_T + (n_C−1)s²_C)/(n_T + n_C − 2))``
    (Cohen 1988, *Statistical Power Analysis for the Behavioral Sciences*, §2.2)."""
    mc, vc, nc, mt, vt, nt = (as_float(a) for a in (mean_control, var_control, n_control, mean_treatment, var_treatment, n_treatment))
    pooled = safe_divide((nt - 1.0) * vt + (nc - 1.0) * vc, nt + nc - 2.0)
    sd = positive_sqrt(pooled)
    return np.where(sd > 0, safe_divide(mt - mc, sd), np.nan)
