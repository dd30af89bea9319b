"""Input checks: every bad input is refused with a message naming the problem, before anything is written."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from vectree.errors import InvalidInputError
from vectree.format.bucket import Rows, metadata_to_json

METRICS = ("l2", "cosine", "dot")


def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise InvalidInputError(f"unknown metric {metric!r}: choose one of {', '.join(METRICS)}")
    return metric


def as_vectors(vectors: Any, dim: int, metric: str, what: str = "vectors", allow_1d: bool = False) -> np.ndarray:
    """Return a C-contiguous float32 (n, dim) array, normalised for cosine; refuse anything else.

    >>> as_vectors([3, 4], 2, "cosine", allow_1d=True).tolist()
    [[0.6000000238418579, 0.800000011920929]]
    """
    return as_vectors_and_norms(vectors, dim, metric, what, allow_1d)[0]


def as_vectors_and_norms(
    vectors: Any, dim: int, metric: str, what: str = "vectors", allow_1d: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`as_vectors` and the rows' squared norms before any normalising (float32 (n,), the check's
    own reduction: an l2 search's offset, not computed twice; a query's own work is ~80 us).

    >>> as_vectors_and_norms([[3, 4]], 2, "l2")[1].tolist()
    [25.0]
    """
    try:
        if not isinstance(vectors, np.ndarray):
            vectors = np.asarray(vectors)
        if vectors.dtype.kind == "c":
            raise InvalidInputError(f"{what} are complex numbers: give real values (the imaginary part would be lost)")
        if vectors.dtype.kind == "b":
            raise InvalidInputError(f"{what} are booleans: give numbers (cast with .astype(np.float32) if meant)")
        arr = np.asarray(vectors, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{what} must be a numeric array of shape (n, {dim}): {exc}") from exc
    if arr.ndim == 1 and allow_1d:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise InvalidInputError(f"{what} must have shape (n, {dim}), got an array of shape {arr.shape}")
    if arr.shape[0] == 0:
        raise InvalidInputError(f"{what} is empty: give at least one row")
    if arr.shape[1] != dim:
        raise InvalidInputError(f"{what} have dimension {arr.shape[1]} but the collection's dim is {dim}")
    arr = np.ascontiguousarray(arr)
    # one reduction when all is well: a NaN or inf anywhere makes its row's squared norm non-finite
    # (so does overflow of huge finite values, which the exact checks below then let through)
    sq = np.einsum("ij,ij->i", arr, arr)
    cosine = metric == "cosine"
    if len(sq) == 1:
        s0 = float(sq[0])
        well = (0.0 < s0 < np.inf) if cosine else (s0 == s0 and s0 != np.inf)
    else:
        well = bool(np.isfinite(sq).all()) and (not cosine or bool(sq.all()))
    if not well:
        if not np.isfinite(arr).all():  # per row only to name the culprit
            bad = np.flatnonzero(~np.isfinite(arr).all(axis=1))
            raise InvalidInputError(f"{what} contain NaN or inf in {len(bad)} row(s), first at row {int(bad[0])}")
        if cosine and (sq == 0).any():
            raise InvalidInputError(
                f"{what} row {int(np.flatnonzero(sq == 0)[0])} is all zeros: it has no direction for the cosine metric"
            )
        if cosine:  # finite values whose squares overflow float32: normalise in float64
            wide = arr.astype(np.float64)
            return np.ascontiguousarray(wide / np.linalg.norm(wide, axis=1, keepdims=True), dtype=np.float32), sq
    if cosine:
        arr = arr / np.sqrt(sq)[:, None]
    return arr, sq


NO_RESULT_ID = -1  # what search returns where fewer than k rows are found: never a stored id


def _id_kind(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "bool"
    if isinstance(v, (int, np.integer)):
        return "int"
    if isinstance(v, str):
        return "str"
    return type(v).__name__


def as_ids(ids: Any, n: int, id_type: str | None) -> tuple[np.ndarray, str]:
    """Return (ids, id_type) with ids int64 or an object array of str; refuse duplicates and mixed types.

    >>> as_ids([1, "a"], 2, None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    vectree.errors.InvalidInputError: ids must all be ints or all be strings, got a mix of int and str (such as ...)
    """
    if isinstance(ids, (str, bytes)) or not isinstance(ids, (Sequence, np.ndarray)):
        ids = list(ids) if ids is not None and not isinstance(ids, (str, bytes, dict)) else [ids]
    if not isinstance(ids, np.ndarray) or ids.dtype == object:
        kinds = {_id_kind(v) for v in ids}
        if len(kinds) > 1 or kinds - {"int", "str"}:
            shown = [v for v in list(ids)[:3]]
            what = "a mix of " + " and ".join(sorted(kinds)) if len(kinds) > 1 else f"{kinds.pop()} values"
            raise InvalidInputError(f"ids must all be ints or all be strings, got {what} (such as {shown})")
        if not len(ids):
            return (np.empty(0, np.int64) if id_type != "str" else np.empty(0, object)), id_type or "int"
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise InvalidInputError(f"ids must be a flat list, got shape {arr.shape}")
    if len(arr) != n:
        raise InvalidInputError(f"got {len(arr)} ids for {n} vectors; give exactly one id per row")
    if arr.dtype.kind in "iu":
        kind = "int"
        if arr.dtype.kind == "u" and len(arr) and arr.max() > np.iinfo(np.int64).max:
            raise InvalidInputError("ids above 2**63-1 are not supported")
        arr = arr.astype(np.int64)
        if (arr == NO_RESULT_ID).any():
            raise InvalidInputError(
                f"id {NO_RESULT_ID} is reserved: search returns it where fewer than k rows are found"
            )
    elif arr.dtype.kind in "UO" and all(isinstance(v, str) for v in arr.tolist()):
        kind = "str"
        arr = np.array([str(v) for v in arr.tolist()], dtype=object)
        if any(v == "" for v in arr):
            raise InvalidInputError("ids must not be empty strings")
    else:
        raise InvalidInputError(
            f"ids must all be ints or all be strings, got {arr.dtype} values such as {arr[:3].tolist()}"
        )
    if id_type is not None and kind != id_type:
        raise InvalidInputError(f"this collection's ids are {id_type}s, got {kind} ids such as {arr[:3].tolist()}")
    uniq, counts = np.unique(arr.astype(str) if kind == "str" else arr, return_counts=True)
    if (counts > 1).any():
        dups = uniq[counts > 1][:5].tolist()
        raise InvalidInputError(f"duplicate ids within the batch: {dups}; each id may appear once")
    return arr, kind


def as_labels(labels: Any, n: int, label_type: str | None) -> tuple[np.ndarray | None, str | None]:
    """Return (labels, label_type): int64 or object (None = unlabelled row); types may not mix."""
    if labels is None:
        return None, label_type
    vals = list(labels.tolist() if isinstance(labels, np.ndarray) else labels)
    if len(vals) != n:
        raise InvalidInputError(f"got {len(vals)} labels for {n} vectors; give one label (or None) per row")
    present = [v for v in vals if v is not None and not (isinstance(v, float) and np.isnan(v))]
    if not present:
        return np.full(n, None, dtype=object), label_type
    is_int = [isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in present]
    if all(is_int):
        kind = "int"
    elif all(isinstance(v, str) for v in present):
        kind = "str"
    else:
        raise InvalidInputError(
            f"labels must all be ints or all be strings (None for unlabelled), got e.g. {present[:3]}"
        )
    if label_type is not None and kind != label_type:
        raise InvalidInputError(f"this collection's labels are {label_type}s, got {kind} labels such as {present[:3]}")
    out = np.array([None if (v is None or (isinstance(v, float) and np.isnan(v))) else v for v in vals], dtype=object)
    if kind == "int" and len(present) == n:
        out = out.astype(np.int64)
    return out, kind


def check_k(k: int, rows: int | None = None) -> int:
    """``k`` as an int, capped at ``rows`` (the collection's row count, at least 1): asking for more
    neighbours than rows exist allocates nothing for the ones that cannot be found.

    >>> check_k(10**9, rows=3), check_k(2**62, rows=0)
    (3, 1)
    """
    if not isinstance(k, (int, np.integer)) or isinstance(k, (bool, np.bool_)) or k <= 0:
        raise InvalidInputError(f"k must be a positive integer, got {k!r}")
    return int(k) if rows is None else min(int(k), max(int(rows), 1))


def check_version(version: Any) -> int:
    """A version number as given to ``open_collection``: a non-negative integer.

    >>> check_version("abc")
    Traceback (most recent call last):
    ...
    vectree.errors.InvalidInputError: version must be a non-negative integer (see Collection.versions()), got 'abc'
    """
    if isinstance(version, (bool, np.bool_)) or not isinstance(version, (int, np.integer)) or version < 0:
        raise InvalidInputError(f"version must be a non-negative integer (see Collection.versions()), got {version!r}")
    return int(version)


def as_metadata(metadata: Any, n: int) -> list[Any] | None:
    """Per-row metadata: None, or a list of n dicts (or None for rows without).

    >>> as_metadata({"a": 1}, 1)
    Traceback (most recent call last):
    ...
    vectree.errors.InvalidInputError: metadata must be a list with one dict (or None) per row, got a dict
    """
    if metadata is None:
        return None
    if isinstance(metadata, (str, bytes, dict)) or not isinstance(metadata, (Sequence, np.ndarray)):
        raise InvalidInputError(
            f"metadata must be a list with one dict (or None) per row, got a {type(metadata).__name__}"
        )
    out = list(metadata)
    if len(out) != n:
        raise InvalidInputError(f"metadata has {len(out)} entries for {n} vectors; give one dict (or None) per row")
    for i, m in enumerate(out):
        if m is not None and not isinstance(m, dict):
            raise InvalidInputError(f"metadata row {i} is a {type(m).__name__}, not a dict (or None)")
    return out


def check_probes(probes: int) -> int:
    """``probes`` as an int, or InvalidInputError; exact search is spelled ``exact=True``, never through probes.

    >>> check_probes(3)
    3
    >>> check_probes("exact")
    Traceback (most recent call last):
    ...
    vectree.errors.InvalidInputError: probes='exact' is not a number of buckets: pass exact=True to scan every bucket
    """
    if probes is None or isinstance(probes, str) and probes.strip().lower() == "exact":
        raise InvalidInputError(f"probes={probes!r} is not a number of buckets: pass exact=True to scan every bucket")
    if not isinstance(probes, (int, np.integer)) or isinstance(probes, bool) or probes <= 0:
        raise InvalidInputError(f"probes must be a positive integer, got {probes!r}")
    return int(probes)


def check_rerank(rerank: Any, k: int) -> int:
    """``rerank`` as the scan's cap on rows read in full (0: no cap, for None), or InvalidInputError.

    >>> check_rerank(None, 10), check_rerank(40, 10)
    (0, 40)
    >>> check_rerank(5, 10)
    Traceback (most recent call last):
    ...
    vectree.errors.InvalidInputError: rerank must be None or an integer >= k (10), got 5
    """
    if rerank is None:
        return 0
    if isinstance(rerank, (bool, np.bool_)) or not isinstance(rerank, (int, np.integer)) or rerank < k:
        raise InvalidInputError(f"rerank must be None or an integer >= k ({k}), got {rerank!r}")
    return int(rerank)


def prepare_rows(vectors: Any, ids: Any, labels: Any, metadata: Any, base: Any) -> tuple[Rows, dict]:
    """Validate one batch of a write against the settings of manifest ``base``: the rows to store, and
    the settings they imply (id, label types, metadata). Raises before anything is written.

    >>> from vectree.collection.manifest import Manifest
    >>> base = Manifest(version=0, settings={"dim": 2, "metric": "l2"})
    >>> rows, settings = prepare_rows([[1, 2]], ["a"], None, [{"k": 1}], base)
    >>> rows.ids.tolist(), rows.metadata, settings["id_type"], settings["has_metadata"]
    (['a'], ['{"k":1}'], 'str', True)
    """
    s = base.settings
    vec = as_vectors(vectors, int(s["dim"]), s["metric"])
    n = len(vec)
    if ids is None:
        if s.get("id_type") == "str":
            raise InvalidInputError("this collection has str ids: pass ids=")
        id_arr, id_type = np.arange(base.next_auto_id, base.next_auto_id + n, dtype=np.int64), "int"
    else:
        id_arr, id_type = as_ids(ids, n, s.get("id_type"))
    lab, label_type = as_labels(labels, n, s.get("label_type"))
    meta = metadata_to_json(as_metadata(metadata, n), n)
    settings = {**s, "id_type": id_type, "label_type": label_type}
    settings["has_metadata"] = bool(s.get("has_metadata")) or meta is not None
    return Rows(ids=id_arr, vectors=vec, labels=lab, metadata=meta), settings


def unpack_batch(batch: Any) -> tuple[Any, Any, Any, Any]:
    """``(vectors, ids, labels, metadata)`` of one batch given as a dict, an array or a tuple."""
    if isinstance(batch, dict):
        return batch.get("vectors"), batch.get("ids"), batch.get("labels"), batch.get("metadata")
    if isinstance(batch, np.ndarray):
        return batch, None, None, None
    items = tuple(batch) + (None,) * (4 - len(batch))
    return items[0], items[1], items[2], items[3]


PIECE_BYTES = 16 << 20  # the vectors of one piece of a batch, validated and written at a time


def pieces(batch: Any) -> Any:
    """``(offset, vectors, ids, labels, metadata)`` of one batch, cut into pieces of at most PIECE_BYTES of float32
    vectors when the batch is a large numpy array: validation and encoding copy what they are given,
    so one 157 MB batch (50,000 rows of 784 floats) peaked at 710 MB while it was added.

    >>> [(o, len(v)) for o, v, *_ in pieces((np.zeros((10, 1 << 20), np.float32), list(range(10)), None, None))]
    [(0, 4), (4, 4), (8, 2)]
    """
    vectors, ids, labels, metadata = unpack_batch(batch)
    if not isinstance(vectors, np.ndarray) or vectors.ndim != 2 or vectors.nbytes <= PIECE_BYTES:
        yield 0, vectors, ids, labels, metadata
        return
    step = max(1, PIECE_BYTES // max(1, vectors.shape[1] * 4))
    parts = [ids, labels, metadata]
    if any(p is not None and not hasattr(p, "__getitem__") for p in parts):
        yield 0, vectors, ids, labels, metadata  # not sliceable: as given
        return
    for s in range(0, len(vectors), step):
        yield (s, vectors[s : s + step], *(None if p is None else p[s : s + step] for p in parts))
