"""Batch k-nearest-neighbour search over a snapshot: route, pick a method, scan, assemble.

1. Route: each query's ``probes`` nearest buckets (:meth:`Index.probe`), or every bucket.
2. Pick: :func:`vectree.collection.plan.choose_method` (or the caller's ``method``).
3. Scan with that method (``compiled``, ``matrix`` or ``streamed``, below) into running top-k
   lists; then the unindexed tail, scanned for every query with matrix products, into the same lists
   (or, for a large tail, only its rows in each query's probed buckets: :mod:`vectree.collection.routed_tail`).
4. Assemble: :func:`vectree.collection.results.assemble`, one for every method.

Every block a scan reads is held by this call (a strong reference from the moment the cache hands
it over until the result is assembled), so what other threads do to the cache cannot reach it.
Candidates rank by (distance, reference) in every method, so that ties break the same way however
many buckets are probed: visiting every bucket returns exactly the brute-force answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from vectree._native import _scan, as_float32
from vectree.collection.cache import Block
from vectree.collection.coldcodes import search_two_phase, use_two_phase
from vectree.collection.kernel import TopK, empty_topk, scan_queries
from vectree.collection.plan import METHODS, TUNING, SearchTuning, choose_method
from vectree.collection.results import SearchResult, assemble, concat
from vectree.collection.routed_tail import scan_routed_tail
from vectree.collection.snapshot import Snapshot
from vectree.collection.streamed import keep_rows, probed_bytes, scan_streamed
from vectree.errors import InvalidInputError
from vectree.format.object_keys import BUCKETS, SEGMENTS
from vectree.pools import one_blas_thread, pool, scan_threads

__all__ = ["SearchResult", "search_snapshot"]
VECTORS_ONLY = replace(TUNING, vectors_only=True)

Skip = Callable[[Block], "np.ndarray | None"]  # rows of a block the scan must pass over (True = skip)


def search_snapshot(
    snap: Snapshot,
    queries: np.ndarray,
    k: int,
    probes: int | None,
    include_metadata: bool = False,
    method: str = "auto",
    tuning: SearchTuning = TUNING,
    skip: Skip | None = None,
    allowed: np.ndarray | None = None,
    rerank: int = 0,
) -> SearchResult:
    """Search prepared queries (float32, normalised for cosine); ``probes=None`` scans every bucket.

    ``method`` forces a scan method (``compiled``, ``matrix``, ``streamed``, ``quantized``; see
    :mod:`vectree.collection.plan`); ``quantized`` needs a collection built with codes.
    ``skip`` (default: the deleted rows) gives each block's rows the kernel passes over, as it passes
    over deleted ones: a filter's pre-filtering mask (:mod:`vectree.collection.filtered`). ``allowed``
    (one bool per bucket) restricts routing to buckets that can hold matches: ``probes`` counts those.
    ``rerank`` > 0: a scan through codes reads at most that many rows of each query in full
    (:attr:`SearchTuning.rerank`).
    """
    skip = skip or snap.dead_mask
    if rerank:
        tuning = replace(tuning, rerank=rerank)
    if not include_metadata and not tuning.vectors_only and snap.manifest.settings.get("label_type") is None:
        tuning = VECTORS_ONLY if tuning is TUNING else replace(tuning, vectors_only=True)
    if method not in METHODS:
        raise InvalidInputError(f"method must be one of {METHODS}, got {method!r}")
    index = snap.index
    nq = len(queries)
    stats: dict[str, Any] = {
        "buckets_scanned": 0,
        "rows_scanned": 0,
        "segments_scanned": 0,
        "version": snap.manifest.version,
    }
    slots: dict[int, Any] = {}  # slot -> the block (or what is kept of it) its references point into
    top = empty_topk(nq, k)
    n_buckets = index.n_buckets if index is not None else 0
    has_codes = n_buckets > 0 and index.settings.get("codes") is not None
    if has_codes and probes is None and method == "auto" and index.settings.get("codes") == "rabitq":
        has_codes = False  # every bucket (exact=True): RaBitQ's bound holds with high probability only
    if method == "quantized" and not has_codes:
        raise InvalidInputError(
            "method='quantized' needs bucket codes: create the collection with codes='int8' or 'rabitq' and build it"
        )
    order = None
    if n_buckets:
        order = _route(index, queries, probes, allowed)
        buckets = _probed_buckets(snap, order, nq)
        if allowed is not None:
            buckets = [bucket for bucket in buckets if allowed[bucket]]
        group = None  # queries a pass may hold, when the batch's buckets do not fit the cache
        if method == "auto":
            capacity = snap.cache.lru.capacity_bytes
            # (one query's bound, without summing its buckets: every probed bucket as large as the largest)
            bound = len(buckets) * _largest_bucket_bytes(snap)
            probed = bound if 2 * bound <= capacity else probed_bytes(snap, buckets)
            if 2 * probed > capacity and nq > 1:  # every method holds what it scans: hold half the cache
                group = _group_size(snap, probes, len(buckets))
            else:
                # (RaBitQ's per-query kernel is slower than the products even on two threads: 6.8k vs 7.7k q/s)
                rabitq = has_codes and index.settings.get("codes") == "rabitq"
                threads = scan_threads() if nq >= tuning.parallel_min_queries and not rabitq else 1
                method = choose_method(nq, probes, n_buckets, probed, capacity, tuning, has_codes, threads)
        elif method == "streamed" and nq > 1:  # asked for: each query streams on its own
            group = 1
        cold = has_codes and allowed is None and (group is not None or method in ("quantized", "streamed"))
        if cold and use_two_phase(snap, buckets, tuning, skip):  # codes first, then the short list's rows
            search_two_phase(snap, queries, order, buckets, top, slots, stats, tuning, skip)
            method = "quantized"
        elif group is not None:
            method = _scan_in_groups(snap, queries, order, allowed, group, top, slots, stats, tuning, skip, has_codes)
        elif method == "matrix":
            _prefetch(snap, buckets, tuning)
            workers = scan_threads()
            if workers > 1 and nq >= tuning.split_min_queries * workers:
                return _split(snap, queries, k, probes, include_metadata, workers, tuning, skip, allowed)
            _scan_matrix(snap, queries, order, buckets, top, slots, stats, tuning, skip)
        elif method == "streamed":  # one query
            scan_streamed(snap, queries, buckets, top, slots, stats, tuning, skip, has_codes)
        else:  # compiled or quantized
            _prefetch(snap, buckets, tuning)
            _scan_compiled(snap, queries, order, buckets, top, slots, stats, tuning, skip, method == "quantized")
        stats["method"] = method
    else:
        stats["method"] = "tail"
    _scan_tail(snap, queries, order, top, slots, stats, tuning, skip)
    metric = snap.manifest.settings["metric"]
    # the per-query constant left out of the scan: |q|^2 for l2, 1 for cosine and dot
    offset = np.einsum("ij,ij->i", queries, queries) if metric == "l2" else np.ones(nq, np.float32)
    return assemble(snap.manifest.settings, top, slots, offset, include_metadata, stats)


def _split(
    snap: Snapshot,
    queries: np.ndarray,
    k: int,
    probes: int | None,
    include_metadata: bool,
    workers: int,
    tuning: SearchTuning,
    skip: Skip,
    allowed: np.ndarray | None,
) -> SearchResult:
    """A large matrix batch in ``workers`` slices on the ``batch`` pool, each with a one-thread BLAS
    (a product per bucket is too small to split well)."""
    cuts = np.linspace(0, len(queries), workers + 1).astype(int)
    with one_blas_thread():
        parts = list(
            pool("batch", workers).map(
                lambda a, b: search_snapshot(
                    snap, queries[a:b], k, probes, include_metadata, "matrix", _no_split(tuning), skip, allowed
                ),
                cuts[:-1],
                cuts[1:],
            )
        )
    out = concat(parts)
    out.stats["threads"] = workers
    return out


def _group_size(snap: Snapshot, probes: int | None, n_probed: int) -> int:
    """Queries a group may hold: their probed buckets in half the cache, every one as large as the largest."""
    per_query = min(n_probed, probes if probes is not None else n_probed) * max(1, _largest_bucket_bytes(snap))
    return max(1, int(snap.cache.lru.capacity_bytes // 2 // per_query))


def _scan_in_groups(
    snap: Snapshot,
    queries: np.ndarray,
    order: np.ndarray | None,
    allowed: np.ndarray | None,
    size: int,
    top: TopK,
    slots: dict,
    stats: dict,
    tuning: SearchTuning,
    skip: Skip,
    codes: bool,
) -> str:
    """A batch whose probed buckets do not fit the cache, ``size`` queries at a time; returns the method.

    Every scan method holds each block it reads until the answer is assembled, so one pass over such a
    batch held all its buckets at once (at 10M rows, 250 queries x 48 probes: over 1 GB past a 183 MB
    cache). Here each group's buckets are let go once the group is scanned, keeping only the ids, labels
    and metadata of the rows in its running top k. A group of one query streams its buckets
    (:mod:`vectree.collection.streamed`); larger groups take the compiled scan (through codes where the
    buckets have them), whose answer for a query does not depend on the other queries of its batch, so
    the groups answer as one pass of that method would. The tail is scanned after, for the whole batch.
    """
    nq = len(queries)
    for a in range(0, nq, size):
        sub = order[a : a + size] if order is not None else None
        buckets = _probed_buckets(snap, sub, len(queries[a : a + size]))
        if allowed is not None:
            buckets = [bucket for bucket in buckets if allowed[bucket]]
        part = tuple(t[a : a + size] for t in top)  # views: the group's rows of the running lists
        held: dict[int, Any] = {}
        if size == 1:
            scan_streamed(snap, queries[a : a + 1], buckets, part, held, stats, tuning, skip, codes)
        else:
            _scan_compiled(snap, queries[a : a + size], sub, buckets, part, held, stats, tuning, skip, codes)
        keep_rows(slots, held, part)
    stats["query_groups"] = -(-nq // size)
    return "streamed" if size == 1 else ("quantized" if codes else "compiled")


def _no_split(tuning: SearchTuning) -> SearchTuning:
    return replace(tuning, split_min_queries=1 << 62)


def _route(index: Any, queries: np.ndarray, probes: int | None, allowed: np.ndarray | None) -> np.ndarray | None:
    """Each query's ``probes`` nearest buckets (None: every bucket); among the ``allowed`` ones if given."""
    n_buckets = index.n_buckets
    if allowed is None:
        return None if probes is None or probes >= n_buckets else index.probe(queries, probes)
    if probes is None or probes >= int(allowed.sum()):
        return None
    full = index.probe(queries, n_buckets)
    ok = allowed[full]
    keep = ok & (np.cumsum(ok, axis=1) <= probes)
    return full[keep].reshape(len(queries), probes)


