"""Ratio of means by the delta method (Deng, Knoblich & Lu 2018, "Applying the Delta Method in
Metric Analytics: A Practical Guide with Novel Ideas", KDD; eq. (4)).

Per arm, with unit-level numerator N and denominator D (both summed over units),
``R = ΣN / ΣD = μ̂_N / μ̂_D`` and

    Var(R) ≈ [ s²_N / μ_D² − 2 μ_N s_ND / μ_D³ + μ_N² s²_D / μ_D⁴ ] / n

with sample (co)variances (ddof = 1). Equivalently Var(R) = s²_L / n for the linearised unit
values ``L_i = (N_i − R·D_i) / μ_D`` — the form used by the tests as an independent reference.
Used for ``mean`` metrics (N = sum of values, D = number of values) and ``ratio`` metrics.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._common import as_float, safe_divide
from .moments import ZERO_VARIANCE_RTOL, cov_r, reciprocals, var_r


@dataclass(frozen=True)
class RatioEstimate:
    ratio: np.ndarray  #: ΣN / ΣD (NaN when ΣD == 0)
    variance: np.ndarray  #: delta-method variance of the estimator R
    unit_variance: np.ndarray  #: s²_L = n · variance (variance of the linearised unit values)
    mean_num: np.ndarray
    mean_den: np.ndarray
    var_num: np.ndarray
    var_den: np.ndarray
    cov_num_den: np.ndarray


def ratio_delta_method(n, sum_num, sum_num_sq, sum_den, sum_den_sq, sum_num_den) -> RatioEstimate:
    """Per-arm ratio-of-means estimate and its delta-method variance (see module docstring).
    NaN ratio when ΣD = 0; NaN variance when n < 2."""
    n = as_float(n)
    sum_num, sum_num_sq, sum_den, sum_den_sq, sum_num_den = (
        as_float(a) for a in (sum_num, sum_num_sq, sum_den, sum_den_sq, sum_num_den))
    inv_n, inv_nm1 = reciprocals(n)
    mu_n = sum_num * inv_n
    mu_d = sum_den * inv_n
    v_n = var_r(sum_num, sum_num_sq, inv_n, inv_nm1)
    v_d = var_r(sum_den, sum_den_sq, inv_n, inv_nm1)
    c_nd = cov_r(sum_num, sum_den, sum_num_den, inv_n, inv_nm1)
    r = safe_divide(sum_num, sum_den)
    # s²_L = (s²_N − 2R s_ND + R² s²_D) / μ_D²  (identical to the three-term formula)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        scale = np.asarray(r * r * v_d, dtype=np.float64)
        unit_var = np.asarray(r * v_d, dtype=np.float64)
        unit_var -= 2.0 * c_nd
        unit_var *= r
        unit_var += v_n
        scale += v_n
        # rounding residue, e.g. N = R·D for every unit: exactly 0 (NaN propagates)
        unit_var[unit_var <= ZERO_VARIANCE_RTOL * scale] = 0.0
        unit_var /= mu_d * mu_d
    return RatioEstimate(r, unit_var * inv_n, unit_var, mu_n, mu_d, v_n, v_d, c_nd)
