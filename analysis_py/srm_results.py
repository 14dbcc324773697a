"""``compute_srm``: p-values and flags for the SQL-computed SRM chi-square statistics."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import _arrow as A
from .schemas import SRM_INPUT_SCHEMA, srm_output_schema
from .srm import srm_p_value

DEFAULT_SRM_ALPHA = 0.001


def compute_srm(srm_chi_square) -> pa.Table:
    """Add ``srm_p_value = P(χ²_df ≥ chi_square)`` and ``is_srm = srm_p_value < srm_alpha`` to
    every row of ``srm_chi_square`` (pandas DataFrame or pyarrow Table; one row per
    experiment_id, dimension_name, dimension_value, analysis_date with n_units_total,
    chi_square, degrees_of_freedom, srm_alpha). Every input column is kept (known columns cast
    to :data:`analysis_py.schemas.SRM_INPUT_SCHEMA` types). A null srm_alpha means 0.001.
    Undefined statistics (df < 1, null chi-square, e.g. no units yet) give a null p-value and
    ``is_srm = false``.
    """
    t = A.canonical_order(A.to_table(srm_chi_square), [
        "experiment_id", "dimension_name", "dimension_value", "analysis_date"])
    n = t.num_rows
    chi = A.float_np(A.column(t, "chi_square"), n)
    df = A.float_np(A.column(t, "degrees_of_freedom"), n)
    a = A.float_np(A.column(t, "srm_alpha"), n)
    a = np.where(np.isnan(a), DEFAULT_SRM_ALPHA, a)
    p = srm_p_value(chi, df)
    with np.errstate(invalid="ignore"):
        is_srm = p < a
    schema = srm_output_schema(t.schema)
    arrays = []
    for f in schema:
        if f.name == "srm_p_value":
            arrays.append(A.float_out(p))
        elif f.name == "is_srm":
            arrays.append(A.bool_out(is_srm))
        else:
            arr = A.column(t, f.name)
            if f.name in SRM_INPUT_SCHEMA.names:
                if f.type == pa.date32():
                    arr = A.as_date32(arr, n)
                elif f.type == pa.string():
                    arr = A.as_string(arr, n)
                elif f.type == pa.int64() and pa.types.is_floating(arr.type):
                    arr = A.int_out(A.float_np(arr, n))
                elif arr.type != f.type:
                    arr = pc.cast(arr, f.type)
            arrays.append(arr)
    # required columns that were absent: add them as nulls so the schema is fixed
    missing = [f for f in SRM_INPUT_SCHEMA if f.name not in t.column_names]
    if missing:
        schema = pa.schema(list(schema)[:-2] + missing + list(schema)[-2:])
        arrays = arrays[:-2] + [pa.nulls(n, f.type) for f in missing] + arrays[-2:]
    return pa.Table.from_arrays(arrays, schema=schema)