def _probed_buckets(snap: Snapshot, order: np.ndarray | None, nq: int) -> list[int]:
    """The non-empty buckets the batch visits: in probe order for one query, else ascending."""
    index = snap.index
    fps = index.bucket_fingerprints
    if order is None:
        return [bucket for bucket in range(index.n_buckets) if fps[bucket]]
    if nq == 1:
        return [bucket for bucket in order[0].tolist() if fps[bucket]]
    # (np.unique would import numpy.ma on the first query)
    return [
        bucket
        for bucket in np.flatnonzero(np.bincount(order.ravel(), minlength=index.n_buckets)).tolist()
        if fps[bucket]
    ]


def _prefetch(snap: Snapshot, buckets: list[int], tuning: SearchTuning) -> None:
    """From a remote store, the tail segments and the tombstones come with the probed buckets: one round trip
    (the scans then find them all in the cache), when they are few enough for one fetch group."""
    m = snap.manifest
    tombstones = m.tombstones is not None and "tombstones" not in snap.__dict__
    if (
        not snap.store.ranged_reads
        or not (m.segments or tombstones)
        or len(buckets) + len(m.segments) > tuning.fetch_group
    ):
        return
    fps = snap.index.bucket_fingerprints
    refs = [(BUCKETS, fps[bucket]) for bucket in buckets] + [(SEGMENTS, s.fingerprint) for s in m.segments]
    if not tombstones and snap.cache.cached([fp for _, fp in refs], tuning.vectors_only) is not None:
        return
    pending = snap.store.submit(lambda: snap.tombstones) if tombstones else None
    snap.cache.blocks(refs, tuning.vectors_only)
    if pending is not None:
        pending.result()


