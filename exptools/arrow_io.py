"""Arrow in and out of DuckDB without a pandas round trip (which changes column types)."""

from __future__ import annotations

import pyarrow as pa


def read_arrow(relation) -> pa.Table:
    """Materialise a DuckDB relation as a pyarrow Table.

    DuckDB >= 1.4 returns a RecordBatchReader from ``.arrow()``; older releases a Table.
    """
    data = relation.arrow()
    if isinstance(data, pa.RecordBatchReader):
        return data.read_all()
    return data
