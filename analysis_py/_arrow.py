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
    key = codes[0].astype(np.int64) + 1
    hi = int(key.max(initial=0)) + 1
    for c in codes[1:]:
        radix = int(c.max(initial=-1)) + 2
        if hi * radix >= 2**62:
            key = pd.factorize(key)[0].astype(np.int64)
            hi = int(key.max(initial=0)) + 1
        key = key * radix + (c.astype(np.int64) + 1)
        hi *= radix
    if hi > 4 * len(key) + 1024:
        key = pd.factorize(key)[0].astype(np.int64)
    return key


def take_or_null(arr: pa.Array, idx: np.ndarray) -> pa.Array:
    """arr[idx] with null where idx < 0."""
    idx = np.asarray(idx, dtype=np.int64)
    if len(arr) == 0:
        return pa.nulls(len(idx), arr.type)
    neg = idx < 0
    ind = pa.array(np.where(neg, 0, idx), type=pa.int64(), mask=neg if neg.any() else None)
    return pc.take(arr, ind)


def float_out(x: np.ndarray) -> pa.Array:
    """float64 Array with NaN / ±inf -> null."""
    x = np.asarray(x, dtype=np.float64)
    return pa.array(x, type=pa.float64(), mask=~np.isfinite(x))


def int_out(x: np.ndarray) -> pa.Array:
    x = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(x)
    return pa.array(np.where(ok, x, 0).astype(np.int64), type=pa.int64(), mask=~ok)


def labels_out(codes: np.ndarray, labels) -> pa.Array:
    """String Array of labels[codes]; codes < 0 or labels None -> null."""
    dictionary = pa.array(list(labels), type=pa.string())
    return take_or_null(dictionary, np.asarray(codes, dtype=np.int64))


def bool_out(x: np.ndarray, null_mask=None) -> pa.Array:
    return pa.array(np.asarray(x, dtype=bool), type=pa.bool_(), mask=null_mask)


def canonical_order(table: pa.Table, keys: list[str]) -> pa.Table:
    """Rows sorted by the key columns present in ``table``.

    The pipeline's functions take sets of rows: a warehouse returns them in no particular order
    (parallel scans, another engine), and floating-point reductions and text assembled across
    rows depend on order. Sorting on entry makes every output a function of the rows alone, so
    re-runs, other engines and the outside-dbt runner give byte-identical tables.
    """
    present = [(key, "ascending") for key in keys if key in table.column_names]
    return table.sort_by(present) if present and table.num_rows > 1 else table
