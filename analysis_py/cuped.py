"""CUPED: variance reduction with a pre-experiment covariate (Deng, Xu, Kohavi & Walker 2013,
"Improving the Sensitivity of Online Controlled Experiments by Utilizing Pre-Experiment Data",
WSDM).

For the two compared arms g ∈ {C, T}:

* θ pooled **within** arms: ``θ = Σ_g (Σxy − ΣxΣy/n)_g / Σ_g (Σx² − (Σx)²/n)_g``
  = ``Σ_g (n_g−1)s_XY,g / Σ_g (n_g−1)s²_X,g``. With this θ the CUPED difference equals exactly the
  OLS coefficient of T in ``y ~ 1 + T + x`` (Frisch–Waugh–Lovell), and is invariant to a shift
  of the arms' covariate means (an all-units pooled θ is not).
* adjusted arm means ``Ȳ_g − θ(X̄_g − X̄_pooled)`` with ``X̄_pooled`` over both arms;
* estimator variance of each adjusted mean ``(s²_Y + θ²s²_X − 2θ s_XY)_g / n_g`` (θ treated as
  known, the usual large-sample approximation of the paper, §3.2);
* the difference is tested with a normal z-test; variance reduction
  ``1 − Var(adjusted Δ)/Var(unadjusted Δ)`` with both variances from the same ddof = 1 moments.
* ``Σ_g SS_X,g == 0`` (constant covariate) → θ = 0 (flag ``zero_covariate_variance``): the
  adjusted estimate equals the unadjusted one.

Ratio / mean metrics: each arm's ratio ``R = ΣN/ΣD`` and pre-period ratio ``R_x = ΣN_pre/ΣD_pre``
are linearised (Deng et al. 2018, §3.4 "CUPED for ratio metrics"):
``L_i = (N_i − R·D_i)/μ_D``, ``M_i = (N_pre,i − R_x·D_pre,i)/μ_Dpre`` whose within-arm variances and
covariance follow from the 10 second moments; the same adjustment is then applied with
Ȳ_g = R_g, X̄_g = R_x,g and X̄_pooled = ΣN_pre/ΣD_pre over both arms.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._common import as_float, safe_divide
from .means import z_test_difference
from .moments import ZERO_VARIANCE_RTOL, ArmSums, cov_r, reciprocals, var_r


@dataclass(frozen=True)
class CupedResult:
    theta: np.ndarray
    mean_control: np.ndarray  #: adjusted control mean (ratio)
    mean_treatment: np.ndarray
    variance_control: np.ndarray  #: estimator variance of the adjusted control mean
    variance_treatment: np.ndarray
    estimate: np.ndarray  #: adjusted treatment − control
    std_error: np.ndarray
    statistic: np.ndarray
    p_value: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    variance_reduction: np.ndarray
    zero_covariate_variance: np.ndarray  #: bool: θ forced to 0
    computable: np.ndarray  #: bool: all inputs present and n ≥ 2 in both arms


def cuped_from_moments(
    n_control, mean_y_control, mean_x_control, var_y_control, var_x_control, cov_xy_control,
    n_treatment, mean_y_treatment, mean_x_treatment, var_y_treatment, var_x_treatment, cov_xy_treatment,
    x_pooled=None, alpha=0.05, alternative: str = "two-sided",
) -> CupedResult:
    """CUPED from per-arm means and sample (co)variances (ddof = 1); see module docstring.
    ``x_pooled`` defaults to the n-weighted mean of the two arms' covariate means."""
    nc, myc, mxc, vyc, vxc, cxyc, nt, myt, mxt, vyt, vxt, cxyt = np.broadcast_arrays(*(as_float(a) for a in (
        n_control, mean_y_control, mean_x_control, var_y_control, var_x_control, cov_xy_control,
        n_treatment, mean_y_treatment, mean_x_treatment, var_y_treatment, var_x_treatment, cov_xy_treatment)))
    if x_pooled is None:
        x_pooled = safe_divide(nc * mxc + nt * mxt, nc + nt)
    x_pooled = as_float(x_pooled)
    enough = (nc >= 2) & (nt >= 2)
    wc = nc - 1.0
    wt = nt - 1.0
    sxx = wc * vxc + wt * vxt
    sxy = wc * cxyc + wt * cxyt
    zero_x = enough & (sxx == 0)  # constant covariate in both arms (variances are clipped >= 0)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        theta = np.where(zero_x, 0.0, sxy / np.where(sxx > 0, sxx, np.nan))
        theta = np.where(enough, theta, np.nan)
        adj_c = myc - theta * (mxc - x_pooled)
        adj_t = myt - theta * (mxt - x_pooled)
        t2 = theta * theta
        uvc = np.asarray(vyc + t2 * vxc - 2.0 * theta * cxyc, dtype=np.float64)
        uvt = np.asarray(vyt + t2 * vxt - 2.0 * theta * cxyt, dtype=np.float64)
        uvc[uvc <= ZERO_VARIANCE_RTOL * (vyc + t2 * vxc)] = 0.0  # rounding residue -> exactly 0
        uvt[uvt <= ZERO_VARIANCE_RTOL * (vyt + t2 * vxt)] = 0.0
        var_c = np.asarray(uvc / nc, dtype=np.float64)
        var_t = np.asarray(uvt / nt, dtype=np.float64)
    computable = np.isfinite(adj_c) & np.isfinite(adj_t) & np.isfinite(var_c) & np.isfinite(var_t)
    zero_x &= computable
    var_c[~computable] = np.nan
    var_t[~computable] = np.nan
    theta = np.where(computable, theta, np.nan)
    z = z_test_difference(adj_c, var_c, adj_t, var_t, alpha=alpha, alternative=alternative)
    with np.errstate(invalid="ignore", divide="ignore"):
        var_unadj = vyc / nc + vyt / nt
        vr = np.where(var_unadj > 0, 1.0 - (var_c + var_t) / var_unadj, np.nan)
    return CupedResult(theta, adj_c, adj_t, var_c, var_t, z.estimate, z.std_error, z.statistic,
                       z.p_value, z.ci_lower, z.ci_upper, vr, zero_x, computable)


