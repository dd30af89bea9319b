"""The unindexed tail grouped by bucket, so that a query reads only the tail rows of the buckets it probes.

Rows added after the last build wait in tail segments until compaction folds them into their buckets.
Scanned flat, a tail of T rows costs every query T rows. At 10M rows, with the tail allowed to reach 1%
of the collection, that is 100,000 rows a query: 25 times what 48 probed buckets hold. Compaction
rewrites whole bucket files, so a small tail bound means rewriting most buckets for a few rows each.

Here each tail row is given the bucket the index would store it in (:meth:`Index.assign`, the rule
compaction follows; worked out by the row's writer: :mod:`vectree.collection.routing`), and a query
scans, of the tail, only its probed buckets' rows: about T x P / B of
them for P of B buckets. A search then finds a tail row exactly when it would find that row once
compacted, and never misses one it would have found. The grouping is made once per version, from
the assignment of each segment, which is made once per (segment, index) pair: a new version that adds
one segment routes only that segment's rows.

The grouped rows are copies, held by the version that made them. The grouping is used when the tail
holds at least ``SearchTuning.routed_tail_rows`` rows and the query probes fewer than every bucket.
Below that bound, the flat scan is cheaper than the grouping, and a newly added row is found by every
query, whatever ``probes`` is.

>>> import tempfile, numpy as np, vectree
>>> col = vectree.create_collection(tempfile.mkdtemp(), dim=2, bucket_size=2)
>>> _ = col.add(np.array([[0, 0], [1, 0], [9, 9], [8, 9]], np.float32), ids=[1, 2, 3, 4]); _ = col.build()
>>> _ = col.add(np.array([[0, 1], [9, 8]], np.float32), ids=[5, 6])
>>> tail = routed_tail(col._snap)
>>> sorted(tail.rows.ids.tolist())
[5, 6]
>>> b = int(col._snap.index.assign(np.array([[9, 8]], np.float32))[0])
>>> tail.part(int(tail.part_of[b])).rows.ids.tolist()
[6]
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vectree.collection.cache import Block
from vectree.collection.kernel import TopK, scan_queries
from vectree.collection.plan import SearchTuning
from vectree.collection.routing import tail_buckets
from vectree.collection.snapshot import Snapshot
from vectree.format.bucket import Rows
from vectree.format.object_keys import SEGMENTS

_KEPT_ASSIGNMENTS = 4096  # (segment, index) assignments kept across versions: 4 bytes a tail row


class RoutedTail:
    """The tail rows of one version, grouped by the bucket each belongs in.

    ``rows`` / ``keys`` hold every tail row in grouped order (by bucket, then segment order);
    ``order[i]`` is the position, among the segments' rows laid end to end in manifest order, of
    grouped row ``i``. Bucket ``b``'s rows are ``starts[p]:ends[p]`` with ``p = part_of[b]`` (-1: none).
    """

    def __init__(self, rows: Rows, keys: np.ndarray, order: np.ndarray, buckets: np.ndarray, n_buckets: int) -> None:
        self.rows, self.keys, self.order = rows, keys, order
        cuts = np.flatnonzero(np.diff(buckets)) + 1
        self.starts = np.concatenate([[0], cuts]).astype(np.int64) if len(buckets) else np.empty(0, np.int64)
        self.ends = np.concatenate([cuts, [len(buckets)]]).astype(np.int64) if len(buckets) else self.starts
        self.part_of = np.full(n_buckets, -1, np.int64)
        self.part_of[buckets[self.starts]] = np.arange(len(self.starts))
        self._parts: dict[int, Block] = {}

    def __len__(self) -> int:
        return len(self.order)

    def part(self, p: int) -> Block:
        """Part ``p``'s rows as a block (views of the grouped rows; made on first use)."""
        found = self._parts.get(p)
        if found is None:
            s, e = int(self.starts[p]), int(self.ends[p])
            r = self.rows
            rows = Rows(
                ids=r.ids[s:e],
                vectors=r.vectors[s:e],
                labels=None if r.labels is None else r.labels[s:e],
                metadata=None if r.metadata is None else r.metadata[s:e],
            )
            found = self._parts.setdefault(p, Block(f"tail-part-{p}", rows, self.keys[s:e]))
        return found

    def dead(self, segment_masks: list[np.ndarray | None], sizes: list[int]) -> np.ndarray | None:
        """The grouped rows to pass over, given each segment's mask (None: none of its rows), or None."""
        if all(m is None for m in segment_masks):
            return None
        laid = np.concatenate([np.zeros(n, bool) if m is None else m for m, n in zip(segment_masks, sizes)])
        return laid[self.order]


