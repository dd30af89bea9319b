"""Where a bucket file with codes keeps what a two-phase quantized read needs: a code span, then chunks.

A bucket written with codes (:mod:`vectree.format.codes`) orders its columns ``id``, ``sqnorm``
(float32 squared norm of each row, as stored), ``code``, then ``vector`` (labels and metadata after).
An Arrow IPC file begins with its schema, whose metadata holds the code parameters, so the file's
prefix ``[0, vector_offset)`` holds everything a scan through codes reads: the schema (code parameters
and the vector chunks' digests), the ids, the squared norms and the codes. That prefix is the bucket's
*code span*; its length, where each column sits in it and its sha256 are recorded in the index
(:class:`CodeSpan`, one row per bucket: the index does not grow per chunk).

The vectors after it are cut into chunks of :attr:`CodeSpan.chunk_rows` rows; the sha256 of each
chunk's bytes is stored in the schema metadata (``vectree.chunk_digests``), so it is covered by the
code span's digest. A two-phase read fetches the code span, scans the codes, then fetches only the
chunks holding the short list's rows, checking each against its digest: everything read is verified,
and a flipped byte anywhere is a :class:`~vectree.errors.CorruptionError` naming the bucket.

Buckets written before this (codes after the vectors, no ``sqnorm`` column) have no code span and
are read whole, as before.

Array layout of ``bucket_code_spans`` in the index (int64, one row per bucket, -1 in ``end`` for none)::

    end, id_offset, sqnorm_offset, code_offset, vector_offset, vector_width, code_width, chunk_rows

and ``bucket_code_span_digests`` (uint8, (n_buckets, 32)).

>>> from vectree.format.bucket import Rows, encode_rows
>>> data, _ = encode_rows(Rows(ids=np.arange(40), vectors=np.ones((40, 8), np.float32)), codes="int8")
>>> span = code_span(data)
>>> part = rows_from_code_span(data[: span.end], span, n=40, dim=8)
>>> part.ids[:3].tolist(), part.codes.shape, len(part.chunk_digests) == chunk_count(span, 40)
([0, 1, 2], (40, 8), True)
>>> a, b = chunk_range(span, 40, 8, 0); check_chunk(data[a:b], part.chunk_digests[0], "bucket x", 0)
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from vectree.errors import CorruptionError
from vectree.format.spans import SPAN_FIELDS, ColumnSpan, offset_in, single_batch

CODE_SPAN_FIELDS = 8
CHUNK_BYTES = 4096  # vector bytes a chunk holds, about: a disk page (measured: 16 KiB read 2x the bytes on arXiv)
CHUNK_ROWS_MAX = 256
_MAGIC = 8  # "ARROW1" and padding before the schema message


def chunk_rows_for(row_bytes: int) -> int:
    """Rows a vector chunk holds for rows of ``row_bytes`` bytes.

    >>> chunk_rows_for(784 * 4), chunk_rows_for(50 * 4), chunk_rows_for(64 * 1024)
    (1, 20, 1)
    """
    return int(max(1, min(CHUNK_ROWS_MAX, CHUNK_BYTES // max(1, row_bytes))))


def chunk_digests(vectors: np.ndarray, rows: int) -> bytes:
    """The sha256 of each ``rows``-row chunk of ``vectors`` (as stored, C-contiguous), concatenated."""
    flat = np.ascontiguousarray(vectors).view(np.uint8).reshape(len(vectors), -1)
    return b"".join(hashlib.sha256(flat[a : a + rows]).digest() for a in range(0, len(flat), rows))


def coded_columns_meta(vectors: np.ndarray) -> tuple[np.ndarray, dict[str, str]]:
    """What :func:`vectree.format.bucket.rows_to_table` adds for a bucket with codes: the squared norms
    (float32, from the values as stored) and the schema metadata of the vector chunks."""
    from vectree._native import as_float32

    v = as_float32(vectors)
    sq = np.einsum("ij,ij->i", v, v).astype(np.float32, copy=False)
    rows = chunk_rows_for(vectors.shape[1] * vectors.dtype.itemsize)
    meta = {
        "vectree.chunk_rows": str(rows),
        "vectree.chunk_digests": base64.b64encode(chunk_digests(vectors, rows)).decode(),
    }
    return sq, meta


class CodeSpan(NamedTuple):
    """A bucket file's code span ``[0, end)`` (see the module): where its columns sit, and its sha256.

    A named tuple, as :class:`~vectree.format.spans.ColumnSpan`."""

    end: int
    id_offset: int
    sqnorm_offset: int
    code_offset: int
    vector_offset: int  # where the vectors start in the file (== end)
    vector_width: int  # bytes per value: 4 (float32) or 2 (float16)
    code_width: int  # bytes of codes a row
    chunk_rows: int
    digest: bytes

    @property
    def nbytes(self) -> int:
        return self.end


def _at(base: int, size: int, buf: pa.Buffer | None) -> int | None:
    return None if buf is None else offset_in(base, size, buf.address, buf.size)


def code_span(data: bytes | memoryview) -> CodeSpan | None:
    """The code span of an encoded bucket file, or None when it has none (no codes, or an older layout)."""
    batch = single_batch(data)
    if batch is None or batch.schema.names[:4] != ["id", "sqnorm", "code", "vector"]:
        return None
    if b"vectree.chunk_rows" not in (batch.schema.metadata or {}):
        return None
    view = np.frombuffer(data, np.uint8)
    base, size = view.ctypes.data, len(view)
    ids, sq, code, vec = (batch.column(i) for i in range(4))
    if ids.offset or sq.offset or code.offset or code.values.offset or vec.offset or vec.values.offset:
        return None
    where = [_at(base, size, b) for b in (ids.buffers()[1], sq.buffers()[1], code.values.buffers()[1])]
    vec_at = _at(base, size, vec.values.buffers()[1])
    if None in where or vec_at is None or not max(where) < vec_at:
        return None
    width = 2 if vec.values.type == pa.float16() else 4
    digest = hashlib.sha256(view[:vec_at]).digest()
    chunk = int(batch.schema.metadata[b"vectree.chunk_rows"])
    return CodeSpan(vec_at, *where, vec_at, width, code.type.list_size, chunk, digest)  # type: ignore[arg-type]


def check_code_span(data: bytes | memoryview | np.ndarray, span: CodeSpan, what: str = "bucket") -> None:
    """:class:`CorruptionError` unless ``data`` is exactly the code span's bytes (length and sha256)."""
    if len(data) != span.nbytes or hashlib.sha256(data).digest() != span.digest:
        raise CorruptionError(
            f"{what} is corrupted: the {len(data)} bytes read of its ids and codes do not hash to the digest "
            "its index records. Restore the object from a backup or rebuild the collection; `vectree verify` "
            "lists every damaged object."
        )


