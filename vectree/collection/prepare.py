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
"""

from __future__ import annotations

import numpy as np

from vectree.collection.search import search_snapshot
from vectree.collection.single import search_one
from vectree.collection.snapshot import Snapshot


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