def segment_blocks(snap: Snapshot) -> list[Block]:
    """Every tail segment of ``snap``, decoded, in manifest order."""
    return snap.cache.blocks([(SEGMENTS, s.fingerprint) for s in snap.manifest.segments])


def routed_tail(snap: Snapshot, blocks: list[Block] | None = None) -> RoutedTail:
    """The tail of ``snap`` grouped by bucket (made once per version, kept in the cache's derived values).

    ``blocks``: the segments, decoded (:func:`segment_blocks`), when the caller holds them already.
    """
    index = snap.index
    key = (tuple(s.fingerprint for s in snap.manifest.segments), snap.manifest.index)
    derived = snap.cache.derived
    found = derived.get("routed_tail")
    if found is not None and found[0] == key:
        return found[1]
    blocks = segment_blocks(snap) if blocks is None else blocks
    assignments: dict = dict(derived.get("tail_assignments", {}))
    buckets = []
    for seg, block in zip(snap.manifest.segments, blocks):
        akey = (seg.fingerprint, snap.manifest.index)
        got = assignments.get(akey)
        if got is None:
            got = assignments[akey] = tail_buckets(snap, seg, block.rows.vectors)
        buckets.append(got)
    if len(assignments) > _KEPT_ASSIGNMENTS:  # forget the oldest (dicts keep insertion order)
        assignments = dict(list(assignments.items())[-_KEPT_ASSIGNMENTS:])
    derived["tail_assignments"] = assignments
    laid = np.concatenate(buckets) if buckets else np.empty(0, np.int64)
    order = np.argsort(laid, kind="stable")  # within a bucket: segment order, then row order
    dim = int(snap.manifest.settings["dim"])
    rows = Rows.concat([b.rows for b in blocks], dim).take(order)
    keys = np.concatenate([b.keys for b in blocks])[order]
    tail = RoutedTail(rows, keys, order, laid[order], index.n_buckets)
    derived["routed_tail"] = (key, tail)
    return tail


def scan_routed_tail(
    snap: Snapshot,
    queries: np.ndarray,
    order: np.ndarray,
    top: TopK,
    slots: dict,
    stats: dict,
    tuning: SearchTuning,
    skip: Callable[[Block], np.ndarray | None],
    first_slot: int,
) -> None:
    """Each query's probed buckets' tail rows, in one kernel call; part ``p`` of the tail is slot ``first_slot + p``."""
    blocks = segment_blocks(snap)  # held by this call, like every block a scan reads
    tail = routed_tail(snap, blocks)
    stats["segments_scanned"] += len(blocks)
    wanted = tail.part_of[order]  # (nq, probes): the part of each probed bucket, -1 for none
    used = np.unique(wanted[wanted >= 0])
    if not len(used):
        return
    dead_all = tail.dead([skip(b) for b in blocks], [len(b.rows) for b in blocks])
    parts = [tail.part(int(p)) for p in used]
    slots.update(zip((first_slot + used).tolist(), parts))
    l2 = snap.manifest.settings["metric"] == "l2"
    dead = [None if dead_all is None else dead_all[tail.starts[p] : tail.ends[p]] for p in used.tolist()]
    lookup = np.full(len(tail.starts) + 1, -1, np.int64)  # the last entry: buckets with no tail rows
    lookup[used] = np.arange(len(used))
    plan = np.ascontiguousarray(lookup[wanted])
    stats["rows_scanned"] += scan_queries(
        queries,
        snap.manifest.settings["metric"],
        [b.scan_block(l2) for b in parts],
        dead,
        first_slot + used,
        plan,
        top,
        tuning,
        stats,
    )
