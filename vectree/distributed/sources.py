"""The input of a distributed build: .npy or Parquet files, local or on S3, cut into row-range shards.

A shard is small to ship (a path and a row range); each worker opens the file itself through
pyarrow's filesystems (``s3://`` with ``source_options`` such as ``endpoint_override``), so no row
passes through the driver. Rows keep their position in the input (files in the order given), which
is what makes the distributed build equal to a local one over the same rows.
"""

from __future__ import annotations

import ast
import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from vectree.errors import InvalidInputError


@dataclass(frozen=True)
class Shard:
    """Rows ``start:stop`` of one file (``row_group`` for Parquet), whose first row is input row ``offset``."""

    path: str
    kind: str  # "npy" or "parquet"
    start: int
    stop: int
    offset: int
    row_group: int = -1

    @property
    def rows(self) -> int:
        return self.stop - self.start


def _fs(path: str, options: dict[str, Any] | None) -> tuple[Any, str]:
    from pyarrow import fs

    if path.startswith("s3://"):
        return fs.S3FileSystem(**(options or {})), path[len("s3://") :]
    return fs.LocalFileSystem(), path[len("file://") :] if path.startswith("file://") else path


def _npy_header(f: Any) -> tuple[tuple[int, ...], np.dtype, bool, int]:
    head = f.read_at(4096, 0)
    buf = io.BytesIO(head)
    version = np.lib.format.read_magic(buf)
    if version == (1, 0):
        hlen = int.from_bytes(head[8:10], "little")
        start = 10
    else:
        hlen = int.from_bytes(head[8:12], "little")
        start = 12
    header = ast.literal_eval(head[start : start + hlen].decode("latin1"))
    return tuple(header["shape"]), np.dtype(header["descr"]), bool(header["fortran_order"]), start + hlen


def list_shards(
    paths: str | list[str], shard_rows: int = 100_000, options: dict[str, Any] | None = None
) -> list[Shard]:
    """Cut the input files into shards of at most ``shard_rows`` rows (Parquet: one per row group).

    >>> import numpy as np, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.npy"); np.save(p, np.zeros((250, 4), np.float32))
    >>> [(s.start, s.stop, s.offset) for s in list_shards(p, shard_rows=100)]
    [(0, 100, 0), (100, 200, 100), (200, 250, 200)]
    """
    import pyarrow.parquet as pq

    out: list[Shard] = []
    offset = 0
    for path in [paths] if isinstance(paths, str) else list(paths):
        fs, inner = _fs(path, options)
        if path.endswith(".npy"):
            with fs.open_input_file(inner) as f:
                shape, _, fortran, _ = _npy_header(f)
            if len(shape) != 2 or fortran:
                raise InvalidInputError(f"{path}: a .npy source must hold a C-order (n, dim) array, got shape {shape}")
            for s in range(0, shape[0], shard_rows):
                e = min(shape[0], s + shard_rows)
                out.append(Shard(path, "npy", s, e, offset + s))
            offset += shape[0]
        elif path.endswith(".parquet"):
            with fs.open_input_file(inner) as f:
                meta = pq.ParquetFile(f).metadata
            start = 0
            for g in range(meta.num_row_groups):
                rows = meta.row_group(g).num_rows
                out.append(Shard(path, "parquet", start, start + rows, offset + start, g))
                start += rows
            offset += start
        else:
            raise InvalidInputError(f"{path}: a source is .npy or .parquet files")
    if not out:
        raise InvalidInputError("the source holds no rows")
    return out


def read_shard(
    shard: Shard, options: dict[str, Any] | None = None, vector_field: str = "vector", id_field: str | None = "id"
) -> tuple[np.ndarray, np.ndarray | None]:
    """(vectors (n, dim) float32, ids or None) of one shard, read with ranged reads of only its rows."""
    import pyarrow.parquet as pq

    fs, inner = _fs(shard.path, options)
    with fs.open_input_file(inner) as f:
        if shard.kind == "npy":
            shape, dtype, _, data_at = _npy_header(f)
            row = shape[1] * dtype.itemsize
            raw = f.read_at(shard.rows * row, data_at + shard.start * row)
            return np.frombuffer(raw, dtype=dtype).reshape(shard.rows, shape[1]).astype(np.float32), None
        pf = pq.ParquetFile(f)
        names = pf.schema_arrow.names
        if vector_field not in names:
            raise InvalidInputError(f"{shard.path}: no vector field {vector_field!r} (fields: {names})")
        cols = [vector_field] + ([id_field] if id_field and id_field in names else [])
        table = pf.read_row_group(shard.row_group, columns=cols)
        vec = table.column(vector_field).combine_chunks()
        width = vec.type.list_size if hasattr(vec.type, "list_size") else None
        flat = vec.flatten().to_numpy(zero_copy_only=False).astype(np.float32)
        dim = width if width else (len(flat) // max(1, len(vec)))
        ids = table.column(id_field).to_numpy(zero_copy_only=False) if len(cols) > 1 else None
        return flat.reshape(len(vec), dim), ids
