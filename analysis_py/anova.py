"""Two-way ANOVA with interaction (Type II sums of squares) from cell aggregates.

For a factorial experiment with factors A and B the warehouse provides, per cell (level of A,
level of B), ``n``, ``Σy`` and ``Σy²``. That is exactly enough: every model built from the factors
(``B``, ``A``, ``A + B``, ``A + B + A:B``) has a design matrix that is constant within a cell, so
its residual sum of squares is

``RSS(M) = SS_within + Σ_cells n_c (ȳ_c − ŷ_c(M))²``,  ``SS_within = Σ_cells (Σy² − (Σy)²/n)_c``,

where ``ŷ(M)`` is the weighted least-squares fit of the cell means ``ȳ_c`` with weights ``n_c``
(the normal equations ``X'WX β = X'W ȳ`` only involve ``n_c`` and ``Σy_c``). Type II sums of squares
(Fox 2016, *Applied Regression Analysis and Generalized Linear Models*, 3rd ed., §8.2.5;
Langsrud 2003, "ANOVA for unbalanced data: use Type II instead of Type III sums of squares",
Statistics and Computing 13) are the model comparisons

* ``SS(A | B) = RSS(B) − RSS(A + B)``, ``SS(B | A) = RSS(A) − RSS(A + B)``,
* ``SS(A:B | A, B) = RSS(A + B) − RSS(A + B + A:B)``, the full model fitting every cell mean,
* residual ``SS_within`` with ``N − C`` degrees of freedom (``C`` non-empty cells),

computed as squared norms of differences of nested fits (Pythagoras), e.g.
``SS(A | B) = Σ n_c (ŷ_c(A+B) − ŷ_c(B))²``, which avoids subtracting two large RSS. Degrees of
freedom are rank differences (``rank(A+B) − rank(B)`` …), ``F = (SS/df)/(SS_within/df_res)`` and
``p = P(F_{df, df_res} > F)``. With every level combination observed this equals statsmodels
``anova_lm(ols('y ~ C(a)*C(b)', rows).fit(), typ=2)`` (tested on simulated raw rows to 1e-8).

Degenerate designs (never an exception; ``reasons`` says why):

* ``empty_cells``: some level combination has no units. The full model then has ``C`` (not
  ``I·J``) parameters and the interaction ``C − rank(A + B)`` df (the df of the interaction
  contrasts that are estimable); the table is the model comparison above. statsmodels' ``typ=2``
  on raw rows keeps the all-zero interaction column and reports NaN / inconsistent df in this
  case, so it is tested against statsmodels nested-model comparisons instead.
* ``single_level_a`` / ``single_level_b``: the factor has one observed level, its row and the
  interaction have 0 df → NaN F and p (the other factor's row is the one-way ANOVA).
* ``disconnected_design``: ``rank(A + B) < I + J − 1`` (e.g. cells only on the diagonal): main
  effects are partly confounded; df are the rank differences, 0-df rows are NaN.
* ``zero_residual_df`` (one unit per cell) / ``zero_residual_variance``: F and p are NaN.
* ``invalid_input`` (negative / non-finite n, non-finite sums in non-empty cells),
  ``inconsistent_sums`` (Σy² < (Σy)²/n beyond rounding) and ``no_data``: everything NaN.

Rows with the same (A, B) levels are summed first (e.g. one row per day), rows with ``n = 0``
are ignored, and only levels with data count.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from ._common import as_float
from .moments import centered_sum_of_squares, inconsistent_sums


@dataclass(frozen=True)
class AnovaTable:
    """Rows ``A``, ``B``, ``A:B``, ``Residual`` (names from ``factor_names``); F and p are NaN
    for the residual row, like statsmodels."""

    term: tuple
    sum_sq: np.ndarray
    df: np.ndarray
    F: np.ndarray
    p_value: np.ndarray  #: PR(>F)
    reasons: tuple  #: degenerate-design reasons (empty when none)
    n_units: float
    n_cells: int  #: non-empty level combinations
    n_levels: tuple  #: (levels of A, levels of B) with data

    @property
    def status_reason(self):
        """'; '-joined reasons, None when there are none (as in the results tables)."""
        return "; ".join(self.reasons) if self.reasons else None

    def to_dict(self) -> dict:
        return {"term": list(self.term), "sum_sq": self.sum_sq.copy(), "df": self.df.copy(),
                "F": self.F.copy(), "PR(>F)": self.p_value.copy()}

    def to_pandas(self):
        """DataFrame indexed by term with columns sum_sq, df, F, PR(>F) (as statsmodels)."""
        import pandas as pd

        d = self.to_dict()
        return pd.DataFrame({k: d[k] for k in ("sum_sq", "df", "F", "PR(>F)")}, index=d["term"])

    def to_arrow(self):
        """pyarrow Table with columns term, sum_sq, df, F, p_value (NaN → null)."""
        import pyarrow as pa

        def col(x):
            return pa.array(x, type=pa.float64(), from_pandas=True)

        return pa.table({"term": pa.array(list(self.term), type=pa.string()), "sum_sq": col(self.sum_sq),
                         "df": col(self.df), "F": col(self.F), "p_value": col(self.p_value)})


def _nan_table(names, reasons, n_units=np.nan, n_cells=0, n_levels=(0, 0)) -> AnovaTable:
    nan = np.full(4, np.nan)
    return AnovaTable(names, nan.copy(), nan.copy(), nan.copy(), nan.copy(), tuple(reasons), float(n_units),
                      int(n_cells), tuple(n_levels))


def _group_means(codes, n, s, n_groups):
    """Weighted fit of a one-factor model: each cell gets its level's pooled mean."""
    num = np.bincount(codes, weights=s, minlength=n_groups)
    den = np.bincount(codes, weights=n, minlength=n_groups)
    return (num / den)[codes]