def cuped_means(
    n_control, sum_y_control, sum_y_sq_control, sum_x_control, sum_x_sq_control, sum_xy_control,
    n_treatment, sum_y_treatment, sum_y_sq_treatment, sum_x_treatment, sum_x_sq_treatment, sum_xy_treatment,
    alpha=0.05, alternative: str = "two-sided",
) -> CupedResult:
    """CUPED for a difference in means (conversion / count / sum) from per-arm sums of y, y², x,
    x², xy."""
    args = [as_float(a) for a in (n_control, sum_y_control, sum_y_sq_control, sum_x_control, sum_x_sq_control, sum_xy_control)]
    argt = [as_float(a) for a in (n_treatment, sum_y_treatment, sum_y_sq_treatment, sum_x_treatment, sum_x_sq_treatment, sum_xy_treatment)]

    def moments(n, sy, syy, sx, sxx, sxy):
        inv_n, inv_nm1 = reciprocals(n)
        return (n, sy * inv_n, sx * inv_n, var_r(sy, syy, inv_n, inv_nm1), var_r(sx, sxx, inv_n, inv_nm1),
                cov_r(sx, sy, sxy, inv_n, inv_nm1))

    return cuped_from_moments(*moments(*args), *moments(*argt), alpha=alpha, alternative=alternative)


@dataclass(frozen=True)
class LinearizedRatioMoments:
    ratio: np.ndarray  #: R = ΣN/ΣD
    pre_ratio: np.ndarray  #: R_x = ΣN_pre/ΣD_pre
    var_l: np.ndarray  #: sample variance of L_i = (N_i − R D_i)/μ_D
    var_m: np.ndarray  #: sample variance of M_i = (N_pre,i − R_x D_pre,i)/μ_Dpre
    cov_lm: np.ndarray  #: sample covariance of L and M