@dataclass(frozen=True)
class CodedRows:
    """What a code span holds: each row's id, squared norm and codes, the code parameters, chunk digests."""

    ids: np.ndarray
    sqnorms: np.ndarray
    codes: np.ndarray
    code_lo: np.ndarray
    code_scale: np.ndarray | None  # None: RaBitQ (code_lo is the rotated center)
    chunk_digests: np.ndarray  # uint8 (n_chunks, 32)


def rows_from_code_span(
    data: bytes | memoryview | np.ndarray, span: CodeSpan, n: int, dim: int, what: str = "bucket", checked: bool = False
) -> CodedRows:
    """The :class:`CodedRows` of ``n`` rows from a code span's bytes, checked against its digest (unless
    the caller did: ``checked``); arrays are views of ``data``."""
    if not checked:
        check_code_span(data, span, what)
    buf = np.frombuffer(data, np.uint8)
    try:
        meta = pa.ipc.read_schema(pa.py_buffer(buf[_MAGIC:])).metadata
        scale = meta.get(b"vectree.code_scale")
        lo = np.frombuffer(base64.b64decode(meta[b"vectree.code_lo"]), np.float32)
        digests = np.frombuffer(base64.b64decode(meta[b"vectree.chunk_digests"]), np.uint8).reshape(-1, 32)
    except (pa.ArrowException, KeyError, ValueError) as exc:
        raise CorruptionError(f"{what}: its code span cannot be decoded: {exc}") from exc
    if len(digests) != chunk_count(span, n):
        raise CorruptionError(
            f"{what}: its code span lists {len(digests)} vector chunks, {chunk_count(span, n)} expected"
        )
    return CodedRows(
        ids=np.frombuffer(buf, np.int64, count=n, offset=span.id_offset),
        sqnorms=np.frombuffer(buf, np.float32, count=n, offset=span.sqnorm_offset),
        codes=np.frombuffer(buf, np.uint8, count=n * span.code_width, offset=span.code_offset).reshape(n, -1),
        code_lo=lo,
        code_scale=None if scale is None else np.frombuffer(base64.b64decode(scale), np.float32),
        chunk_digests=digests,
    )