def _largest_bucket_bytes(snap: Snapshot) -> int:
    found = snap.__dict__.get("_largest_bucket_bytes")
    if found is None:
        width = 2 if snap.manifest.settings["index"].get("vector_dtype") == "float16" else 4
        found = snap.__dict__["_largest_bucket_bytes"] = (
            int(snap.index.bucket_rows.max()) * int(snap.manifest.settings["dim"]) * width
        )
    return found


def _fetch(snap: Snapshot, buckets: list[int], tuning: SearchTuning) -> list[Block]:
    fps = snap.index.bucket_fingerprints
    warm = snap.cache.cached([fps[bucket] for bucket in buckets], tuning.vectors_only)
    if warm is not None:
        return warm
    out: list[Block] = []
    for g in range(0, len(buckets), tuning.fetch_group):
        part = buckets[g : g + tuning.fetch_group]
        out += snap.cache.blocks([(BUCKETS, fps[bucket]) for bucket in part], tuning.vectors_only)
    return out


def _scan_compiled(
    snap: Snapshot,
    queries: np.ndarray,
    order: np.ndarray | None,
    buckets: list[int],
    top: TopK,
    slots: dict,
    stats: dict,
    tuning: SearchTuning,
    skip: Skip,
    codes: bool = False,
) -> None:
    """Every probed bucket held; each query's buckets in one kernel call (through their codes with ``codes``)."""
    nq = len(queries)
    blocks = _fetch(snap, buckets, tuning)
    slots.update(zip(buckets, blocks))
    l2 = snap.manifest.settings["metric"] == "l2"
    scan = [b.scan or b.scan_block(l2) for b in blocks]
    dead = [skip(b) for b in blocks] if snap.tombstones or skip != snap.dead_mask else [None] * len(blocks)
    slot_arr = np.array(buckets, np.int64)
    if nq == 1:  # in probe order, which the scan follows
        plan = np.arange(len(buckets), dtype=np.int64)[None, :]
        read = scan_queries(
            queries, snap.manifest.settings["metric"], scan, dead, slot_arr, plan, top, tuning, stats, codes
        )
    else:
        lookup = np.full(snap.index.n_buckets, -1, np.int64)
        lookup[buckets] = np.arange(len(buckets))
        full = (
            order if order is not None else np.broadcast_to(np.arange(snap.index.n_buckets), (nq, snap.index.n_buckets))
        )
        # queries that start in the same bucket run one after another, so its rows are still in cache
        run = np.argsort(full[:, 0], kind="stable")
        part = empty_topk(nq, top[0].shape[1])
        read = scan_queries(
            queries[run],
            snap.manifest.settings["metric"],
            scan,
            dead,
            slot_arr,
            lookup[full[run]],
            part,
            tuning,
            stats,
            codes,
        )
        back = np.argsort(run)
        for mine, theirs in zip(top, part):
            mine[...] = theirs[back]
    stats["buckets_scanned"] += len(buckets)
    stats["rows_scanned"] += read


