"""The bucket each tail row goes to, worked out once, by the writer that adds the row.

Compaction folds a tail row into the bucket :meth:`Index.assign` gives it, and a reader that groups a
large tail by bucket (:mod:`vectree.collection.routed_tail`) must give every row that same bucket.
Worked out by each reader, that is a (rows x centers) product per new segment in every serving
process, on the cores its queries need: at 1M rows, 10,000 new rows against 4,115 centers took ~110 ms
of both cores at each new version, and queries running meanwhile waited (scale-ingest's slow queries).
So the writer works it out once, under the index of the version it writes on, and records it in the
segment's key list object (:class:`~vectree.format.id_keys.KeyList`); readers and compaction take it
when their version's index is that one, and work it out themselves otherwise (a segment written before
routings were recorded, or on a version whose index a compaction replaced before the write's commit).

>>> import tempfile, vectree
>>> col = vectree.create_collection(tempfile.mkdtemp(), dim=2, bucket_size=2)
>>> _ = col.add(np.array([[0, 0], [1, 0], [9, 9], [8, 9]], np.float32)); _ = col.build()
>>> _ = col.add(np.array([[9, 8]], np.float32))
>>> seg = col.manifest.segments[0]
>>> col._snap.segment_key_list(seg).routing[0] == col.manifest.index  # recorded by the add
True
>>> row = np.array([[9, 8]], np.float32)
>>> tail_buckets(col._snap, seg, row).tolist() == col.index.assign(row).tolist()
True
"""

from __future__ import annotations

import numpy as np

from vectree.collection.manifest import SegmentRef
from vectree.collection.snapshot import Snapshot
from vectree.index.index import Index


def routing_of(index: Index | None, index_fp: str | None, vectors: np.ndarray) -> tuple[str, np.ndarray] | None:
    """What a writer records for rows it writes into the tail of a version with ``index`` (named
    ``index_fp``): ``(index_fp, bucket of each row)``; None before the first build.

    >>> routing_of(None, None, np.zeros((2, 3), np.float32)) is None
    True
    """
    if index is None or not index_fp or not len(vectors):
        return None
    return index_fp, index.assign(np.asarray(vectors, np.float32)).astype(np.int32)


def tail_buckets(snap: Snapshot, seg: SegmentRef, vectors: np.ndarray) -> np.ndarray:
    """The bucket of each row of segment ``seg`` (its ``vectors``, in file order) under ``snap``'s index:
    the writer's routing when it was made under that index, else :meth:`Index.assign` (int64, read-only)."""
    routing = snap.segment_key_list(seg).routing
    if routing is not None and routing[0] == snap.manifest.index and len(routing[1]) == len(vectors):
        return routing[1]
    got = snap.index.assign(np.asarray(vectors, np.float32)).astype(np.int64)
    got.flags.writeable = False
    return got
