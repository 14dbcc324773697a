"""Multiple-testing adjustments within groups, vectorised over group ids.

* Holm (1979) "A simple sequentially rejective multiple test procedure", Scand. J. Statist. 6:
  ``p̃_(k) = min(1, max_{j ≤ k} (m − j + 1) p_(j))`` (FWER).
* Benjamini & Hochberg (1995) "Controlling the false discovery rate", JRSS-B 57:
  ``p̃_(k) = min(1, min_{j ≥ k} m p_(j) / j)`` (FDR).

``m`` is the number of non-NaN p-values in the group; NaN p-values are left out of the family
and stay NaN. Results equal ``statsmodels.stats.multitest.multipletests(method='holm'|'fdr_bh')``
applied group by group.

Implementation: rows are scattered into a dense ``(n_groups, max_group_size)`` matrix padded
with NaN (slot = rank within the group in a stable sort by group); each row of the matrix is
sorted and adjusted with ``np.maximum.accumulate`` / ``np.minimum.accumulate`` along axis 1.
Families in an experiment are small (the treatment arms), so the matrix is narrow; wide or very
unbalanced families fall back to a lexsort + pandas group-wise cumulative max/min.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import as_float


def _group_codes(groups, n):
    if groups is None:
        return np.zeros(n, dtype=np.int64)
    g = np.asarray(groups).ravel()
    if g.dtype.kind not in "iub":
        g = pd.factorize(g)[0]
    return g.astype(np.int64, copy=False)


#: widest family handled by the dense path (wider families use the sort-based path)
_MAX_DENSE_WIDTH = 64


def _adjust(p_values, groups, method: str) -> np.ndarray:
    return _adjust_many(p_values, groups, (method,))[0]


def holm_and_benjamini_hochberg(p_values, groups=None) -> tuple[np.ndarray, np.ndarray]:
    """Both adjustments with one grouping / sort (what the pipeline needs)."""
    return _adjust_many(p_values, groups, ("holm", "bh"))


def _adjust_many(p_values, groups, methods) -> list[np.ndarray]:
    shape = np.shape(p_values)
    p = as_float(p_values).ravel()
    n = p.size
    if n == 0:
        return [p.reshape(shape) for _ in methods]
    g = _group_codes(groups, n)
    if g.min() < 0 or g.max() >= n + 1024:  # keep the (group x slot) matrix small
        g = pd.factorize(g)[0].astype(np.int64)
    counts = np.bincount(g)
    if counts.size > 1024 and np.count_nonzero(counts) < counts.size // 2:
        # sparse ids (e.g. mixed-radix codes): renumber the non-empty groups so that the matrix
        # has no empty rows (group numbering does not affect the adjusted values)
        dense = np.cumsum(counts > 0) - 1
        g = dense[g]
        counts = counts[counts > 0]
    n_groups = counts.size
    # Each row's slot (column) within its group: its rank in a stable sort by group.
    order = np.argsort(g, kind="stable")
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    slot = np.empty(n, dtype=np.int64)
    slot[order] = np.arange(n) - np.repeat(starts, counts)
    width = int(counts.max())
    rem = np.zeros(0) if width <= _MAX_DENSE_WIDTH else order
    if rem.size or n_groups * width > 8 * n + 1024:
        return [_adjust_sparse(p, g, method).reshape(shape) for method in methods]
    flat = g * width + slot  # each row's cell in the (group x slot) matrix
    mat = np.full(n_groups * width, np.nan)
    mat[flat] = p
    mat = mat.reshape(n_groups, width)
    col_order = np.argsort(np.where(np.isnan(mat), np.inf, mat), axis=1)  # NaNs last
    ps = np.take_along_axis(mat, col_order, axis=1)
    # each row's cell in the row-sorted matrix (one inverse permutation serves every method)
    rank = np.empty_like(col_order)
    np.put_along_axis(rank, col_order, np.broadcast_to(np.arange(width), col_order.shape), axis=1)
    sorted_flat = g * width + rank.ravel()[flat]
    valid = ~np.isnan(ps)
    m = valid.sum(axis=1, keepdims=True).astype(float)
    j = np.arange(1, width + 1, dtype=float)[None, :]
    results = []
    for method in methods:
        if method == "holm":
            vals = np.where(valid, np.minimum(1.0, (m - j + 1.0) * ps), -np.inf)
            adj = np.maximum.accumulate(vals, axis=1)
        else:
            vals = np.where(valid, np.minimum(1.0, m * ps / j), np.inf)
            adj = np.minimum.accumulate(vals[:, ::-1], axis=1)[:, ::-1]
        adj = np.where(valid, adj, np.nan)
        results.append(adj.ravel()[sorted_flat].reshape(shape))
    return results


def _adjust_sparse(p, g, method):
    valid = np.isfinite(p)
    order = np.lexsort((np.where(valid, p, np.inf), g))
    gs, vs, ps = g[order], valid[order], p[order]
    n = p.size
    starts = np.r_[True, gs[1:] != gs[:-1]]
    gid = np.cumsum(starts) - 1
    rank = np.arange(n) - np.flatnonzero(starts)[gid] + 1.0
    m = np.bincount(gid, weights=vs.astype(float))[gid]
    if method == "holm":
        vals = np.where(vs, np.minimum(1.0, (m - rank + 1.0) * ps), -np.inf)
        adj = pd.Series(vals).groupby(gid).cummax().to_numpy()
    else:
        vals = np.where(vs, np.minimum(1.0, m * ps / rank), np.inf)
        adj = pd.Series(vals[::-1]).groupby(gid[::-1]).cummin().to_numpy()[::-1]
    out = np.empty(n)
    out[order] = np.where(vs, adj, np.nan)
    return out


def holm(p_values, groups=None) -> np.ndarray:
    """Holm step-down adjusted p-values within each group (see module docstring)."""
    return _adjust(p_values, groups, "holm")


def benjamini_hochberg(p_values, groups=None) -> np.ndarray:
    """Benjamini–Hochberg step-up adjusted p-values within each group (see module docstring)."""
    return _adjust(p_values, groups, "bh")
