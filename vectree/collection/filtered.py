"""Filtered search: pre-filtering through the scan kernel's skip mask, routing only to buckets with matches.

1. Every bucket's and tail segment's match mask is computed once per (version, filter) from its
   id, label and metadata columns (:mod:`vectree.collection.filters`) and kept with the snapshot;
   rows excluded by id are added per call. A local bucket is memory-mapped, so this reads the
   columns a filter needs, not the vectors.
   Buckets the index's per-bucket statistics rule out (:mod:`vectree.collection.prune`) are never
   fetched at all; indexes built before statistics were stored read every bucket's columns instead.
2. ``probes`` counts only buckets that hold at least one match (the others are never routed to).
3. When few rows match (at most ``EXACT_MATCHES``), they are all scanned exactly.
4. The kernel skips non-matching rows exactly as it skips deleted ones: they are never candidates.
5. A query left with fewer than k results while at least k rows match is searched again exactly
   over the matching buckets, so a filtered search returns k results whenever k rows match.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from vectree.collection.cache import Block
from vectree.collection.filters import Filter, block_columns
from vectree.collection.prune import may_match
from vectree.collection.results import SearchResult
from vectree.collection.search import search_snapshot
from vectree.collection.snapshot import Snapshot
from vectree.errors import InvalidInputError
from vectree.format.id_keys import id_keys

EXACT_MATCHES = 4096  # at most this many matching rows: scan them all
_KEPT_FILTERS = 16  # match masks of this many filters are kept per snapshot
_LOCK = threading.Lock()


def _matches(snap: Snapshot, flt: Filter) -> dict[str, np.ndarray]:
    """fingerprint -> bool match mask of every bucket and segment of ``snap`` that may match (cached per filter).

    Buckets whose statistics in the index rule the filter out are left out without being fetched.
    """
    with _LOCK:
        kept = snap.__dict__.setdefault("_filter_masks", OrderedDict())
        if flt.text in kept:
            kept.move_to_end(flt.text)
            return kept[flt.text]
    refs = snap.file_refs()
    seen: set[str] = set()
    index = snap.index
    if index is not None and index.bucket_stats is not None:
        ruled_out = set()
        for fp, st in zip(index.bucket_fingerprints, index.bucket_stats):
            if fp and st is not None:
                seen.update(f for f in flt.fields if f in st["fields"])
                if not may_match(flt, st):
                    ruled_out.add(fp)
        refs = [r for r in refs if r[1] not in ruled_out]
    out: dict[str, np.ndarray] = {}
    for g in range(0, len(refs), 64):
        for block in snap.cache.blocks(refs[g : g + 64]):
            columns = block_columns(block.rows, block._derived)
            out[block.fingerprint] = flt.mask(columns, len(block.rows.ids))
            seen.update(f for f in flt.fields if columns(f) is not None)
    unknown = [
        f
        for f in flt.fields
        if f not in seen and f != "id" and not (f == "label" and snap.manifest.settings.get("label_type"))
    ]
    if unknown and snap.file_refs():
        raise InvalidInputError(
            f"unknown filter field(s) {unknown}: no row of the collection has them "
            "(fields are 'id', 'label' and metadata keys)"
        )
    with _LOCK:
        kept[flt.text] = out
        while len(kept) > _KEPT_FILTERS:
            kept.popitem(last=False)
    return out


def search_filtered(
    snap: Snapshot,
    queries: np.ndarray,
    k: int,
    probes: int | None,
    flt: Filter | None,
    exclude: np.ndarray | None,
    include_metadata: bool = False,
    method: str = "auto",
) -> SearchResult:
    """Search only rows that match ``flt`` and whose id is not in ``exclude`` (see the module docstring)."""
    matches = _matches(snap, flt) if flt is not None else None
    exclude_keys = None if exclude is None or not len(exclude) else np.unique(id_keys(exclude))
    skips: dict[str, np.ndarray | None] = {}

    def skip(block: Block) -> np.ndarray | None:
        fp = block.fingerprint
        if fp not in skips:
            out = snap.dead_mask(block)
            out = np.zeros(len(block.keys), bool) if out is None else out.copy()
            if matches is not None:
                out |= ~matches[fp]
            if exclude_keys is not None:
                out |= np.isin(block.keys, exclude_keys)
            skips[fp] = out
        return skips[fp]

    index = snap.index
    allowed, live = None, None
    if matches is not None:
        if index is not None and index.n_buckets:
            allowed = np.array([fp in matches and bool(matches[fp].any()) for fp in index.bucket_fingerprints], bool)
        live = _live_matches(snap, skip, matches)
        if live <= EXACT_MATCHES:
            probes = None
    res = search_snapshot(snap, queries, k, probes, include_metadata, method, skip=skip, allowed=allowed)
    found = (res.distances < np.inf).sum(axis=1)
    if live is None and probes is not None and (found < k).any():
        live = _live_matches(snap, skip, matches)  # (excluded ids only: count once some query came up short)
    short = np.flatnonzero(found < min(k, live or 0))
    if len(short) and probes is not None:
        again = search_snapshot(snap, queries[short], k, None, include_metadata, method, skip=skip, allowed=allowed)
        res.ids[short], res.distances[short] = again.ids, again.distances
        if res.labels is not None:
            res.labels[short] = again.labels
        if res.metadata is not None:
            for j, q in enumerate(short.tolist()):
                res.metadata[q] = again.metadata[j]
        res.stats["exact_again"] = int(len(short))
    if live is not None:
        res.stats["matching_rows"] = int(live)
    if allowed is not None:
        res.stats["matching_buckets"] = int(allowed.sum())
        res.stats["buckets_ruled_out"] = sum(1 for fp in index.bucket_fingerprints if fp and fp not in matches)
    return res


def _live_matches(snap: Snapshot, skip: Any, matches: dict | None) -> int:
    """Rows a filtered search may return: matching, not deleted, not excluded (only files that may match)."""
    total = 0
    refs = snap.file_refs()
    if matches is not None:
        refs = [r for r in refs if r[1] in matches and matches[r[1]].any()]
    for g in range(0, len(refs), 64):
        for block in snap.cache.blocks(refs[g : g + 64]):
            total += int((~skip(block)).sum())
    return total


def matching_keys(snap: Snapshot, flt: Filter) -> np.ndarray:
    """Sorted id keys of the live rows of ``snap`` that match ``flt`` (buckets ruled out by their
    statistics are not fetched). What a search that cannot push the filter into its own scan (the
    keyword index) keeps its hits to.

    >>> import vectree
    >>> from vectree.collection.filters import parse_filter
    >>> col = vectree.create_collection("memory://doc-keys", dim=1)
    >>> _ = col.add([[0.0], [1.0]], ids=[4, 5], labels=["a", "b"])
    >>> matching_keys(col._snap, parse_filter({"label": "b"})).tolist() == id_keys(np.array([5])).tolist()
    True
    """
    matches = _matches(snap, flt)
    parts = [np.empty(0, np.int64)]
    refs = [r for r in snap.file_refs() if r[1] in matches and matches[r[1]].any()]
    for g in range(0, len(refs), 64):
        for block in snap.cache.blocks(refs[g : g + 64]):
            keep = matches[block.fingerprint].copy()
            dead = snap.dead_mask(block)
            if dead is not None:
                keep &= ~dead
            parts.append(block.keys[keep])
    return np.unique(np.concatenate(parts))