def chunk_count(span: CodeSpan, n: int) -> int:
    """Vector chunks of a bucket of ``n`` rows."""
    return -(-n // span.chunk_rows)


def chunk_range(span: CodeSpan, n: int, dim: int, chunk: int) -> tuple[int, int]:
    """The file's byte range ``[start, end)`` of vector chunk ``chunk``."""
    row = dim * span.vector_width
    first = chunk * span.chunk_rows
    return span.vector_offset + first * row, span.vector_offset + min(n, first + span.chunk_rows) * row


def check_chunk(data: bytes | memoryview | np.ndarray, digest: np.ndarray | bytes, what: str, chunk: int) -> None:
    """:class:`CorruptionError` unless ``data`` hashes to the chunk's digest."""
    if hashlib.sha256(data).digest() != bytes(digest):
        raise CorruptionError(
            f"{what} is corrupted: vector chunk {chunk} does not hash to the digest its code span records. "
            "Restore the object from a backup or rebuild the collection; `vectree verify` lists every damaged object."
        )


def code_file_problem(data: bytes | memoryview, span: CodeSpan, n: int, dim: int) -> str | None:
    """What is wrong with a whole bucket file against its code span (its prefix, every vector chunk), or None.

    >>> from vectree.format.bucket import Rows, encode_rows
    >>> data, _ = encode_rows(Rows(ids=np.arange(9), vectors=np.ones((9, 600), np.float32)), codes="int8")
    >>> span = code_span(data); bad = bytearray(data); bad[span.end + 9 * 2400 - 1] ^= 1
    >>> code_file_problem(data, span, 9, 600), code_file_problem(bytes(bad), span, 9, 600)
    (None, 'vector chunk 8 does not match its digest')
    """
    try:
        coded = rows_from_code_span(memoryview(data)[: span.end], span, n, dim)
    except CorruptionError:
        return "its ids and codes do not match the code span its index records"
    for c in range(chunk_count(span, n)):
        a, b = chunk_range(span, n, dim, c)
        if b > len(data) or hashlib.sha256(memoryview(data)[a:b]).digest() != coded.chunk_digests[c].tobytes():
            return f"vector chunk {c} does not match its digest"
    return None


def pack_code_spans(spans: list[object]) -> tuple[np.ndarray, np.ndarray]:
    """The :class:`CodeSpan` entries of ``spans`` (others: -1) as the index stores them (see the module).

    >>> from vectree.format.spans import pack_spans
    >>> s = CodeSpan(900, 8, 16, 24, 900, 4, 8, 5, bytes(32)); a, d = pack_code_spans([s, None])
    >>> list(StoredSpans(*pack_spans([None, None]), a, d)) == [s, None]
    True
    """
    table = np.full((len(spans), CODE_SPAN_FIELDS), -1, np.int64)
    digests = np.zeros((len(spans), 32), np.uint8)
    for i, s in enumerate(spans):
        if isinstance(s, CodeSpan):
            table[i] = (s.end, s.id_offset, s.sqnorm_offset, s.code_offset, s.vector_offset, s.vector_width,
                        s.code_width, s.chunk_rows)  # fmt: skip
            digests[i] = np.frombuffer(s.digest, np.uint8)
    return table, digests


def bucket_span(data: bytes | memoryview) -> object:
    """What the index records of a bucket file: its :class:`CodeSpan` (codes), its
    :class:`~vectree.format.spans.ColumnSpan` (plain shape) or None (read whole)."""
    from vectree.format.spans import column_span

    return code_span(data) or column_span(data)


class StoredSpans(Sequence):
    """The per-bucket spans of a stored index (:class:`CodeSpan`, :class:`ColumnSpan` or None), each
    made when first asked for from the index's arrays.

    An index read needs the spans of the buckets a query probes, not of all of them: making every one
    cost ~5 us a bucket, 0.2 s for the 41,000 buckets of a 10M-row collection, on a cold reader's path.

    >>> from vectree.format.spans import pack_spans
    >>> s = ColumnSpan(8, 40, 0, 8, 4, bytes(32)); c = CodeSpan(900, 8, 16, 24, 900, 4, 8, 5, bytes(32))
    >>> stored = StoredSpans(*pack_spans([s, None, None]), *pack_code_spans([None, None, c]))
    >>> len(stored), stored[0] == s, stored[1], stored[2] == c, stored.kinds.tolist()
    (3, True, None, True, [1, 0, 2])
    """

    NONE, COLUMN, CODE = 0, 1, 2

    def __init__(
        self,
        table: np.ndarray,
        digests: np.ndarray,
        code_table: np.ndarray | None = None,
        code_digests: np.ndarray | None = None,
    ) -> None:
        n = len(table)
        if table.shape != (n, SPAN_FIELDS) or digests.shape != (n, 32):
            raise CorruptionError(f"bucket spans of shape {table.shape} / {digests.shape} do not fit the index")
        if code_table is not None and (code_table.shape != (n, CODE_SPAN_FIELDS) or code_digests.shape != (n, 32)):
            raise CorruptionError(
                f"bucket code spans of shape {code_table.shape} / {code_digests.shape} do not fit {n} buckets"
            )
        self._table, self._digests = table, digests
        self._code_table, self._code_digests = code_table, code_digests
        kinds = np.where(table[:, 0] >= 0, self.COLUMN, self.NONE).astype(np.int8)
        if code_table is not None:
            kinds[code_table[:, 0] >= 0] = self.CODE
        self.kinds = kinds  # per bucket: NONE, COLUMN or CODE

    def __len__(self) -> int:
        return len(self._table)

    def __getitem__(self, i):  # noqa: ANN001, ANN204 - Sequence's signature (an int or a slice)
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        kind = self.kinds[i]
        if kind == self.CODE:
            return CodeSpan._make((*self._code_table[i].tolist(), self._code_digests[i].tobytes()))
        if kind == self.COLUMN:
            return ColumnSpan._make((*self._table[i].tolist(), self._digests[i].tobytes()))
        return None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]  # equal to lists, so unhashable as they are
