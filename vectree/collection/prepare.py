"""Ready a newly opened version for queries: the per-version work a first search would otherwise do inline.

A new version's first search pays for what is made once per version: the index decoded (its center
ranking, its buckets' spans), the tombstones, the tail segments decoded and, for a tail past
``SearchTuning.routed_tail_rows``, the tail grouped by bucket (:mod:`vectree.collection.routed_tail`:
each new segment's rows assigned to buckets, the whole tail sorted by bucket). While rows stream in a
new version lands every few seconds, so a reader that moves to it with :meth:`Collection.refresh`
would make one query in every few wait for that work. :func:`prepare` does it at refresh instead,
before the new version replaces the old one: searches running meanwhile (in other threads) still
answer from the version they started on, and a reader that refreshes from its own thread keeps every
query off that work.

A compaction rewrites the buckets it folds rows into (a quarter of them, say), under new fingerprints:
after the move, each query probing one of them would read and check it cold (at 1M rows, the p99 of
queries right after a compaction rose from 0.7 to 18 ms). :func:`warm` reads those the reader held of
the version before, within half the cache, as part of the refresh. From local files it reads them one
at a time on the refreshing thread: a local read is a copy and a hash, CPU work, and read in parallel
(the io pool's threads) they took both cores from the queries the refresh is meant to spare (at 1M
rows, queries during such a refresh: p99 11.3 ms in parallel, 1.0 ms one at a time; the refresh took
1.1 s and 1.5 s). From a remote store, where a read mostly waits, they are read in parallel groups.
"""

from __future__ import annotations

import numpy as np

from vectree.collection.search import search_snapshot
from vectree.collection.single import search_one
from vectree.collection.snapshot import Snapshot
from vectree.format.object_keys import BUCKETS


def prepare(snap: Snapshot) -> None:
    """Make what ``snap``'s searches share (index, tombstones, decoded tail, routed tail) by running one.

    One unit query probing one bucket goes down the query path a single query takes (the lean path, or
    the batch path when the lean one declines, as it does for any tail), so whatever a search makes lazily
    for this version is made now, and nothing is skipped as the search code grows. It reads at most one
    bucket beyond the tail.

    >>> import tempfile, vectree
    >>> col = vectree.create_collection(tempfile.mkdtemp(), dim=2, bucket_size=2)
    >>> _ = col.add(np.array([[0, 0], [1, 0], [9, 9]], np.float32)); _ = col.build()
    >>> prepare(col._snap); "index" in col._snap.__dict__, col._snap.prepared  # decoded, for the next query
    (True, True)
    """
    manifest = snap.manifest
    if manifest.rows:
        query = np.zeros((1, int(manifest.settings["dim"])), np.float32)
        query[0, 0] = 1.0  # a unit vector: a valid prepared query for every metric
        if search_one(snap, query, 1, 1) is None:
            search_snapshot(snap, query, 1, 1)
    snap.prepared = True


_WARM_GROUP = 64  # buckets read per call from a remote store: bounded memory in flight


def warm(snap: Snapshot, previous: Snapshot | None) -> int:
    """Read into the cache the buckets of ``snap`` that replace buckets ``previous`` held there (a
    compaction's rewrites keep their bucket numbers; a split's new buckets, appended, are read when the
    cache held most of the old ones), at most half the cache's bytes; returns how many were read.

    >>> import tempfile, vectree
    >>> path = tempfile.mkdtemp(); col = vectree.create_collection(path, dim=2, bucket_size=4)
    >>> _ = col.add(np.random.default_rng(0).normal(size=(40, 2)).astype(np.float32)); _ = col.build()
    >>> reader = vectree.open_collection(path); _ = reader.search(np.zeros((1, 2), np.float32), probes=100)
    >>> _ = col.add(np.ones((3, 2), np.float32)); _ = col.compact()
    >>> before = reader._snap; new = before.following(vectree.open_collection(path).manifest)
    >>> warm(new, before) > 0  # the buckets the compaction rewrote, read before the move
    True
    """
    old = None if previous is None else previous.__dict__.get("index")
    new = snap.index
    if old is None or new is None or old is new:
        return 0
    lru = snap.cache.lru
    old_fps = old.bucket_fingerprints
    gone = set(old_fps) - {""}
    held = {fp for fp in gone if fp in lru}
    if not held:
        return 0
    most = len(held) >= 0.5 * len(gone)
    want = [
        (b, fp)
        for b, fp in enumerate(new.bucket_fingerprints)
        if fp and fp not in gone and (old_fps[b] in held if b < len(old_fps) else most)
    ]
    width = 2 if snap.manifest.settings["index"].get("vector_dtype") == "float16" else 4
    row = int(snap.manifest.settings["dim"]) * width + 8
    budget, picked = lru.capacity_bytes // 2, []
    for b, fp in want:
        budget -= int(new.bucket_rows[b]) * row
        if budget < 0:
            break
        picked.append(fp)
    group = _WARM_GROUP if snap.store.ranged_reads else 1
    for g in range(0, len(picked), group):
        snap.cache.blocks([(BUCKETS, fp) for fp in picked[g : g + group]], vectors_only=True)
    return len(picked)
