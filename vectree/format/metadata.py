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


def id_column(ids: np.ndarray) -> pa.Array:
    """The ids of a block as an Arrow array (int64 or string)."""
    return pa.array(ids.tolist() if ids.dtype == object else ids)


def label_column(labels: np.ndarray | None) -> pa.Array | None:
    """The labels of a block as an Arrow array (None when the block has no labels)."""
    if labels is None:
        return None
    return pa.array(labels.tolist() if labels.dtype == object else labels)


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
