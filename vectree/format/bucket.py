"""The bucket file: ids, vectors, labels and metadata of a set of rows, as one Arrow IPC file.

The same format holds the tree's buckets (``buckets/``) and the unindexed tail (``segments/``). A file is
immutable and named by its fingerprint; :func:`decode_rows` checks the fingerprint before decoding.
Arrow IPC is read zero-copy, so a decoded bucket's vectors are a view on the fetched bytes. The byte span
of a bucket's id and vector columns (what a plain search reads, with one ranged GET from S3) is recorded
in the index when the bucket is written: :mod:`vectree.format.spans`; a bucket with codes records its code
span and vector chunks instead (:mod:`vectree.format.codespans`).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from vectree.errors import CorruptionError
from vectree.format.arrays import int_values, numeric_array, string_array
from vectree.format.fingerprint import check_fingerprint, fingerprint

FORMAT_VERSION = 1


@dataclass
class Rows:
    """A block of rows held in memory: the unit that bucket files store.

    ``ids`` is int64 or an object array of str; ``labels`` is None, int64 or object (None = unlabelled);
    ``metadata`` is None or a list of JSON strings (None entries for rows without metadata);
    ``keys`` are the int64 keys of the ids (see :func:`vectree.format.id_keys.id_keys`).
    ``codes`` (uint8 (n, dim)) with ``code_lo`` and ``code_scale`` (float32 (dim,)): the rows' int8
    codes (:mod:`vectree.format.codes`), when the bucket file holds them; RaBitQ codes are uint8 (n, width)
    with ``code_lo`` the bucket's rotated center and ``code_scale`` None. They are made again
    whenever rows are written, so :meth:`take` and :meth:`concat` drop them.
    """

    ids: np.ndarray
    vectors: np.ndarray
    labels: np.ndarray | None = None
    metadata: list[str | None] | None = None
    codes: np.ndarray | None = None
    code_lo: np.ndarray | None = None
    code_scale: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def nbytes(self) -> int:
        size = self.vectors.nbytes + self.ids.nbytes * (1 if self.ids.dtype != object else 8)
        if self.labels is not None:
            size += self.labels.nbytes
        if self.metadata is not None:
            size += sum(len(m) for m in self.metadata if m)
        if self.codes is not None:
            size += self.codes.nbytes
        return size

    def take(self, index: np.ndarray) -> Rows:
        """The rows at ``index`` (integer positions or a boolean mask), in that order."""
        index = np.asarray(index)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        meta = None if self.metadata is None else [self.metadata[i] for i in index]
        return Rows(
            ids=self.ids[index],
            vectors=self.vectors[index],
            labels=None if self.labels is None else self.labels[index],
            metadata=meta,
        )

    @staticmethod
    def concat(parts: list[Rows], dim: int) -> Rows:
        """Concatenate blocks; missing labels/metadata in some parts become None entries."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return Rows(ids=np.empty(0, dtype=np.int64), vectors=np.empty((0, dim), dtype=np.float32))
        ids = np.concatenate([p.ids for p in parts])
        vectors = np.concatenate([p.vectors for p in parts])
        labels = None
        if any(p.labels is not None for p in parts):
            label_parts = []
            for p in parts:
                label_parts.append(p.labels if p.labels is not None else np.full(len(p), None, dtype=object))
            kinds = {lp.dtype for lp in label_parts}
            labels = (
                np.concatenate(label_parts)
                if len(kinds) == 1
                else np.concatenate([lp.astype(object) for lp in label_parts])
            )
        metadata = None
        if any(p.metadata is not None for p in parts):
            metadata = []
            for p in parts:
                metadata.extend(p.metadata if p.metadata is not None else [None] * len(p))
        return Rows(ids=ids, vectors=vectors, labels=labels, metadata=metadata)


