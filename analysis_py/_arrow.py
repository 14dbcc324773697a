"""Internal helpers to move between pandas / pyarrow inputs and numpy arrays."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def to_table(data) -> pa.Table:
    """Accept a pyarrow Table / RecordBatch or a pandas DataFrame (or anything pandas accepts)."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if not isinstance(data, pd.DataFrame):
        data = pd.DataFrame(data)
    return pa.Table.from_pandas(data, preserve_index=False)


def column(table: pa.Table, name: str):
    """The column as a single (combined) pyarrow Array, or None when absent."""
    if name not in table.column_names:
        return None
    col = table.column(name)
    if isinstance(col, pa.ChunkedArray):
        return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()
    return col


def as_string(arr, n: int) -> pa.Array:
    if arr is None:
        return pa.nulls(n, pa.string())
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if arr.type != pa.string():
        if arr.null_count == len(arr):
            return pa.nulls(len(arr), pa.string())
        arr = pc.cast(arr, pa.string())
    return arr


def as_date32(arr, n: int) -> pa.Array:
    if arr is None:
        return pa.nulls(n, pa.date32())
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    t = arr.type
    if t == pa.date32():
        return arr
    if arr.null_count == len(arr):
        return pa.nulls(len(arr), pa.date32())
    if pa.types.is_timestamp(t) or pa.types.is_date64(t):
        return pc.cast(arr, pa.date32(), safe=False)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return pc.cast(pc.cast(arr, pa.string()), pa.date32())
    return pc.cast(arr, pa.date32())


def float_np(arr, n: int) -> np.ndarray:
    """float64 numpy array, nulls -> NaN; absent column -> all NaN."""
    if arr is None:
        return np.full(n, np.nan)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if arr.type != pa.float64():
        arr = pc.cast(arr, pa.float64(), safe=False)
    return arr.to_numpy(zero_copy_only=False)


def bool_np(arr, n: int, default: bool = False) -> np.ndarray:
    if arr is None:
        return np.full(n, default)
    if arr.type != pa.bool_():
        arr = pc.cast(arr, pa.bool_())
    return pc.fill_null(arr, default).to_numpy(zero_copy_only=False).astype(bool)


def date_days(arr, n: int) -> np.ndarray:
    """Days since epoch as float64 (NaN for null)."""
    d = as_date32(arr, n)
    return pc.cast(d, pa.int32()).to_numpy(zero_copy_only=False).astype(np.float64)


def encode(arr, n: int):
    """(codes int64 with -1 for null, dictionary as a pa.string Array)."""
    s = as_string(arr, n)
    enc = pc.dictionary_encode(s)
    codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, enc.dictionary


