"""What the compiled scan needs of a snapshot's cached buckets, remembered between queries.

One query over a warm cache spent more time finding its blocks than scanning them: an LRU lookup,
a dead mask and a row of addresses per probed bucket cost ~3 us each, ~100 us for arXiv's 32 probes
against a 145 us scan. :class:`ResidentBuckets` keeps, per snapshot, the kernel's row of every bucket
already fetched, so a query's table is one fancy index of it.

It holds blocks by weak reference: the cache alone keeps them alive, so memory stays the cache's to
bound. It is started afresh whenever the cache lets anything go (:attr:`ByteLRU.generation`), so the
query after an eviction walks the LRU again and refreshes recency; between evictions a hit here does
not move a bucket to the front, so the order is close to, not exactly, least recently used.
"""

from __future__ import annotations

import weakref

import numpy as np

from vectree.collection.kernel import BLOCK_COLUMNS, block_row
from vectree.collection.snapshot import Block, Snapshot


class ResidentBuckets:
    """Kernel rows (``table[leaf]``, see :func:`~vectree.collection.kernel.block_row`) and weak
    references of the buckets of one snapshot fetched since the cache last let something go."""

    def __init__(self, n_buckets: int, generation: int) -> None:
        self.generation = generation
        self.table = np.zeros((n_buckets, BLOCK_COLUMNS), np.int64)  # n = 0 (skipped) until described
        self._refs: list[weakref.ref | None] = [None] * n_buckets

    def blocks(self, leaves: list[int]) -> list[Block] | None:
        """The blocks of these (non-empty) leaves, alive while the caller holds the list; None unless
        every one is described here and still alive."""
        refs = self._refs
        try:
            out = [refs[leaf]() for leaf in leaves]
        except TypeError:  # a leaf not described (no reference)
            return None
        return None if None in out else out

    def hold(self, snap: Snapshot, leaves: list[int], blocks: list[Block]) -> None:
        """Describe freshly fetched blocks (the row first: a live reference promises a written row)."""
        metric = snap.manifest.settings["metric"]
        for leaf, block in zip(leaves, blocks):
            self.table[leaf] = block_row(block, snap.dead_mask(block), leaf, metric)
            self._refs[leaf] = weakref.ref(block)


def resident(snap: Snapshot) -> ResidentBuckets:
    """The snapshot's :class:`ResidentBuckets`, started afresh if the cache let anything go since."""
    generation = snap.cache.lru.generation
    found = snap.resident
    if found is None or found.generation != generation:
        found = snap.resident = ResidentBuckets(snap.index.n_buckets, generation)
    return found