def linearized_ratio_moments(arm: ArmSums) -> LinearizedRatioMoments:
    """Second moments of the delta-method linearisations of an arm's post- and pre-period
    ratios (all 10 second moments of (N, D, N_pre, D_pre) are used):
    ``s²_L = (s²_N − 2R s_ND + R² s²_D)/μ_D²``, ``s²_M`` likewise with the pre-period moments, and
    ``s_LM = (s_N,Npre − R_x s_N,Dpre − R s_D,Npre + R R_x s_D,Dpre)/(μ_D μ_Dpre)``."""
    n = as_float(arm.n_units)
    f = lambda name: as_float(getattr(arm, name))  # noqa: E731
    sn, sd, spn, spd = f("sum_num"), f("sum_den"), f("sum_pre_num"), f("sum_pre_den")
    inv_n, inv_nm1 = reciprocals(n)
    r = safe_divide(sn, sd)
    rx = safe_divide(spn, spd)
    mu_d = sd * inv_n
    mu_pd = spd * inv_n
    v_n = var_r(sn, f("sum_num_sq"), inv_n, inv_nm1)
    v_d = var_r(sd, f("sum_den_sq"), inv_n, inv_nm1)
    c_nd = cov_r(sn, sd, f("sum_num_den"), inv_n, inv_nm1)
    v_pn = var_r(spn, f("sum_pre_num_sq"), inv_n, inv_nm1)
    v_pd = var_r(spd, f("sum_pre_den_sq"), inv_n, inv_nm1)
    c_pnpd = cov_r(spn, spd, f("sum_pre_num_pre_den"), inv_n, inv_nm1)
    c_n_pn = cov_r(sn, spn, f("sum_num_pre_num"), inv_n, inv_nm1)
    c_n_pd = cov_r(sn, spd, f("sum_num_pre_den"), inv_n, inv_nm1)
    c_d_pn = cov_r(sd, spn, f("sum_den_pre_num"), inv_n, inv_nm1)
    c_d_pd = cov_r(sd, spd, f("sum_den_pre_den"), inv_n, inv_nm1)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        var_l = np.asarray(v_n - 2.0 * r * c_nd + r * r * v_d, dtype=np.float64)
        var_l[var_l <= ZERO_VARIANCE_RTOL * (v_n + r * r * v_d)] = 0.0
        var_l = var_l / (mu_d * mu_d)
        var_m = np.asarray(v_pn - 2.0 * rx * c_pnpd + rx * rx * v_pd, dtype=np.float64)
        var_m[var_m <= ZERO_VARIANCE_RTOL * (v_pn + rx * rx * v_pd)] = 0.0
        var_m = var_m / (mu_pd * mu_pd)
        cov_lm = (c_n_pn - rx * c_n_pd - r * c_d_pn + r * rx * c_d_pd) / (mu_d * mu_pd)
    return LinearizedRatioMoments(r, rx, var_l, var_m, cov_lm)


def cuped_ratio(control: ArmSums, treatment: ArmSums, alpha=0.05, alternative: str = "two-sided") -> CupedResult:
    """CUPED for ratio / mean metrics via the delta-method linearisation (module docstring)."""
    lc = linearized_ratio_moments(control)
    lt = linearized_ratio_moments(treatment)
    x_pooled = safe_divide(as_float(control.sum_pre_num) + as_float(treatment.sum_pre_num),
                           as_float(control.sum_pre_den) + as_float(treatment.sum_pre_den))
    return cuped_from_moments(
        control.n_units, lc.ratio, lc.pre_ratio, lc.var_l, lc.var_m, lc.cov_lm,
        treatment.n_units, lt.ratio, lt.pre_ratio, lt.var_l, lt.var_m, lt.cov_lm,
        x_pooled=x_pooled, alpha=alpha, alternative=alternative,
    )


__all__ = ["CupedResult", "LinearizedRatioMoments", "cuped_from_moments", "cuped_means",
           "cuped_ratio", "linearized_ratio_moments"]
