"""One query, warm: the lean path in front of the compiled scan (two calls into C and little else).

A single query's own work is small (on GloVe ~8,000 rows of 50 floats, ~70 us in the kernel), so
the fixed price of the general path (:func:`vectree.collection.search.search_snapshot`: routing
through numpy, the planner, a dict of slots, the assembler's generality) was about as large as the
scan itself (``benchmarks/README.md``). This path does the same steps with nothing spare:

1. rank the query's ``probes`` nearest buckets (``_scan.rank_centers`` as :meth:`Index.probe` does, or
   :meth:`Index.probe` itself for trees that do not route by centers);
2. take their blocks from the cache in one walk (:meth:`ByteLRU.get_all`), or give up;
3. scan them in probe order in one kernel call (``_scan.topk``, or ``topk_codes`` through the
   buckets' codes, as the ``quantized`` method does);
4. sort the k candidates by (distance, reference) and look their ids up.

The answer is the general path's for the same method: the same kernel over the same blocks in the
same order, the same tie order, the same distance arithmetic. Whenever a case is not the plain warm
one (a tail of unindexed segments, a bucket not cached, every bucket probed, probed buckets too large
for the cache, which the planner streams), :func:`search_one` returns
None and the caller takes the general path. Blocks are held by this call from the cache walk to the
end, so evictions by other threads cannot reach what the kernel reads.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vectree._native import _scan
from vectree.collection.kernel import METRIC_CODES
from vectree.collection.plan import TUNING, choose_method
from vectree.collection.results import SearchResult
from vectree.collection.search import _largest_bucket_bytes
from vectree.collection.snapshot import Snapshot

_ROW_MASK = 0xFFFFFFFF
_PLANS: dict[int, np.ndarray] = {}  # p -> arange(p): the plan of a p-bucket scan


def _arange(p: int) -> np.ndarray:
    found = _PLANS.get(p)
    if found is None:
        found = _PLANS.setdefault(p, np.arange(p, dtype=np.int64))
        found.flags.writeable = False
    return found


def search_one(
    snap: Snapshot, query: np.ndarray, k: int, probes: int, rerank: int = 0, sq: np.ndarray | None = None
) -> SearchResult | None:
    """The ``k`` nearest rows of one prepared query (float32 (1, dim), normalised for cosine) over
    its ``probes`` nearest buckets, or None when the general path must answer (see the module).
    ``rerank`` > 0 caps the rows a scan through codes reads in full (``SearchTuning.rerank``); ``sq``:
    the query's squared norm as :func:`~vectree.collection.validate.as_vectors_and_norms` gave it (or None).

    >>> import tempfile, vectree
    >>> col = vectree.create_collection(tempfile.mkdtemp(), dim=2, bucket_size=2)
    >>> _ = col.add(np.array([[0, 0], [1, 0], [9, 9], [8, 9]], np.float32), ids=[1, 2, 3, 4]); _ = col.build()
    >>> _ = col.search(np.zeros((1, 2), np.float32), k=1, exact=True)  # every bucket cached
    >>> search_one(col._snap, np.array([[8.5, 9.0]], np.float32), k=2, probes=1).ids.tolist()
    [[3, 4]]
    """
    one = _one_call(snap)
    ranked = None
    if one is not None:
        found = one.search(query, k, probes, rerank, sq)
        if isinstance(found, SearchResult):
            return found
        ranked = found  # the buckets it ranked (None: not its case)
    index = snap.index
    manifest = snap.manifest
    if index is None or manifest.segments:
        return None
    n_buckets = index.n_buckets
    if probes >= n_buckets:  # every bucket, in ascending order: the general path
        return None
    settings = manifest.settings
    has_codes = index.settings.get("codes") is not None
    cache = snap.cache
    capacity = cache.lru.capacity_bytes
    bound = probes * _largest_bucket_bytes(snap)
    if 2 * bound > capacity:  # the planner may stream: leave it to the general path
        return None
    method = choose_method(1, probes, n_buckets, bound, capacity, TUNING, has_codes)
    if ranked is not None:
        order = ranked
    elif index.routes_by_centers and probes * 4 < n_buckets and probes > 0:
        order = np.empty(probes, np.int64)
        ranker = index._center_ranker
        _scan.rank_centers(
            query[0],
            *ranker.arrays(),
            _empty(index),
            order,
        )
    else:  # what Index.probe does for other trees and for many probes
        order = index.probe(query, probes)[0]
    fps = index.bucket_fingerprints
    buckets = [b for b in order.tolist() if fps[b]]
    # (buckets read as their id and vector spans serve it too when it returns no labels)
    blocks = cache.cached([fps[b] for b in buckets], settings.get("label_type") is None)
    if blocks is None:
        return None
    metric = settings["metric"]
    l2 = metric == "l2"
    scan = [b.scan or b.scan_block(l2) for b in blocks]
    dead = [snap.dead_mask(b) for b in blocks] if snap.tombstones else [None] * len(blocks)
    slots = np.array(buckets, np.int64)  # a reference's high half is its bucket, as in the general path
    plan = _arange(len(blocks))[None, :]
    d = np.empty((1, k), np.float32)
    ref = np.empty((1, k), np.int64)
    filled = np.zeros(1, np.int64)
    stats: dict[str, Any] = {
        "buckets_scanned": len(blocks),
        "rows_scanned": 0,
        "segments_scanned": 0,
        "version": manifest.version,
    }
    if has_codes and method == "quantized":
        read, exact = _scan.topk_codes(query, METRIC_CODES[metric], scan, dead, slots, plan, d, ref, filled, rerank)
        stats["rows_reranked"] = exact
    else:
        read = _scan.topk(query, METRIC_CODES[metric], scan, dead, slots, plan, d, ref, filled)
    stats["rows_scanned"] = read
    stats["method"] = method
    by_bucket = dict(zip(buckets, blocks))
    if one is not None:
        one.fill(buckets, blocks, scan)
    return _result(settings, by_bucket, d[0], ref[0], int(filled[0]), _offset(query, sq) if l2 else 1.0, k, l2, stats)


class OneCall:
    """One snapshot's cached buckets held in C (``_scan.Resident``, see ``vectree/_native/_resident.h``),
    so that a warm query is one call: rank the centers, take the probed buckets' blocks, scan, sort,
    write ids and distances. It answers exactly as the lean path below would (the same ranking, kernel,
    blocks, tie order and distance arithmetic), or returns None when a probed bucket is not held: the
    lean path then answers and :meth:`fill` adds what it read.

    The table holds a block only while the cache does: it is filled under the cache's lock from
    blocks the cache still holds, and the cache calls :meth:`drop_fp` when one leaves or moves. Its
    hits reach the cache's recency every ``_FLUSH`` queries (:meth:`flush`).
    """

    def __init__(self, snap: Snapshot) -> None:
        index = snap.index
        ranker = index._center_ranker
        fps = index.bucket_fingerprints
        self.fps = fps
        self.cache = snap.cache
        self.n_buckets = index.n_buckets
        self.version = snap.manifest.version
        self.metric = METRIC_CODES[snap.manifest.settings["metric"]]
        self.l2 = self.metric == 0
        self.has_codes = index.settings.get("codes") is not None
        self.largest = _largest_bucket_bytes(snap)
        self.buckets_of: dict[str, list[int]] = {}
        for b, fp in enumerate(fps):
            if fp:
                self.buckets_of.setdefault(fp, []).append(b)
        skip = np.array([not fp for fp in fps], np.uint8)
        self.table = _scan.Resident(
            skip,
            *ranker.arrays(),
            _empty(index),
        )
        self.methods: dict[int, str | None] = {}  # probes -> the planner's method, None: not this path
        self.usable = True
        self.cache.add_holder(self)

    def _method(self, probes: int) -> str | None:
        n = self.n_buckets
        bound = probes * self.largest
        capacity = self.cache.lru.capacity_bytes
        if not 0 < probes < n or probes * 4 >= n or 2 * bound > capacity:
            return None
        method = choose_method(1, probes, n, bound, capacity, TUNING, self.has_codes)
        return method if method in ("compiled", "quantized") else None

    def search(
        self, query: np.ndarray, k: int, probes: int, rerank: int = 0, sq: np.ndarray | None = None
    ) -> SearchResult | np.ndarray | None:
        """The lean path's answer for one prepared (1, dim) query (``sq``: as :func:`search_one`'s); else the
        buckets it ranked (int64 (probes,), nearest first: not all of them are held), or None (not this
        path's case)."""
        method = self.methods.get(probes, "")
        if method == "":
            method = self.methods[probes] = self._method(probes)
        if method is None or not self.usable:
            return None
        codes = method == "quantized"
        ids = np.empty((1, k), np.int64)
        dist = np.empty((1, k), np.float32)
        off = _offset(query, sq) if self.l2 else 1.0
        order = np.empty(probes, np.int64)
        got = self.table.search(query, self.metric, k, probes, codes, ids, dist, off, order, rerank)
        if got is None:
            return order
        _, read, reranked, scanned = got
        stats: dict[str, Any] = {
            "buckets_scanned": scanned,
            "rows_scanned": read,
            "segments_scanned": 0,
            "version": self.version,
        }
        if codes:
            stats["rows_reranked"] = reranked
        stats["method"] = method
        if self.table.served >= _FLUSH:
            self.flush()
        return SearchResult(ids=ids, distances=dist, labels=None, stats=stats)

    def flush(self) -> None:
        """Report the buckets served since the last flush to the cache's recency and hit count."""
        buckets, hits = self.table.take_touched()
        fps = self.fps
        self.cache.lru.refresh([fps[b] for b in buckets], hits)

    def fill(self, buckets: list[int], blocks: list, scan: list) -> None:
        """Hold these blocks (the lean path's, for ``buckets``) while the cache still holds them."""
        table, fps = self.table, self.fps

        def put(i: int) -> None:
            if not table.put(buckets[i], scan[i], blocks[i].rows.ids):
                self.usable = False  # (ids not int64: never the case for int ids; the lean path answers)

        self.cache.lru.while_held([(fps[b], block) for b, block in zip(buckets, blocks)], put)

    def drop_fp(self, fp: str) -> None:
        """The cache let block ``fp`` go (or moved it): stop holding it."""
        for b in self.buckets_of.get(fp, ()):
            self.table.drop(b)


_FLUSH = 64  # queries between reports of the one-call path's hits to the cache's recency


def _one_call(snap: Snapshot) -> OneCall | None:
    """The snapshot's :class:`OneCall`, made on first use, or None when its collection is not the plain case
    (no index, a tail, deletes, labels, str ids, routing other than by centers)."""
    found = snap.__dict__.get("_one_call")
    if found is None:
        index = snap.index
        manifest = snap.manifest
        settings = manifest.settings
        plain = (
            index is not None
            and not manifest.segments
            and index.routes_by_centers
            and not snap.tombstones
            and settings.get("label_type") is None
            and settings.get("id_type") != "str"
        )
        found = snap.__dict__.setdefault("_one_call", OneCall(snap) if plain else False)
    return found or None


def _empty(index: Any) -> np.ndarray:
    found = index.__dict__.get("_empty_u8")
    if found is None:
        found = index.__dict__["_empty_u8"] = np.ascontiguousarray(index._empty_buckets, dtype=np.uint8)
    return found


def _offset(query: np.ndarray, sq: np.ndarray | None) -> float:
    """An l2 query's offset (its squared norm), as the general path computes it (the same reduction)."""
    return float(sq[0]) if sq is not None else float(np.einsum("ij,ij->i", query, query)[0])


def _result(
    settings: dict[str, Any],
    blocks: dict,
    d: np.ndarray,
    ref: np.ndarray,
    n: int,
    off: float,
    k: int,
    l2: bool,
    stats: dict[str, Any],
) -> SearchResult:
    """The result of one query's ``n`` candidates (``off``: the distance offset), as
    :func:`vectree.collection.results.assemble` makes it."""
    pairs = sorted(zip(d[:n].tolist(), ref[:n].tolist()))
    dist = [p[0] + off for p in pairs]
    if l2:
        dist = [x if x > 0.0 else 0.0 for x in dist]
    found = [(blocks[r >> 32].rows, r & _ROW_MASK) for _, r in pairs]
    pad = k - n
    ids_list = [rows.ids[row] for rows, row in found]
    if settings.get("id_type") == "str":
        ids = np.empty((1, k), dtype=object)
        ids[0, :n] = ids_list
    else:
        ids = np.array([ids_list + [-1] * pad], np.int64) if pad else np.array([ids_list], np.int64)
    distances = np.array([dist + [np.inf] * pad], np.float32)
    labels = None
    label_type = settings.get("label_type")
    if label_type:
        vals = [None if rows.labels is None else rows.labels[row] for rows, row in found]
        if label_type == "int" and n == k and None not in vals:
            labels = np.array([vals], np.int64)
        else:
            labels = np.full((1, k), None, dtype=object)
            labels[0, :n] = vals
    return SearchResult(ids=ids, distances=distances, labels=labels, stats=stats)