def _additive_fit(ia, ib, n, ybar, n_a, n_b):
    """Weighted least-squares fit of ``ȳ ~ 1 + A + B`` on the cells (weights n): (fitted, rank)."""
    C = ia.size
    X = np.zeros((C, 1 + (n_a - 1) + (n_b - 1)))
    X[:, 0] = 1.0
    rows = np.arange(C)
    ma = ia > 0
    X[rows[ma], ia[ma]] = 1.0
    mb = ib > 0
    X[rows[mb], (n_a - 1) + ib[mb]] = 1.0
    sw = np.sqrt(n)
    coef, _, rank, _ = np.linalg.lstsq(X * sw[:, None], ybar * sw, rcond=None)
    return X @ coef, int(rank)


def two_way_anova(level_a, level_b, n, sum_y, sum_y_sq, factor_names=("A", "B")) -> AnovaTable:
    """Two-way ANOVA with interaction, Type II sums of squares, from per-cell ``n, Σy, Σy²``.

    ``level_a``, ``level_b``: the cell's levels (any sortable values, one row per cell; repeated
    (A, B) rows are summed). Returns an :class:`AnovaTable` with rows ``A``, ``B``, ``A:B``,
    ``Residual`` and columns sum_sq, df, F, PR(>F) — identical to statsmodels
    ``anova_lm(ols('y ~ C(a)*C(b)', data).fit(), typ=2)`` on the underlying rows when every level
    combination is observed. See the module docstring for the method and degenerate designs.
    """
    fa, fb = (str(x) for x in factor_names)
    names = (fa, fb, f"{fa}:{fb}", "Residual")
    la = np.asarray(level_a).ravel()
    lb = np.asarray(level_b).ravel()
    n = as_float(n).ravel()
    s = as_float(sum_y).ravel()
    ss = as_float(sum_y_sq).ravel()
    if not (la.size == lb.size == n.size == s.size == ss.size):
        raise ValueError("level_a, level_b, n, sum_y and sum_y_sq must have the same length")
    with np.errstate(invalid="ignore"):
        bad_n = ~np.isfinite(n) | (n < 0)
        used = ~bad_n & (n > 0)
        bad_sums = used & ~(np.isfinite(s) & np.isfinite(ss))
    if np.any(bad_n) or np.any(bad_sums):
        return _nan_table(names, ["invalid_input"])
    la, lb, n, s, ss = la[used], lb[used], n[used], s[used], ss[used]
    if n.size == 0:
        return _nan_table(names, ["no_data"], 0.0)
    # aggregate duplicate (A, B) rows, keep observed levels only
    _, ia_row = np.unique(la, return_inverse=True)
    _, ib_row = np.unique(lb, return_inverse=True)
    ia_row, ib_row = ia_row.ravel(), ib_row.ravel()
    n_a, n_b = int(ia_row.max()) + 1, int(ib_row.max()) + 1
    cell_codes, cell = np.unique(ia_row * n_b + ib_row, return_inverse=True)
    cell = cell.ravel()
    C = cell_codes.size
    n_c = np.bincount(cell, weights=n, minlength=C)
    s_c = np.bincount(cell, weights=s, minlength=C)
    ss_c = np.bincount(cell, weights=ss, minlength=C)
    ia, ib = cell_codes // n_b, cell_codes % n_b
    N = float(n_c.sum())
    if np.any(inconsistent_sums(n_c, s_c, ss_c)):
        return _nan_table(names, ["inconsistent_sums"], N, C, (n_a, n_b))
    ss_within = float(np.sum(centered_sum_of_squares(n_c, s_c, ss_c)))
    # centre the cell means at the grand mean (fits are equivariant; less cancellation)
    grand = float(s_c.sum() / N)
    ybar = s_c / n_c - grand
    s_centred = ybar * n_c
    fit_a = _group_means(ia, n_c, s_centred, n_a)
    fit_b = _group_means(ib, n_c, s_centred, n_b)
    fit_ab, rank_ab = _additive_fit(ia, ib, n_c, ybar, n_a, n_b)
    sum_sq = np.array([
        np.sum(n_c * (fit_ab - fit_b) ** 2),   # SS(A | B)
        np.sum(n_c * (fit_ab - fit_a) ** 2),   # SS(B | A)
        np.sum(n_c * (ybar - fit_ab) ** 2),    # SS(A:B | A, B)
        ss_within,
    ])
    df = np.array([rank_ab - n_b, rank_ab - n_a, C - rank_ab, N - C], dtype=np.float64)
    reasons = []
    if C < n_a * n_b:
        reasons.append("empty_cells")
    if n_a == 1:
        reasons.append("single_level_a")
    if n_b == 1:
        reasons.append("single_level_b")
    if rank_ab < n_a + n_b - 1:
        reasons.append("disconnected_design")
    df_res = df[3]
    if df_res <= 0:
        reasons.append("zero_residual_df")
    elif ss_within <= 0:
        reasons.append("zero_residual_variance")
    F = np.full(4, np.nan)
    p = np.full(4, np.nan)
    if df_res > 0 and ss_within > 0:
        ms_res = ss_within / df_res
        ok = df[:3] > 0
        F[:3][ok] = (sum_sq[:3][ok] / df[:3][ok]) / ms_res
        p[:3][ok] = special.fdtrc(df[:3][ok], df_res, F[:3][ok])
    # a 0-df term has no sum of squares (only rounding noise)
    sum_sq[:3] = np.where(df[:3] > 0, sum_sq[:3], 0.0)
    return AnovaTable(names, sum_sq, df, F, p, tuple(reasons), N, C, (n_a, n_b))
