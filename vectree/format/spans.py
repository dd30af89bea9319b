"""Where a bucket file keeps what a plain search reads: its id and vector columns, as one byte span.

A bucket file (:mod:`vectree.format.bucket`) is an Arrow IPC file with one record batch whose body
holds the buffers column by column: ``id`` first, then ``vector``, then ``label``, ``metadata`` and
``code`` when present. For int64 ids the id values and the vector values are two adjacent buffers, so
one ranged read of ``[start, end)`` brings both, and nothing of the metadata. A :class:`ColumnSpan`
records, at write time, that span, where each column sits in it, and the sha256 of its bytes
(the file's fingerprint covers the whole file, which a ranged read does not have).

Spans are stored per bucket in the index (:class:`vectree.index.index.Index`, field
``bucket_spans``; see :func:`pack_spans`): a reader that has the index can fetch the probed buckets'
spans with no footer read first. Only buckets of the plain shape get a span: int ids, no labels
(a search returns them), no codes (a bucket with codes records a code span instead,
:mod:`vectree.format.codespans`); others, and every bucket of an index written before spans existed,
are read whole, as before.

Array layout of ``bucket_spans`` (int64, one row per bucket, -1 in ``start`` for "no span")::

    start, end, id_offset, vector_offset, vector_width   (offsets relative to start; width 2 or 4)

and ``bucket_span_digests`` (uint8, (n_buckets, 32)): the sha256 of each span's bytes.

>>> import numpy as np
>>> from vectree.format.bucket import Rows, encode_rows
>>> data, _ = encode_rows(Rows(ids=np.arange(3), vectors=np.ones((3, 2), np.float32), metadata=['{"a":1}'] * 3))
>>> span = column_span(data)
>>> rows = rows_from_span(data[span.start : span.end], span, n=3, dim=2)
>>> rows.ids.tolist(), rows.vectors.tolist()[0], span.end - span.start < len(data)
([0, 1, 2], [1.0, 1.0], True)
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from vectree.errors import CorruptionError
from vectree.format.bucket import Rows

SPAN_FIELDS = 5
_SEARCH_COLUMNS = {"id", "vector", "metadata"}  # a file with only these can be searched from its span


class ColumnSpan(NamedTuple):
    """The byte span ``[start, end)`` of a bucket file holding its ids and vectors, and its sha256.

    A named tuple: immutable, as a frozen dataclass was, and ~5x cheaper to make (one for each bucket a
    query reads as its span, :class:`~vectree.format.codespans.StoredSpans`).
    """

    start: int
    end: int
    id_offset: int  # relative to start
    vector_offset: int  # relative to start
    vector_width: int  # bytes per value: 4 (float32) or 2 (float16)
    digest: bytes  # sha256 of the span's bytes

    @property
    def nbytes(self) -> int:
        return self.end - self.start


def offset_in(base: int, size: int, address: int, nbytes: int) -> int | None:
    """Where memory at ``address`` (``nbytes`` long) sits in a buffer at ``base`` of ``size`` bytes; None
    when it is not inside it (Arrow copied it elsewhere: no span)."""
    at = address - base
    return at if at >= 0 and at + nbytes <= size else None


def single_batch(data: bytes | memoryview) -> pa.RecordBatch | None:
    """The one record batch of an encoded bucket file when its rows can have a span: one batch, at least
    one row, ids first as int64 without nulls; None otherwise."""
    reader = pa.ipc.open_file(pa.py_buffer(data))
    if reader.num_record_batches != 1:
        return None
    batch = reader.get_batch(0)
    if batch.schema.names[:1] != ["id"] or batch.schema.field("id").type != pa.int64():
        return None
    if batch.num_rows == 0 or batch.column(0).null_count:
        return None
    return batch


def _offset(base: int, size: int, arr: np.ndarray) -> int | None:
    return offset_in(base, size, arr.ctypes.data, arr.nbytes)


def column_span(data: bytes | memoryview) -> ColumnSpan | None:
    """The span of an encoded bucket file's id and vector columns, or None when it has none (see the module)."""
    batch = single_batch(data)
    if batch is None or not set(batch.schema.names) <= _SEARCH_COLUMNS:
        return None
    view = np.frombuffer(data, np.uint8)
    base = view.ctypes.data
    ids = np.frombuffer(batch.column(0).buffers()[1], np.int64, count=batch.num_rows, offset=batch.column(0).offset * 8)
    lists = batch.column(1)
    flat = lists.values
    width = 2 if flat.type == pa.float16() else 4
    dim = lists.type.list_size
    vec = np.frombuffer(
        flat.buffers()[1],
        np.uint8,
        count=batch.num_rows * dim * width,
        offset=(flat.offset + lists.offset * dim) * width,
    )
    id_at, vec_at = _offset(base, len(view), ids), _offset(base, len(view), vec)
    if id_at is None or vec_at is None:
        return None
    start, end = min(id_at, vec_at), max(id_at + ids.nbytes, vec_at + vec.nbytes)
    digest = hashlib.sha256(view[start:end]).digest()
    return ColumnSpan(start, end, id_at - start, vec_at - start, width, digest)


def check_span(data: bytes | memoryview | np.ndarray, span: ColumnSpan, what: str = "bucket") -> None:
    """:class:`CorruptionError` unless ``data`` is exactly the span's bytes (its length and sha256 digest)."""
    if len(data) != span.nbytes or hashlib.sha256(data).digest() != span.digest:
        raise CorruptionError(
            f"{what} is corrupted: the {len(data)} bytes read of its id and vector columns do not hash to the "
            "digest its index records. Restore the object from a backup or rebuild the collection; "
            "`vectree verify` lists every damaged object."
        )


def rows_from_span(
    data: bytes | memoryview | np.ndarray,
    span: ColumnSpan,
    n: int,
    dim: int,
    what: str = "bucket",
    checked: bool = False,
) -> Rows:
    """The ids and vectors (as stored) of ``n`` rows from the span's bytes, checked against its digest
    (unless the caller did: ``checked``)."""
    if not checked:
        check_span(data, span, what)
    ids = np.frombuffer(data, np.int64, count=n, offset=span.id_offset)
    vectors = np.frombuffer(
        data, np.float16 if span.vector_width == 2 else np.float32, count=n * dim, offset=span.vector_offset
    )
    return Rows(ids=ids, vectors=vectors.reshape(n, dim))


def pack_spans(spans: list[object]) -> tuple[np.ndarray, np.ndarray]:
    """Spans as the index stores them: ``(bucket_spans, bucket_span_digests)`` arrays (see the module).

    >>> from vectree.format.codespans import StoredSpans  # (what an index read makes of them)
    >>> s = ColumnSpan(8, 40, 0, 8, 4, bytes(32)); a, d = pack_spans([s, None])
    >>> list(StoredSpans(a, d)) == [s, None]
    True
    """
    table = np.full((len(spans), SPAN_FIELDS), -1, np.int64)
    digests = np.zeros((len(spans), 32), np.uint8)
    for i, s in enumerate(spans):
        if isinstance(s, ColumnSpan):  # (a bucket with codes records a code span: format/codespans.py)
            table[i] = (s.start, s.end, s.id_offset, s.vector_offset, s.vector_width)
            digests[i] = np.frombuffer(s.digest, np.uint8)
    return table, digests
