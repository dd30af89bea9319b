"""The columns of a block of rows as a filter reads them: ``id``, ``label`` and each metadata field.

One decoding for both readers of these columns, so they can never disagree: the per-row filter mask
(:mod:`vectree.collection.filters`) and the per-bucket statistics the build stores in the index
(:mod:`vectree.index.bucketstats`). Metadata JSON is decoded with ``pyarrow.json`` (ISO dates such
as "2026-01-31" become timestamps).

>>> metadata_table(['{"n": 1, "d": "2026-01-31"}', None], 2).schema.types
[DataType(int64), TimestampType(timestamp[s])]
"""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.json as pj

from vectree.errors import InvalidInputError
from vectree.format.arrays import numeric_array, string_array


def id_column(ids: np.ndarray) -> pa.Array:
    """The ids of a block as an Arrow array (int64 or string), built without ``pa.array`` (which imports
    pandas: :mod:`vectree.format.arrays`)."""
    if ids.dtype == object:
        return string_array([str(i) for i in ids])
    return numeric_array(ids) if ids.dtype.kind in "iuf" else pa.array(ids)


def label_column(labels: np.ndarray | None) -> pa.Array | None:
    """The labels of a block as an Arrow array (None when the block has no labels): int64 or string,
    null where a label is missing."""
    if labels is None:
        return None
    if labels.dtype != object:
        return numeric_array(labels) if labels.dtype.kind in "iuf" else pa.array(labels)
    present = [v for v in labels if v is not None]
    if present and all(isinstance(v, str) for v in present):
        return string_array(labels.tolist())
    if present and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in present):
        mask = np.array([v is None for v in labels], dtype=bool)
        return numeric_array(np.where(mask, 0, labels).astype(np.int64), pa.int64(), mask=mask)
    return pa.array(labels.tolist())


def metadata_table(metadata: list[str | None] | None, n: int) -> pa.Table:
    """The metadata JSON of ``n`` rows as a table, one column per field (rows without it: null)."""
    if metadata is None:
        return pa.table({})
    lines = "\n".join(m if m else "{}" for m in metadata).encode()
    try:
        table = pj.read_json(io.BytesIO(lines), read_options=pj.ReadOptions(block_size=max(1 << 20, 2 * len(lines))))
    except pa.ArrowInvalid as exc:
        raise InvalidInputError(
            f"metadata of a bucket cannot be filtered (a field holds values of mixed types?): "
            f"{str(exc).splitlines()[0]}"
        ) from None
    if table.num_rows != n:
        raise InvalidInputError(f"metadata of a bucket decoded to {table.num_rows} rows, expected {n}")
    return table