def _scan_matrix(
    snap: Snapshot,
    queries: np.ndarray,
    order: np.ndarray | None,
    buckets: list[int],
    top: TopK,
    slots: dict,
    stats: dict,
    tuning: SearchTuning,
    skip: Skip,
) -> None:
    """Per bucket, one matrix product for every query that visits it; buckets a group at a time."""
    nq = len(queries)
    if order is None:
        visitors = {bucket: np.arange(nq) for bucket in buckets}
    else:
        flat_bucket = order.ravel()
        flat_q = np.repeat(np.arange(nq), order.shape[1])
        sort = np.argsort(flat_bucket, kind="stable")
        flat_bucket, flat_q = flat_bucket[sort], flat_q[sort]
        cuts = np.flatnonzero(np.diff(flat_bucket)) + 1
        starts = np.concatenate([[0], cuts])
        visitors = {int(flat_bucket[s]): q for s, q in zip(starts, np.split(flat_q, cuts))}
    fps = snap.index.bucket_fingerprints
    scaled = _scaled(snap, queries)
    for g in range(0, len(buckets), tuning.fetch_group):
        part = buckets[g : g + tuning.fetch_group]
        blocks = snap.cache.blocks([(BUCKETS, fps[bucket]) for bucket in part], tuning.vectors_only)
        for bucket, block in zip(part, blocks):
            _offer_block(snap, scaled, block, visitors[bucket], bucket, top, slots, stats, tuning, skip)
        stats["buckets_scanned"] += len(part)