def _label_array(labels: np.ndarray | None, n: int, label_type: str | None) -> pa.Array:
    arrow_type = pa.string() if label_type == "str" else pa.int64()
    if labels is None:
        return pa.nulls(n, arrow_type)
    if labels.dtype != object:
        if label_type == "str":
            return string_array([str(v) for v in labels])
        return numeric_array(labels, pa.int64())
    mask = np.array([v is None for v in labels], dtype=bool)
    if label_type == "str":
        return string_array([None if m else str(v) for v, m in zip(labels, mask)])
    values = np.where(mask, 0, labels).astype(np.int64)
    return numeric_array(values, pa.int64(), mask=mask)


def infer_label_type(labels: np.ndarray | None) -> str | None:
    """ "int", "str" or None (no labels given)."""
    if labels is None:
        return None
    if labels.dtype != object:
        return "int" if labels.dtype.kind in "iub" else "str"
    for v in labels:
        if v is not None:
            return "int" if isinstance(v, (int, np.integer)) and not isinstance(v, bool) else "str"
    return None


def rows_to_table(
    rows: Rows,
    *,
    dtype: str = "float32",
    label_type: str | None = None,
    with_metadata: bool | None = None,
    extra: dict[str, pa.Array] | None = None,
    write_id: str | None = None,
    codes: str | None = None,
) -> pa.Table:
    """Rows as an Arrow table with a fixed column set (``label``/``metadata`` present even if all null);
    ``codes="int8"`` adds a ``code`` column of the stored values' int8 codes.

    ``write_id`` (recorded in the schema metadata) makes the file, and so its fingerprint, unique to one
    write even when another write stores the very same rows: see :func:`encode_rows`."""
    n, dim = rows.vectors.shape
    vec = np.ascontiguousarray(rows.vectors, dtype=np.float16 if dtype == "float16" else np.float32)
    value_type = pa.float16() if dtype == "float16" else pa.float32()
    vectors = pa.FixedSizeListArray.from_arrays(numeric_array(vec, value_type), dim)
    if rows.ids.dtype == object:
        ids = string_array([str(i) for i in rows.ids])
    else:
        ids = numeric_array(rows.ids, pa.int64())
    columns: dict[str, pa.Array] = {"id": ids, "vector": vectors}
    if label_type is None:
        label_type = infer_label_type(rows.labels)
    if label_type is not None:
        columns["label"] = _label_array(rows.labels, n, label_type)
    if with_metadata is None:
        with_metadata = rows.metadata is not None
    if with_metadata:
        columns["metadata"] = string_array(rows.metadata if rows.metadata is not None else [None] * n)
    columns.update(extra or {})
    meta = {"vectree.format": str(FORMAT_VERSION), "vectree.dim": str(dim)}
    if codes is not None:
        from vectree.format.codes import CODES, int8_codes, rabitq_codes
        from vectree.format.codespans import coded_columns_meta

        if codes not in CODES:
            raise ValueError(f"unknown codes {codes!r}: choose one of {CODES}")
        if codes == "rabitq":
            c, lo = rabitq_codes(vec)
            params = {"vectree.code_lo": base64.b64encode(lo.tobytes()).decode()}  # the rotated center
        else:
            c, lo, scale = int8_codes(vec)
            params = {
                "vectree.code_lo": base64.b64encode(lo.tobytes()).decode(),
                "vectree.code_scale": base64.b64encode(scale.tobytes()).decode(),
            }
        # ids, squared norms and codes before the vectors: the file's prefix is its code span (format/codespans.py)
        sq, chunks = coded_columns_meta(vec)
        code_col = pa.FixedSizeListArray.from_arrays(numeric_array(c, pa.uint8()), c.shape[1])
        columns = {"id": columns.pop("id"), "sqnorm": numeric_array(sq, pa.float32()), "code": code_col, **columns}
        meta.update({"vectree.codes": codes, **params, **chunks})
    table = pa.table(columns)
    if write_id:
        meta["vectree.write"] = write_id
    return table.replace_schema_metadata(meta)


def _code_params(meta: dict) -> tuple[np.ndarray, np.ndarray | None]:
    """int8: (lo, scale); rabitq: (the rotated center, None)."""
    scale = meta.get(b"vectree.code_scale")
    return (
        np.frombuffer(base64.b64decode(meta[b"vectree.code_lo"]), np.float32),
        None if scale is None else np.frombuffer(base64.b64decode(scale), np.float32),
    )


