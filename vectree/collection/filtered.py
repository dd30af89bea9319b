"""Filtered search: pre-filtering through the scan kernel's skip mask, routing only to buckets with matches.

1. Every bucket's and tail segment's match mask is computed once per (version, filter) from its
   id, label and metadata columns (:mod:`vectree.collection.filters`) and kept with the snapshot;
   rows excluded by id are added per call. A local bucket is memory-mapped, so this reads the
   columns a filter needs, not the vectors.
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
from vectree.collection.results import SearchResult
from vectree.collection.search import search_snapshot
from vectree.collection.snapshot import Snapshot
from vectree.errors import InvalidInputError
from vectree.format.id_keys import id_keys

EXACT_MATCHES = 4096  # at most this many matching rows: scan them all
_KEPT_FILTERS = 16  # match masks of this many filters are kept per snapshot
_LOCK = threading.Lock()


def _matches(snap: Snapshot, flt: Filter) -> dict[str, np.ndarray]:
    """fingerprint -> bool match mask of every bucket and segment of ``snap`` (cached per filter)."""
    with _LOCK:
        kept = snap.__dict__.setdefault("_filter_masks", OrderedDict())
        if flt.text in kept:
            kept.move_to_end(flt.text)
            return kept[flt.text]
    refs = snap.file_refs()
    out: dict[str, np.ndarray] = {}
    seen: set[str] = set()
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
    if unknown and refs:
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
            allowed = np.array([bool(fp) and bool(matches[fp].any()) for fp in index.bucket_fingerprints], bool)
        live = _live_matches(snap, skip)
        if live <= EXACT_MATCHES:
            probes = None
    res = search_snapshot(snap, queries, k, probes, include_metadata, method, skip=skip, allowed=allowed)
    found = (res.distances < np.inf).sum(axis=1)
    if live is None and probes is not None and (found < k).any():
        live = _live_matches(snap, skip)  # (excluded ids only: count once some query came up short)
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
    return res


def _live_matches(snap: Snapshot, skip: Any) -> int:
    """Rows a filtered search may return: matching, not deleted, not excluded."""
    total = 0
    refs = snap.file_refs()
    for g in range(0, len(refs), 64):
        for block in snap.cache.blocks(refs[g : g + 64]):
            total += int((~skip(block)).sum())
    return total