def _scan_tail(
    snap: Snapshot,
    queries: np.ndarray,
    order: np.ndarray | None,
    top: TopK,
    slots: dict,
    stats: dict,
    tuning: SearchTuning,
    skip: Skip,
) -> None:
    """The unindexed tail segments, for every query (slots from ``n_buckets`` on); a tail of at least
    ``tuning.routed_tail_rows`` rows, for queries routed to ``order``'s buckets: only their buckets' rows."""
    if not snap.manifest.segments:
        return
    segs = [(SEGMENTS, s.fingerprint) for s in snap.manifest.segments]
    first = snap.index.n_buckets if snap.index is not None else 0
    if order is not None and sum(s.rows for s in snap.manifest.segments) >= tuning.routed_tail_rows:
        scan_routed_tail(snap, queries, order, top, slots, stats, tuning, skip, first + len(segs))
        return
    every = np.arange(len(queries))
    scaled = _scaled(snap, queries)
    for g in range(0, len(segs), tuning.fetch_group):
        for i, block in enumerate(snap.cache.blocks(segs[g : g + tuning.fetch_group])):
            _offer_block(snap, scaled, block, every, first + g + i, top, slots, stats, tuning, skip)
            stats["segments_scanned"] += 1


def _scaled(snap: Snapshot, queries: np.ndarray) -> np.ndarray:
    """-2q (l2) or -q: one product with a block's rows then gives each distance up to a per-query constant."""
    return queries * np.float32(-2.0 if snap.manifest.settings["metric"] == "l2" else -1.0)


def _offer_block(
    snap: Snapshot,
    scaled: np.ndarray,
    block: Block,
    qidx: np.ndarray,
    slot: int,
    top: TopK,
    slots: dict,
    stats: dict,
    tuning: SearchTuning,
    skip: Skip,
) -> None:
    """One matrix product for every query in ``qidx`` (``scaled``: see :func:`_scaled`) against ``block``,
    folded into their running top k."""
    slots[slot] = block
    dead = skip(block)
    dead_bytes = b"" if dead is None else dead.view(np.uint8)
    vectors = as_float32(block.rows.vectors)  # float16 buckets: widened once per batch
    l2 = snap.manifest.settings["metric"] == "l2"
    for s in range(0, len(qidx), tuning.query_block):
        qi = np.ascontiguousarray(qidx[s : s + tuning.query_block], dtype=np.int64)
        dist = scaled[qi] @ vectors.T
        if l2:
            dist += block.sqnorms
        _scan.offer_rows(np.ascontiguousarray(dist, np.float32), qi, slot, dead_bytes, *top)
    stats["rows_scanned"] += len(block.rows) * len(qidx)