def _array(table: pa.Table | pa.RecordBatch, name: str) -> pa.Array:
    col = table.column(name)
    if isinstance(col, pa.ChunkedArray):  # combine_chunks goes through pyarrow.compute, even for one chunk
        return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()
    return col


def table_to_rows(table: pa.Table | pa.RecordBatch, as_stored: bool = False) -> Rows:
    """The inverse of :func:`rows_to_table`: vectors as float32, or with ``as_stored`` as the file holds
    them (float16 too), zero-copy."""
    dim = int(table.schema.metadata[b"vectree.dim"])
    lists = _array(table, "vector")
    flat = lists.values  # not flatten(): that imports pyarrow.compute (30 ms, several MB) on the first read
    # straight from the Arrow buffer: zero-copy, and no detour through pyarrow's pandas shim
    width = 2 if flat.type == pa.float16() else 4
    start = flat.offset + lists.offset * dim
    vectors = np.frombuffer(
        flat.buffers()[1], dtype=np.float16 if width == 2 else np.float32, count=len(lists) * dim, offset=start * width
    ).reshape(-1, dim)
    if vectors.dtype != np.float32 and not as_stored:
        vectors = vectors.astype(np.float32)
    id_col = _array(table, "id")
    ids = np.array(id_col.to_pylist(), dtype=object) if pa.types.is_string(id_col.type) else int_values(id_col)
    labels = None
    if "label" in table.column_names:
        lab = _array(table, "label")
        if lab.null_count == 0 and pa.types.is_integer(lab.type):
            labels = int_values(lab)
        elif lab.null_count < len(lab):
            labels = np.array(lab.to_pylist(), dtype=object)
    metadata = table.column("metadata").to_pylist() if "metadata" in table.column_names else None
    if metadata is not None and all(m is None for m in metadata):
        metadata = None
    codes = lo = scale = None
    if "code" in table.column_names:
        col = _array(table, "code")
        flat_codes = col.values
        width = col.type.list_size  # dim (int8) or the bits and factors of a row (rabitq)
        codes = np.frombuffer(
            flat_codes.buffers()[1],
            dtype=np.uint8,
            count=len(col) * width,
            offset=flat_codes.offset + col.offset * width,
        ).reshape(-1, width)
        lo, scale = _code_params(table.schema.metadata)
    return Rows(ids=ids, vectors=vectors, labels=labels, metadata=metadata, codes=codes, code_lo=lo, code_scale=scale)


def encode_rows(
    rows: Rows,
    dtype: str = "float32",
    label_type: str | None = None,
    write_id: str | None = None,
    codes: str | None = None,
) -> tuple[bytes, str]:
    """Serialize ``rows`` to bucket-file bytes and return ``(data, fingerprint)``; ``codes="int8"``
    stores the rows' int8 codes too (:mod:`vectree.format.codes`).

    Tail segments pass a ``write_id`` unique to the write that made them: tombstones name the file
    they apply to by its fingerprint, so two writes of equal rows must never share a file.

    >>> data, fp = encode_rows(Rows(ids=np.array([7]), vectors=np.ones((1, 3), np.float32)))
    >>> decode_rows(data, fp).ids.tolist()
    [7]
    >>> encode_rows(Rows(ids=np.array([7]), vectors=np.ones((1, 3), np.float32)), write_id="w2")[1] != fp
    True
    """
    table = rows_to_table(rows, dtype=dtype, label_type=label_type, write_id=write_id, codes=codes)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=max(len(rows), 1))
    data = sink.getvalue().to_pybytes()
    return data, fingerprint(data)


