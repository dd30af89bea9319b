"""What crosses the wire, shared by the server and the clients: Arrow IPC row batches and result JSON.

Vectors travel as JSON lists or, for large batches, as an Arrow IPC stream (content type
``application/vnd.apache.arrow.stream``) with a ``vector`` column (fixed-size lists of float32) and
optional ``id``, ``label`` and ``metadata`` (JSON text) columns. Distances that are infinite (fewer
than k rows) travel as null.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pyarrow as pa

from vectree.collection import SearchResult, VerifyReport
from vectree.errors import InvalidInputError
from vectree.format.bucket import Rows

ARROW = "application/vnd.apache.arrow.stream"


def rows_to_arrow(vectors: Any, ids: Any = None, labels: Any = None, metadata: Any = None) -> bytes:
    """An Arrow IPC stream of rows (what the clients send for large batches).

    >>> rows = arrow_to_rows(rows_to_arrow(np.eye(2, dtype=np.float32), ids=["a", "b"]))
    >>> rows["ids"], rows["vectors"].shape
    (['a', 'b'], (2, 2))
    """
    vec = np.ascontiguousarray(np.atleast_2d(np.asarray(vectors, dtype=np.float32)))
    cols = {"vector": pa.FixedSizeListArray.from_arrays(pa.array(vec.ravel()), vec.shape[1])}
    if ids is not None:
        ids = np.asarray(ids).tolist() if isinstance(ids, np.ndarray) else list(ids)
        cols["id"] = pa.array(ids)
    if labels is not None:
        labels = np.asarray(labels, dtype=object).tolist() if isinstance(labels, np.ndarray) else list(labels)
        cols["label"] = pa.array(labels)
    if metadata is not None:
        cols["metadata"] = pa.array([None if m is None else json.dumps(m) for m in metadata], pa.string())
    table = pa.table(cols)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def arrow_to_rows(data: bytes) -> dict[str, Any]:
    """Decode an Arrow IPC stream of rows; InvalidInputError naming what is wrong with it."""
    try:
        table = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    except (pa.ArrowInvalid, pa.ArrowException, OSError, ValueError) as exc:
        raise InvalidInputError(f"the body is not a readable Arrow IPC stream: {exc}") from None
    if "vector" not in table.column_names:
        raise InvalidInputError(f"the Arrow stream needs a 'vector' column, got columns {table.column_names}")
    col = table.column("vector").combine_chunks()
    if not pa.types.is_fixed_size_list(col.type) and not pa.types.is_list(col.type):
        raise InvalidInputError(f"the 'vector' column holds lists of floats, got {col.type}")
    if col.null_count:
        raise InvalidInputError("the 'vector' column has null rows")
    if pa.types.is_fixed_size_list(col.type):
        dim = col.type.list_size
        vec = np.asarray(col.flatten().to_numpy(zero_copy_only=False), dtype=np.float32).reshape(len(col), dim)
    else:
        vec = np.asarray(col.to_pylist(), dtype=np.float32) if len(col) else np.empty((0, 0), np.float32)
    out: dict[str, Any] = {"vectors": vec, "ids": None, "labels": None, "metadata": None}
    if "id" in table.column_names:
        out["ids"] = table.column("id").to_pylist()
    if "label" in table.column_names:
        out["labels"] = table.column("label").to_pylist()
    if "metadata" in table.column_names:
        try:
            out["metadata"] = [None if m is None else json.loads(m) for m in table.column("metadata").to_pylist()]
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"the 'metadata' column holds JSON text, one object per row: {exc}") from None
    return out


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def result_to_json(res: SearchResult, id_type: str | None) -> dict[str, Any]:
    """A :class:`SearchResult` as JSON (null for infinite distances and missing ids)."""
    dist = [[None if not math.isfinite(d) else d for d in row] for row in res.distances.tolist()]
    return {
        "ids": res.ids.tolist(),
        "distances": dist,
        "id_type": id_type or "int",
        "labels": None if res.labels is None else [[_plain(v) for v in row] for row in res.labels.tolist()],
        "metadata": res.metadata,
        "stats": {k: _plain(v) for k, v in (res.stats or {}).items()},
    }


def _labels_array(labels: list[list[Any]] | list[Any] | None) -> np.ndarray | None:
    if labels is None:
        return None
    flat = np.asarray(labels, dtype=object)
    if flat.size and all(isinstance(v, int) and not isinstance(v, bool) for v in flat.ravel()):
        return flat.astype(np.int64)
    return flat


def json_to_result(body: dict[str, Any]) -> SearchResult:
    """The :class:`SearchResult` the server sent, with the dtypes the local library returns."""
    n = len(body["ids"])
    ids = np.asarray(body["ids"], dtype=object if body.get("id_type") == "str" else np.int64)
    if n and ids.ndim == 1:
        ids = ids.reshape(n, -1)
    dist = np.asarray(
        [[np.inf if d is None else d for d in row] for row in body["distances"]], dtype=np.float32
    ).reshape(ids.shape)
    labels = _labels_array(body.get("labels"))
    return SearchResult(
        ids=ids,
        distances=dist,
        labels=None if labels is None else labels.reshape(ids.shape),
        metadata=body.get("metadata"),
        stats=body.get("stats") or {},
    )


def rows_to_json(rows: Rows) -> dict[str, Any]:
    """Stored rows (from ``Collection.get``) as JSON; metadata stays JSON text, as ``Rows`` holds it."""
    return {
        "ids": [_plain(i) for i in rows.ids.tolist()],
        "vectors": rows.vectors.tolist(),
        "labels": None if rows.labels is None else [_plain(v) for v in rows.labels.tolist()],
        "metadata": rows.metadata,
    }


def json_to_rows(body: dict[str, Any], id_type: str | None = None) -> Rows:
    str_ids = id_type == "str" or any(isinstance(i, str) for i in body["ids"])
    ids = np.asarray(body["ids"], dtype=object if str_ids else np.int64)
    vec = np.asarray(body["vectors"], dtype=np.float32)
    labels = _labels_array(body.get("labels"))
    return Rows(ids=ids, vectors=vec.reshape(len(ids), -1), labels=labels, metadata=body.get("metadata"))


def report_to_json(rep: VerifyReport) -> dict[str, Any]:
    return {"ok": rep.ok, "checked": rep.checked, "versions": list(rep.versions), "problems": list(rep.problems)}


def json_to_report(body: dict[str, Any]) -> VerifyReport:
    return VerifyReport(checked=body["checked"], versions=list(body["versions"]), problems=list(body["problems"]))