def lookup(values, dictionary: pa.Array, n: int) -> np.ndarray:
    """Positions of ``values`` in ``dictionary`` (-1 when absent or null)."""
    s = as_string(values, n)
    idx = pc.index_in(s, value_set=dictionary)
    return pc.fill_null(idx, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def combine_codes(*codes: np.ndarray) -> np.ndarray:
    """Non-negative int64 ids of the tuples of code arrays (each code >= -1). Ids are the
    mixed-radix combination when that stays below 4·len (so arrays indexed by id stay small),
    otherwise they are re-densified with a hash factorisation."""
    key = codes[0].astype(np.int64)  # a copy
    key += 1
    hi = int(key.max(initial=0)) + 1
    for c in codes[1:]:
        radix = int(c.max(initial=-1)) + 2
        if hi * radix >= 2**62:
            key = pd.factorize(key)[0].astype(np.int64)
            hi = int(key.max(initial=0)) + 1
        key *= radix  # in place: one temporary for the whole combination
        key += c
        key += 1
        hi *= radix
    if hi > 4 * len(key) + 1024:
        key = pd.factorize(key)[0].astype(np.int64)
    return key


#: take_or_null builds a run-end encoded result when there are at most len / this many runs
_RUNS_PER_ROW_MAX = 16


def take_or_null(arr: pa.Array, idx: np.ndarray) -> pa.Array:
    """arr[idx] with null where idx < 0. Indices in long runs (values repeated along sorted
    keys) take one value per run and expand the runs (Arrow's run-end decoding beats a take)."""
    idx = np.asarray(idx, dtype=np.int64)
    if len(arr) == 0:
        return pa.nulls(len(idx), arr.type)
    n = len(idx)
    if n >= 4096 and n < 2**31:
        change = np.flatnonzero(idx[1:] != idx[:-1]) + 1
        if change.size * _RUNS_PER_ROW_MAX <= n:
            values = take_or_null(arr, idx[np.r_[0, change]])
            ends = pa.array(np.r_[change, n].astype(np.int32))
            return pc.run_end_decode(pa.RunEndEncodedArray.from_arrays(ends, values))
    neg = idx < 0
    if not neg.any():
        return pc.take(arr, pa.array(idx, type=pa.int64()))
    return pc.take(arr, pa.array(np.where(neg, 0, idx), type=pa.int64(), mask=neg))


def float_out(x: np.ndarray) -> pa.Array:
    """float64 Array with NaN / ±inf -> null (zero-copy: the validity bitmap is packed from
    ``isfinite`` and the values buffer is ``x`` itself, so ``x`` must not be modified later)."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    ok = np.isfinite(x)
    if ok.all():
        return pa.array(x, type=pa.float64())
    validity = pa.py_buffer(np.packbits(ok, bitorder="little"))
    return pa.Array.from_buffers(pa.float64(), x.size, [validity, pa.py_buffer(x)])


def int_out(x: np.ndarray) -> pa.Array:
    """int64 Array of float ``x`` (whole numbers) with NaN / ±inf -> null."""
    x = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(x)
    if ok.all():
        return pa.array(x.astype(np.int64), type=pa.int64())
    values = np.where(ok, x, 0).astype(np.int64)
    return pa.Array.from_buffers(pa.int64(), x.size, [pa.py_buffer(np.packbits(ok, bitorder="little")),
                                                      pa.py_buffer(values)])


def labels_out(codes: np.ndarray, labels) -> pa.Array:
    """String Array of labels[codes]; codes < 0 or labels None -> null."""
    dictionary = pa.array(list(labels), type=pa.string())
    return take_or_null(dictionary, np.asarray(codes, dtype=np.int64))


def bool_out(x: np.ndarray, null_mask=None) -> pa.Array:
    return pa.array(np.asarray(x, dtype=bool), type=pa.bool_(), mask=null_mask)


#: _encode_runs hashes only the run heads when at most this share of adjacent values differ
_RUNS_MAX_SHARE = 0.25


def _encode_runs(arr: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(int64 codes with -1 for null, dictionary in order of first appearance), like
    ``pc.dictionary_encode``. Columns made of long runs of one value (sorted or grouped keys) are
    encoded by comparing neighbours and hashing one value per run, which is cheaper."""
    n = len(arr)
    if n >= 4096 and not arr.null_count:
        head = arr.slice(0, 4096)  # cheap sample: are there long runs at all?
        if pc.sum(pc.not_equal(head.slice(1), head.slice(0, 4095))).as_py() <= _RUNS_MAX_SHARE * 4095:
            change = pc.not_equal(arr.slice(1), arr.slice(0, n - 1)).to_numpy(zero_copy_only=False)
            starts = np.r_[0, np.flatnonzero(change) + 1]
            if starts.size <= _RUNS_MAX_SHARE * n:
                enc = pc.dictionary_encode(arr.take(pa.array(starts)))
                run_codes = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
                return np.repeat(run_codes, np.diff(np.r_[starts, n])), enc.dictionary
    enc = pc.dictionary_encode(arr)
    idx = enc.indices
    if idx.null_count:
        idx = pc.fill_null(idx, -1)
    return idx.to_numpy(zero_copy_only=False).astype(np.int64), enc.dictionary


def sort_codes(arr) -> tuple[np.ndarray, pa.Array]:
    """(codes, dictionary) of an Array: int64 codes (-1 for null) numbering the distinct values in
    the ascending order of Arrow's sort (the order :func:`canonical_order` uses), and the distinct
    values in that order. One hash pass over the rows; only the small dictionary is sorted."""
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    codes, dictionary = _encode_runs(arr)
    order = pc.sort_indices(dictionary).to_numpy(zero_copy_only=False).astype(np.int64)
    if np.any(order != np.arange(order.size)):
        rank = np.empty(order.size + 1, dtype=np.int64)
        rank[order] = np.arange(order.size)
        rank[-1] = -1  # codes == -1 (null) stay -1
        codes = rank[codes]
        dictionary = dictionary.take(pa.array(order))
    return codes, dictionary


def sort_permutation(codes: list[np.ndarray], sizes: list[int]) -> np.ndarray | None:
    """Stable permutation sorting rows by the tuple of ``codes`` (each in 0..size-1, or -1 for
    null, which sorts last like Arrow's default), or None when the rows are already sorted.
    Equals ``pc.sort_indices`` of the key columns when the codes come from :func:`sort_codes`."""
    key, hi = None, 1
    for c, size in zip(codes, sizes):
        radix = size + 1
        if hi * radix >= 2**62:  # too wide for one int64 key: a (stable) lexsort of all columns
            cols = [np.where(x < 0, n, x) for x, n in zip(codes, sizes)]
            return np.lexsort(cols[::-1])
        if key is None:
            key = c.astype(np.int64)  # a copy, then updated in place
        else:
            key *= radix
            key += c
        hi *= radix
        neg = c < 0
        if neg.any():
            key[neg] += radix  # null (-1) -> size: sorts last
    if key is None or key.size < 2 or bool(np.all(key[1:] >= key[:-1])):
        return None
    return np.argsort(key, kind="stable")


def canonical_order(table: pa.Table, keys: list[str]) -> pa.Table:
    """Rows sorted by the key columns present in ``table``.

    The pipeline's functions take sets of rows: a warehouse returns them in no particular order
    (parallel scans, another engine), and floating-point reductions and text assembled across
    rows depend on order. Sorting on entry makes every output a function of the rows alone, so
    re-runs, other engines and the outside-dbt runner give byte-identical tables.
    """
    present = [(key, "ascending") for key in keys if key in table.column_names]
    return table.sort_by(present) if present and table.num_rows > 1 else table