def decode_rows(data: bytes, expected_fingerprint: str | None, what: str = "bucket", as_stored: bool = False) -> Rows:
    """Check ``data`` against its fingerprint and decode it into :class:`Rows` (vectors as float32, or
    as stored: see :func:`table_to_rows`)."""
    if expected_fingerprint is not None:
        check_fingerprint(data, expected_fingerprint, f"{what} {expected_fingerprint}")
    try:
        reader = pa.ipc.open_file(pa.py_buffer(data))
        # buckets are written as one record batch: decode it without assembling a table
        return table_to_rows(reader.get_batch(0) if reader.num_record_batches == 1 else reader.read_all(), as_stored)
    except (pa.ArrowException, KeyError, ValueError, TypeError) as exc:
        raise CorruptionError(f"{what} {expected_fingerprint or ''} cannot be decoded: {exc}") from exc


@dataclass(frozen=True)
class Layout:
    """Where a decoded bucket's arrays sit in its file: enough to read the same file again without Arrow.

    Only for the plain shape (integer ids, no labels, no metadata), which is what a search re-reads most.
    """

    n: int
    dim: int
    vector_offset: int
    vector_dtype: str
    id_offset: int
    id_dtype: str
    code_offset: int = -1  # where the int8 codes sit, or -1 (none)
    code_lo: np.ndarray | None = None
    code_scale: np.ndarray | None = None
    code_width: int = 0  # bytes of codes a row


def _address(data: bytes | memoryview) -> int:
    return np.frombuffer(data, dtype=np.uint8, count=1).ctypes.data


def decode_rows_with_layout(
    data: bytes | memoryview, expected_fingerprint: str | None, what: str = "bucket"
) -> tuple[Rows, Layout | None]:
    """:func:`decode_rows` (vectors as stored), and the :class:`Layout` of its arrays when the rows have
    the plain shape."""
    rows = decode_rows(data, expected_fingerprint, what, as_stored=True)
    if rows.labels is not None or rows.metadata is not None or rows.ids.dtype.kind not in "iu" or not len(rows):
        return rows, None
    base = _address(data)
    vec = rows.vectors
    if vec.base is None or not (base <= vec.ctypes.data < base + len(data)):  # not a view of the file
        return rows, None
    code_offset = -1
    if rows.codes is not None:
        if not base <= rows.codes.ctypes.data < base + len(data):
            return rows, None
        code_offset = rows.codes.ctypes.data - base
    return rows, Layout(
        len(rows),
        vec.shape[1],
        vec.ctypes.data - base,
        vec.dtype.str,
        rows.ids.ctypes.data - base,
        rows.ids.dtype.str,
        code_offset,
        rows.code_lo,
        rows.code_scale,
        0 if rows.codes is None else rows.codes.shape[1],
    )


def rows_from_layout(data: bytes | memoryview, layout: Layout) -> Rows:
    """The rows of a file decoded before (same fingerprint, same file), read at the recorded offsets."""
    vectors = np.frombuffer(data, dtype=layout.vector_dtype, count=layout.n * layout.dim, offset=layout.vector_offset)
    ids = np.frombuffer(data, dtype=layout.id_dtype, count=layout.n, offset=layout.id_offset)
    codes = None
    if layout.code_offset >= 0:
        width = layout.code_width or layout.dim
        codes = np.frombuffer(data, dtype=np.uint8, count=layout.n * width, offset=layout.code_offset)
        codes = codes.reshape(layout.n, width)
    return Rows(
        ids=ids,
        vectors=vectors.reshape(layout.n, layout.dim),
        codes=codes,
        code_lo=layout.code_lo,
        code_scale=layout.code_scale,
    )


def metadata_to_json(metadata: list[Any] | None, n: int) -> list[str | None] | None:
    """Serialize per-row metadata dicts to JSON strings (None stays None)."""
    if metadata is None:
        return None
    if len(metadata) != n:
        from vectree.errors import InvalidInputError

        raise InvalidInputError(
            f"metadata has {len(metadata)} entries for {n} vectors; give one dict (or None) per row"
        )
    out: list[str | None] = []
    for i, m in enumerate(metadata):
        if m is None:
            out.append(None)
            continue
        try:
            out.append(json.dumps(m, separators=(",", ":"), sort_keys=True, allow_nan=False))
        except (TypeError, ValueError) as exc:
            from vectree.errors import InvalidInputError

            raise InvalidInputError(f"metadata row {i} is not JSON-serializable: {exc}") from exc
    return out
