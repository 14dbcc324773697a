"""Moments (mean, variance, covariance) from sufficient statistics.

All functions take per-group sums (numpy arrays, broadcast together) and never raise:
``n = 0`` gives NaN means, ``n <= ddof`` gives NaN variances.

Numerical precision
-------------------
The centred sum of squares is computed as ``SS = Σy² − (Σy)²/n`` ("textbook" one-pass formula,
see Chan, Golub & LeVeque 1983, "Algorithms for computing the sample variance"). Its absolute
rounding error is a few ulps of ``Σy²``, so the relative error of the variance is roughly
``ε · Σy² / SS ≈ ε · (1 + ȳ²/s²)`` with ``ε = 2.2e-16``: values ``~1e6`` with ``s ~ 1`` lose about
12 of 16 digits (relative error ~1e-4), values ``~1e8`` with ``s ~ 1`` are meaningless.
Because only the sums are available the loss cannot be undone here; the SQL side should centre
(subtract a per-metric shift) before squaring if such metrics exist. :func:`variance_condition`
returns ``Σy² / SS`` so callers can flag precision loss (``> PRECISION_LOSS_CONDITION`` = 1e8), and
``SS <= 1e-12·Σy²`` (condition number ≥ 1e12, i.e. |mean|/sd ≳ 1e6, or negative rounding residue)
is set to exactly 0: such data is reported as zero variance rather than with a meaningless tiny
positive variance that would make any difference look infinitely significant.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._common import as_float, safe_divide

#: Σy²/SS above this: fewer than ~8 significant digits may remain (informational flag).
PRECISION_LOSS_CONDITION = 1e8
#: SS <= ZERO_VARIANCE_RTOL * Σy² is indistinguishable from rounding noise: treated as exactly 0
#: (so constant data gives zero variance, never a spuriously tiny positive one).
ZERO_VARIANCE_RTOL = 1e-12
#: SS < -INCONSISTENT_TOLERANCE * Σy² cannot be rounding: the sums are inconsistent.
INCONSISTENT_TOLERANCE = 1e-6


def mean_from_sums(n, s) -> np.ndarray:
    """Sample mean ``Σy / n`` (NaN when ``n == 0``)."""
    return safe_divide(s, n)


def centered_sum_of_squares(n, s, ss) -> np.ndarray:
    """``Σ(y − ȳ)² = Σy² − (Σy)²/n``, negative rounding residue clipped to 0; NaN if n == 0."""
    n, s, ss = np.broadcast_arrays(as_float(n), as_float(s), as_float(ss))
    with np.errstate(invalid="ignore", divide="ignore"):
        css = ss - s * safe_divide(s, n)
        return np.where(css <= ZERO_VARIANCE_RTOL * np.abs(ss), 0.0, css)


def centered_cross_product(n, sx, sy, sxy) -> np.ndarray:
    """``Σ(x − x̄)(y − ȳ) = Σxy − ΣxΣy/n`` (no clipping: it may be negative); NaN if n == 0."""
    n, sx, sy, sxy = np.broadcast_arrays(as_float(n), as_float(sx), as_float(sy), as_float(sxy))
    return sxy - sx * safe_divide(sy, n)


def variance_from_sums(n, s, ss, ddof: int = 1) -> np.ndarray:
    """Sample variance ``(Σy² − (Σy)²/n) / (n − ddof)``; NaN when ``n <= ddof``."""
    n = as_float(n)
    return safe_divide(centered_sum_of_squares(n, s, ss), np.where(n > ddof, n - ddof, 0.0))


def covariance_from_sums(n, sx, sy, sxy, ddof: int = 1) -> np.ndarray:
    """Sample covariance ``(Σxy − ΣxΣy/n) / (n − ddof)``; NaN when ``n <= ddof``."""
    n = as_float(n)
    return safe_divide(centered_cross_product(n, sx, sy, sxy), np.where(n > ddof, n - ddof, 0.0))


def variance_condition(n, s, ss) -> np.ndarray:
    """``Σy² / Σ(y − ȳ)²``: the factor by which float64 rounding error is amplified in the
    variance (inf for zero variance with non-zero values, NaN for all-zero data)."""
    n, s, ss = np.broadcast_arrays(as_float(n), as_float(s), as_float(ss))
    with np.errstate(invalid="ignore", divide="ignore"):
        css = ss - s * safe_divide(s, n)
        return np.where(css > 0, ss / np.where(css > 0, css, 1.0), np.where(ss > 0, np.inf, np.nan))


def inconsistent_sums(n, s, ss) -> np.ndarray:
    """True where ``Σy² < (Σy)²/n`` by more than rounding can explain (Cauchy–Schwarz violated)."""
    n, s, ss = np.broadcast_arrays(as_float(n), as_float(s), as_float(ss))
    with np.errstate(invalid="ignore", divide="ignore"):
        css = ss - s * safe_divide(s, n)
        return css < -INCONSISTENT_TOLERANCE * np.abs(ss)


_SUM_FIELDS = (
    "sum_num", "sum_num_sq", "sum_den", "sum_den_sq", "sum_num_den",
    "sum_pre_num", "sum_pre_num_sq", "sum_pre_den", "sum_pre_den_sq", "sum_pre_num_pre_den",
    "sum_num_pre_num", "sum_num_pre_den", "sum_den_pre_num", "sum_den_pre_den",
)



@dataclass(frozen=True)
class ArmSums:
    """Sufficient statistics of one arm (arrays broadcast together), named as in
    ``fct_arm_statistics``. Missing moments may be NaN (e.g. den for count metrics)."""

    n_units: np.ndarray
    sum_num: np.ndarray
    sum_num_sq: np.ndarray
    sum_den: np.ndarray = field(default=np.nan)
    sum_den_sq: np.ndarray = field(default=np.nan)
    sum_num_den: np.ndarray = field(default=np.nan)
    sum_pre_num: np.ndarray = field(default=np.nan)
    sum_pre_num_sq: np.ndarray = field(default=np.nan)
    sum_pre_den: np.ndarray = field(default=np.nan)
    sum_pre_den_sq: np.ndarray = field(default=np.nan)
    sum_pre_num_pre_den: np.ndarray = field(default=np.nan)
    sum_num_pre_num: np.ndarray = field(default=np.nan)
    sum_num_pre_den: np.ndarray = field(default=np.nan)
    sum_den_pre_num: np.ndarray = field(default=np.nan)
    sum_den_pre_den: np.ndarray = field(default=np.nan)

    @classmethod
    def from_mapping(cls, m, index=None) -> "ArmSums":
        """Build from a mapping of column name -> array (missing columns become NaN),
        optionally taking rows ``index``."""
        def get(name):
            if name not in m:
                return np.nan
            a = as_float(m[name])
            return a if index is None else a[index]
        return cls(get("n_units"), *(get(f) for f in _SUM_FIELDS))


# ---- lean internal helpers (fewer temporaries; used by the vectorised pipeline) ---------------
def reciprocals(n):
    """(1/n, 1/(n − 1)) with NaN where n <= 0 resp. n <= 1."""
    n = as_float(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_n = np.where(n > 0, 1.0 / n, np.nan)
        inv_nm1 = np.where(n > 1, 1.0 / (n - 1.0), np.nan)
    return inv_n, inv_nm1


def var_r(s, ss, inv_n, inv_nm1) -> np.ndarray:
    """Sample variance from sums given precomputed reciprocals (clipped at 0)."""
    t = np.asarray(np.multiply(s, s) * inv_n, dtype=np.float64)
    t = np.subtract(ss, t, out=t) if t.ndim else np.asarray(ss - t)
    with np.errstate(invalid="ignore"):
        t = np.where(t <= ZERO_VARIANCE_RTOL * np.abs(ss), 0.0, t)
    return np.asarray(t * inv_nm1, dtype=np.float64)


def cov_r(sx, sy, sxy, inv_n, inv_nm1) -> np.ndarray:
    """Sample covariance from sums given precomputed reciprocals."""
    return np.asarray((sxy - np.multiply(sx, sy) * inv_n) * inv_nm1, dtype=np.float64)
