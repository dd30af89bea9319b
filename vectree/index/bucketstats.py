"""Per-bucket filter statistics: what a bucket's ``id``, ``label`` and metadata fields can hold.

The build (and compaction, for the buckets it rewrites) stores one small dict per bucket in the
index, so a filtered search can rule a bucket out without fetching it
(:mod:`vectree.collection.prune`)::

    {"n": rows, "fields": {name: {"type": "int64", "count": rows with a value,
                                  "min": v, "max": v,          # when the values are ordered and short
                                  "values": [v, ...]}}}        # every distinct value, when at most MAX_VALUES

Values are stored as JSON: numbers, booleans and strings as they are; timestamps and dates as
their integer Arrow value (seconds, days...) next to the type they are read back with. A field
whose type cannot be read back (nested, all null, time zones) is recorded with its count only, so
a filter on it never rules the bucket out. Statistics only ever rule out: after deletes they
describe a superset of a bucket's live rows, which is still correct.

>>> import numpy as np
>>> from vectree.format.bucket import Rows
>>> rows = Rows(ids=np.array([3, 9]), vectors=np.zeros((2, 1), np.float32),
...             labels=np.array(["a", "b"], dtype=object), metadata=['{"y": 2020}', '{"y": 2024}'])
>>> s = bucket_stats(rows); s["fields"]["y"]["min"], s["fields"]["y"]["max"], s["fields"]["label"]["values"]
(2020, 2024, ['a', 'b'])
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from vectree.errors import CorruptionError, InvalidInputError
from vectree.format.arrays import int_values, valid_mask
from vectree.format.bucket import Rows
from vectree.format.metadata import id_column, label_column, metadata_table

STATS_FORMAT = 1
MAX_VALUES = 64  # distinct values kept per field (a field with more keeps only its min and max)
MAX_STRING = 64  # characters: longer strings are not kept (neither as min/max nor as values)


def bucket_stats(rows: Rows) -> dict[str, Any] | None:
    """The statistics of one bucket's rows (None when its metadata cannot be decoded: never ruled out)."""
    n = len(rows.ids)
    columns: dict[str, pa.Array] = {"id": id_column(rows.ids)}
    labels = label_column(rows.labels)
    if labels is not None:
        columns["label"] = labels
    try:
        table = metadata_table(rows.metadata, n)
    except InvalidInputError:
        return None
    for name in table.column_names:
        if name not in ("id", "label"):
            columns[name] = table.column(name).combine_chunks()
    return {"n": n, "fields": {name: _field(col) for name, col in columns.items()}}


def _field(col: pa.Array) -> dict[str, Any]:
    typ = col.type
    out: dict[str, Any] = {"type": str(typ), "count": len(col) - col.null_count}
    if out["count"] == 0 or stats_type(str(typ)) is None:
        return out
    if pa.types.is_integer(typ):
        # ids and integer labels (every bucket has them, some rows without a label) in numpy: the same
        # statistics without importing pyarrow.compute, whose library code is 11 MB of a building
        # process's resident memory
        values_np = int_values(col)
        values_np = np.unique(values_np if col.null_count == 0 else values_np[valid_mask(col)])
        out["min"], out["max"] = int(values_np[0]), int(values_np[-1])
        if len(values_np) <= MAX_VALUES:
            out["values"] = [int(v) for v in values_np]
        return out
    import pyarrow.compute as pc  # (here, not at the top: reading an index must not import it, ~30 ms)

    if pa.types.is_floating(typ) and pc.any(pc.is_nan(col)).as_py():
        return out  # NaN compares false with everything: min and max would not bound it
    values = pc.unique(col.drop_null())
    if pa.types.is_string(typ) and pc.max(pc.utf8_length(values)).as_py() > MAX_STRING:
        return out
    lo_hi = pc.min_max(values)
    out["min"], out["max"] = _plain(lo_hi["min"]), _plain(lo_hi["max"])
    if len(values) <= MAX_VALUES:
        out["values"] = sorted(_plain(v) for v in values)
    return out


def _plain(scalar: pa.Scalar) -> Any:
    """A JSON value: timestamps and dates by their integer Arrow value."""
    if pa.types.is_timestamp(scalar.type) or pa.types.is_date(scalar.type):
        return int(scalar.cast(pa.int64() if pa.types.is_timestamp(scalar.type) else pa.int32()).as_py())
    value = scalar.as_py()
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInputError(f"a non-finite float {value!r} in a bucket's statistics")
    return value


def stats_type(name: str) -> pa.DataType | None:
    """The Arrow type statistics recorded as ``name`` are read back with (None: not read back).

    >>> stats_type("timestamp[s]"), stats_type("list<item: int64>")
    (TimestampType(timestamp[s]), None)
    """
    try:
        typ = pa.type_for_alias(name)
    except ValueError:
        return None
    if pa.types.is_timestamp(typ) and typ.tz is not None:
        return None
    ok = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean, pa.types.is_string)
    if any(f(typ) for f in ok) or pa.types.is_timestamp(typ) or pa.types.is_date32(typ):
        return typ
    return None


def stats_array(values: list, typ: pa.DataType) -> pa.Array:
    """Stored statistic values back as an Arrow array of the column's type."""
    if pa.types.is_timestamp(typ):
        return pa.array(values, pa.int64()).cast(typ)
    if pa.types.is_date32(typ):
        return pa.array(values, pa.int32()).cast(typ)
    return pa.array(values, typ)


def check_stats(stats: Any, n_buckets: int) -> list[dict | None] | None:
    """Stored statistics as read from an index: one dict (or None) per bucket, or None if not stored."""
    if stats is None:
        return None
    if not isinstance(stats, dict) or stats.get("format") != STATS_FORMAT:
        return None  # another format of statistics: read as if none were stored
    per = stats.get("buckets")
    if not isinstance(per, list) or len(per) != n_buckets:
        return None
    return per


class StoredStats(Sequence):
    """The per-bucket statistics of a stored index, decoded from their JSON on first use.

    Only filtered searches and compaction read them, and decoding is most of an index's read time
    (11 of 15 ms at 964 buckets, growing with the bucket count), which a cold unfiltered query
    would pay for nothing. Statistics in a format this version does not read behave as none stored:
    every bucket ``None``, never ruled out.

    >>> s = StoredStats(b'{"format": 1, "buckets": [{"n": 2, "fields": {}}, null]}', 2)
    >>> len(s), s[0]["n"], s[1]
    (2, 2, None)
    """

    def __init__(self, text: bytes, n_buckets: int) -> None:
        self.text = text
        self._n = n_buckets
        self._list: list[dict | None] | None = None

    def _decoded(self) -> list[dict | None]:
        if self._list is None:
            try:
                stats = json.loads(self.text)
            except ValueError as exc:
                raise CorruptionError(f"the index's bucket statistics cannot be decoded: {exc}") from exc
            self._list = check_stats(stats, self._n) or [None] * self._n
        return self._list

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):  # noqa: ANN001, ANN204 - Sequence's signature (an int or a slice)
        return self._decoded()[i]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]  # equal to lists, so unhashable as they are


def stats_text(stats: Sequence[dict | None]) -> bytes:
    """The stored JSON of per-bucket statistics (the text a :class:`StoredStats` was read from, if unchanged).

    >>> StoredStats(stats_text([{"n": 1, "fields": {}}]), 1)[0]
    {'fields': {}, 'n': 1}
    """
    if isinstance(stats, StoredStats):
        return stats.text
    return json.dumps({"format": STATS_FORMAT, "buckets": list(stats)}, sort_keys=True, separators=(",", ":")).encode()
