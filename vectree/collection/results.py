"""Search results: :class:`SearchResult`, and the one assembler that turns running top-k lists into it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_ROW_MASK = 0xFFFFFFFF
_PER_CANDIDATE = 256  # up to this many candidates in a result, ids are looked up one by one


@dataclass
class SearchResult:
    """Batch search output; row i answers query i, nearest first.

    ids: (n, k) int64 (-1 where fewer than k rows exist) or object (None) for str ids.
    distances: (n, k) float32 (inf where missing). l2: squared Euclidean; cosine: 1 - cos; dot: 1 - <q, x>.
    labels: (n, k) or None when the collection has no labels; int64 when every label is an int, else object.
    metadata: per query, a list of dicts (only when asked for).
    stats: what the search read (buckets, rows, segments), the method it used and the version it read.
    """

    ids: np.ndarray
    distances: np.ndarray
    labels: np.ndarray | None = None
    metadata: list[list[dict | None]] | None = None
    stats: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)


def concat(parts: list[SearchResult]) -> SearchResult:
    """The results of consecutive slices of a batch, as one."""
    stats = {key: sum(p.stats.get(key, 0) for p in parts) for key in parts[0].stats if key not in ("method", "version")}
    stats.update(method=parts[0].stats.get("method"), version=parts[0].stats.get("version"))
    labels = None if parts[0].labels is None else np.concatenate([p.labels for p in parts])
    metadata = None if parts[0].metadata is None else [m for p in parts for m in p.metadata]
    return SearchResult(
        ids=np.concatenate([p.ids for p in parts]),
        distances=np.concatenate([p.distances for p in parts]),
        labels=labels,
        metadata=metadata,
        stats=stats,
    )


def assemble(
    settings: dict[str, Any],
    top: tuple[np.ndarray, np.ndarray, np.ndarray],
    slots: dict[int, Any],
    offset: np.ndarray,
    include_metadata: bool,
    stats: dict[str, Any],
) -> SearchResult:
    """The result of running top-k lists ``top`` = (partial distances, refs, filled).

    Query i's candidates are the first ``filled[i]`` of its row, in any order; they are sorted by
    (distance, reference), the full scan's order. ``offset[i]`` is the per-query constant the scan
    leaves out (``|q|^2`` for l2, 1 for cosine and dot). A reference is ``slot << 32 | row``, and
    ``slots[slot].rows`` holds that row's id, label and metadata.
    """
    d, ref, filled = top
    nq, k = d.shape
    if nq * k <= _PER_CANDIDATE:  # few: a query at a time, a lookup a candidate (cheaper than numpy groups)
        return _assemble_few(settings, top, slots, offset, include_metadata, stats)
    l2 = settings["metric"] == "l2"
    str_ids = settings.get("id_type") == "str"
    ids = np.full((nq, k), None, dtype=object) if str_ids else np.full((nq, k), -1, dtype=np.int64)
    distances = np.full((nq, k), np.inf, dtype=np.float32)
    label_type = settings.get("label_type")
    labels = np.full((nq, k), None, dtype=object) if label_type else None
    metadata = [[None] * k for _ in range(nq)] if include_metadata else None
    _assemble_many(top, slots, offset, l2, ids, distances, labels, metadata)
    return SearchResult(
        ids=ids, distances=distances, labels=_narrow(labels, label_type), metadata=metadata, stats=stats
    )


def _narrow(labels: np.ndarray | None, label_type: str | None) -> np.ndarray | None:
    if labels is not None and label_type == "int" and not any(v is None for v in labels.ravel()):
        return labels.astype(np.int64)
    return labels


def _assemble_few(
    settings: dict[str, Any],
    top: tuple[np.ndarray, np.ndarray, np.ndarray],
    slots: dict[int, Any],
    offset: np.ndarray,
    include_metadata: bool,
    stats: dict[str, Any],
) -> SearchResult:
    """:func:`assemble` for a few candidates: Python lists, made into arrays once.

    (A distance is the float32 partial distance plus the float32 offset, summed as Python floats and
    rounded to float32 once: the same value as the float32 sum, which is also rounded once.)
    """
    d, ref, filled = top
    nq, k = d.shape
    l2 = settings["metric"] == "l2"
    str_ids = settings.get("id_type") == "str"
    label_type = settings.get("label_type")
    missing_id = None if str_ids else -1
    id_rows, dist_rows, label_rows = [], [], []
    metadata: list[list[dict | None]] | None = [] if include_metadata else None
    for i, (n, off) in enumerate(zip(filled.tolist(), offset.tolist())):
        # (distance, reference) pairs sorted in Python: for ten candidates cheaper than numpy's sort
        pairs = sorted(zip(d[i, :n].tolist(), ref[i, :n].tolist())) if n else []
        pad = [None] * (k - n)
        dist = [p[0] + off for p in pairs]
        dist_rows.append(([x if x > 0.0 else 0.0 for x in dist] if l2 else dist) + [np.inf] * (k - n))
        found = [(slots[r >> 32].rows, r & _ROW_MASK) for _, r in pairs]
        id_rows.append([rows.ids[row] for rows, row in found] + [missing_id] * (k - n))
        if label_type:
            label_rows.append([None if rows.labels is None else rows.labels[row] for rows, row in found] + pad)
        if metadata is not None:
            meta = [None if r.metadata is None or r.metadata[row] is None else r.metadata[row] for r, row in found]
            metadata.append([None if m is None else json.loads(m) for m in meta] + pad)
    distances = np.array(dist_rows, np.float32).reshape(nq, k)
    if str_ids:
        ids = np.empty((nq, k), dtype=object)
        ids[...] = id_rows
    else:
        ids = np.array(id_rows, np.int64).reshape(nq, k)
    labels = None
    if label_type:
        labels = np.empty((nq, k), dtype=object)
        labels[...] = label_rows
    return SearchResult(
        ids=ids, distances=distances, labels=_narrow(labels, label_type), metadata=metadata, stats=stats
    )


def _assemble_many(
    top: tuple[np.ndarray, np.ndarray, np.ndarray],
    slots: dict[int, Any],
    offset: np.ndarray,
    l2: bool,
    ids: np.ndarray,
    distances: np.ndarray,
    labels: np.ndarray | None,
    metadata: list | None,
) -> None:
    """:func:`assemble` for many candidates: one sort for the batch, one numpy group per block."""
    d, ref, filled = top
    nq, k = d.shape
    valid = np.arange(k)[None, :] < filled[:, None]
    d, ref = np.where(valid, d, np.float32(np.inf)), np.where(valid, ref, np.iinfo(np.int64).max)
    order = np.lexsort((ref, d), axis=-1)
    at = np.arange(nq)[:, None]
    d, ref, valid = d[at, order], ref[at, order], valid[at, order]
    dist = d + offset[:, None].astype(np.float32)
    if l2:
        np.maximum(dist, 0.0, out=dist)
    distances[valid] = dist[valid]
    qi, ri = np.nonzero(valid)
    refs = ref[qi, ri]
    slot_of, row_of = refs >> 32, refs & _ROW_MASK
    by_slot = np.argsort(slot_of, kind="stable")
    cuts = np.flatnonzero(np.diff(slot_of[by_slot])) + 1
    for m in np.split(by_slot, cuts):  # one group of candidates per block
        if not len(m):
            continue
        rows, r = slots[int(slot_of[m[0]])].rows, row_of[m]
        ids[qi[m], ri[m]] = rows.ids[r]
        if labels is not None and rows.labels is not None:
            labels[qi[m], ri[m]] = rows.labels[r]
        if metadata is not None and rows.metadata is not None:
            for q, rank, row in zip(qi[m].tolist(), ri[m].tolist(), r.tolist()):
                meta = rows.metadata[row]
                metadata[q][rank] = None if meta is None else json.loads(meta)
