"""The ``streamed`` scan: one query whose probed buckets do not fit the read cache.

The compiled scan over a few buckets at a time, nearest first; each group is let go before the next is
read, keeping only what the running top k needs of it (see :func:`scan_streamed`).
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np

from vectree.collection.cache import Block
from vectree.collection.kernel import TopK, scan_queries
from vectree.collection.plan import SearchTuning
from vectree.collection.snapshot import Snapshot
from vectree.format.object_keys import BUCKETS


def probed_bytes(snap: Snapshot, buckets: list[int]) -> int:
    """What the vectors of these buckets take, as stored (float16 or float32)."""
    width = 2 if snap.manifest.settings["index"].get("vector_dtype") == "float16" else 4
    return int(snap.index.bucket_rows[buckets].sum()) * int(snap.manifest.settings["dim"]) * width


class _Column:
    """Some rows' values of one column, by row number: what a streamed query keeps of a block it let go."""

    def __init__(self, column: Any, rows: list[int]) -> None:
        self.values = {r: column[r] for r in rows}

    def __getitem__(self, rows: Any) -> Any:
        if isinstance(rows, (int, np.integer)):
            return self.values[int(rows)]
        return np.array([self.values[int(r)] for r in rows], dtype=object)


def _kept(block: Block, rows: list[int]) -> SimpleNamespace:
    r = block.rows
    return SimpleNamespace(
        rows=SimpleNamespace(
            ids=_Column(r.ids, rows),
            labels=None if r.labels is None else _Column(r.labels, rows),
            metadata=None if r.metadata is None else _Column(r.metadata, rows),
        )
    )


def keep_rows(slots: dict, held: dict, top: TopK) -> None:
    """Into ``slots``, what the lists of ``top`` still reference of the blocks in ``held`` (slot -> block):
    their ids, labels and metadata, merged with what ``slots`` already keeps of the same block."""
    refs = np.concatenate([top[1][i, : int(top[2][i])] for i in range(len(top[2]))]) if len(top[2]) else []
    wanted: dict[int, list[int]] = {}
    for r in np.unique(refs).tolist():
        if r >> 32 in held:
            wanted.setdefault(r >> 32, []).append(r & 0xFFFFFFFF)
    for slot, rows in wanted.items():
        kept = _kept(held[slot], rows)
        old = slots.get(slot)
        if old is not None:  # an earlier group kept other rows of this block
            for name in ("ids", "labels", "metadata"):
                if getattr(kept.rows, name) is not None:
                    getattr(kept.rows, name).values.update(getattr(old.rows, name).values)
        slots[slot] = kept


def scan_streamed(
    snap: Snapshot,
    queries: np.ndarray,
    buckets: list[int],
    top: TopK,
    slots: dict,
    stats: dict,
    tuning: SearchTuning,
    skip: Callable[[Block], np.ndarray | None],
    codes: bool = False,
) -> None:
    """One query whose buckets do not fit the cache: a few buckets at a time, nearest first.

    Each group is let go before the next is read (keeping only the ids, labels and metadata of the
    rows still in the running top k), so memory holds the cache plus one group, not every probed
    bucket. A group is at most half the cache and at least ``stream_group`` buckets: more buckets a
    group means fewer round trips to a remote store.
    """
    bucket_bytes = max(1, probed_bytes(snap, buckets) // max(1, len(buckets)))
    group = int(min(tuning.fetch_group, max(tuning.stream_group, snap.cache.lru.capacity_bytes // (2 * bucket_bytes))))
    metric = snap.manifest.settings["metric"]
    l2 = metric == "l2"
    for g in range(0, len(buckets), group):
        part = buckets[g : g + group]
        refs = [(BUCKETS, snap.index.bucket_fingerprints[bucket]) for bucket in part]
        blocks = snap.cache.blocks(refs, tuning.vectors_only)
        plan = np.arange(len(part), dtype=np.int64)[None, :]
        stats["rows_scanned"] += scan_queries(
            queries,
            metric,
            [b.scan_block(l2) for b in blocks],
            [skip(b) for b in blocks],
            np.array(part, np.int64),
            plan,
            top,
            tuning,
            stats,
            codes,
        )
        held = top[1][0, : int(top[2][0])]
        for bucket, block in zip(part, blocks):
            slots[bucket] = _kept(block, [int(r & 0xFFFFFFFF) for r in held.tolist() if r >> 32 == bucket])
        del blocks
    stats["buckets_scanned"] += len(buckets)
