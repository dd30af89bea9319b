"""Batch k-nearest-neighbour search over a snapshot.

Queries are routed to their ``probes`` nearest buckets; every bucket a batch needs is fetched once
(in parallel). Then two ways to scan, chosen by how many queries share each bucket: a compiled
per-query scan (:mod:`vectree.collection.kernel`), which wins when few queries visit each bucket (one
query, a small batch), or, per bucket, one matrix product for all the queries that visit it, which
reads the bucket from memory once for all of them; a compiled step (``offer_rows``) folds each product
into the queries' running top k. The unindexed tail is scanned for every query with matrix products.
Candidates rank by (distance, position) so that ties break the same way however many buckets are
probed: visiting every bucket returns exactly the brute-force answer.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from vectree._native import _scan, as_float32
from vectree.collection.kernel import block_row, one_blas_thread, scan_queries, scan_threads
from vectree.collection.resident import resident
from vectree.collection.snapshot import Block, Snapshot

_FETCH_GROUP = 32  # buckets fetched per parallel round trip during a scan of many buckets
_QUERY_BLOCK = 2048
_SMALL_BATCH = 4  # up to this many queries, always the compiled scan
_SHARED_VISITS = 4  # queries per bucket (on average) from which matrix products beat the compiled scan
_SPLIT_MIN_QUERIES = 256  # a batch split over threads gives each at least this many queries
_STREAM_GROUP = 4  # buckets held at once by a single query whose buckets do not fit the cache (at least)
_SMALL_FINISH = 16  # up to this many queries, results are assembled query by query; beyond, in one sort


@dataclass
class SearchResult:
    """Batch search output; row i answers query i, nearest first.

    ids: (n, k) int64 (-1 where fewer than k rows exist) or object (None) for str ids.
    distances: (n, k) float32 (inf where missing). l2: squared Euclidean; cosine: 1 - cos; dot: 1 - <q, x>.
    labels: (n, k) or None when the collection has no labels; int64 when every label is an int, else object.
    metadata: per query, a list of dicts (only when asked for).
    """

    ids: np.ndarray
    distances: np.ndarray
    labels: np.ndarray | None = None
    metadata: list[list[dict | None]] | None = None
    stats: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)


def use_compiled_scan(n_queries: int, probes: int | None, n_buckets: int) -> bool:
    """Whether a batch takes the compiled per-query scan rather than per-bucket matrix products.

    The compiled scan reads each probed row once per query, from main memory; a matrix product reads
    a bucket once for all the queries that visit it. Measured (``benchmarks/README.md``): products win
    once a bucket is visited by about four queries on average.
    """
    return n_queries <= _SMALL_BATCH or (probes is not None and n_queries * probes < _SHARED_VISITS * n_buckets)


def search_snapshot(
    snap: Snapshot, queries: np.ndarray, k: int, probes: int | None, include_metadata: bool = False
) -> SearchResult:
    """Search prepared queries (float32, normalised for cosine); ``probes=None`` scans every bucket.

    A large batch that takes the matrix products is split over ``OMP_NUM_THREADS`` threads (default
    every core), each with a one-thread BLAS: a product per bucket is too small to split well.
    """
    workers = scan_threads()
    n_buckets = snap.index.n_buckets if snap.index is not None else 0
    if workers > 1 and len(queries) >= _SPLIT_MIN_QUERIES * workers and not use_compiled_scan(len(queries), probes, n_buckets):
        cuts = np.linspace(0, len(queries), workers + 1).astype(int)
        with one_blas_thread():  # each half keeps the matrix products (the compiled scan would nest pools)
            parts = list(_split_pool(workers).map(
                lambda a, b: _search_one_thread(snap, queries[a:b], k, probes, include_metadata, compiled=False),
                cuts[:-1], cuts[1:]))
        return _concat(parts)
    return _search_one_thread(snap, queries, k, probes, include_metadata)


_SPLIT_POOLS: dict[int, ThreadPoolExecutor] = {}


def _split_pool(workers: int) -> ThreadPoolExecutor:
    """Threads for the halves of a batch: not the compiled scan's pool, whose tasks they could wait on."""
    if workers not in _SPLIT_POOLS:
        _SPLIT_POOLS[workers] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vectree-batch")
    return _SPLIT_POOLS[workers]


def _concat(parts: list[SearchResult]) -> SearchResult:
    """The results of consecutive slices of a batch, as one."""
    stats = {key: sum(p.stats.get(key, 0) for p in parts) for key in parts[0].stats}
    labels = None if parts[0].labels is None else np.concatenate([p.labels for p in parts])
    metadata = None if parts[0].metadata is None else [m for p in parts for m in p.metadata]
    return SearchResult(ids=np.concatenate([p.ids for p in parts]), distances=np.concatenate([p.distances for p in parts]),
                        labels=labels, metadata=metadata, stats=stats)


def _search_one_thread(
    snap: Snapshot, queries: np.ndarray, k: int, probes: int | None, include_metadata: bool = False,
    compiled: bool | None = None,
) -> SearchResult:
    metric = snap.manifest.settings["metric"]
    nq = len(queries)
    qn = np.einsum("ij,ij->i", queries, queries).astype(np.float32)
    # blocks by slot, the high half of a candidate's reference: a bucket is numbered by its leaf, a
    # tail segment from n_buckets on
    slots: dict[int, Block] = {}
    n_buckets = snap.index.n_buckets if snap.index is not None else 0
    stats = {"buckets_scanned": 0, "rows_scanned": 0, "segments_scanned": 0}
    top = (np.empty((nq, k), np.float32), np.empty((nq, k), np.int64), np.zeros(nq, np.int64))
    qs = None

    def consume(block: Block, qidx: np.ndarray, slot: int) -> None:
        """One matrix product for every query that visits ``block``, folded into their running top k."""
        nonlocal qs
        if qs is None:  # -2q (l2) or -q: one product gives each distance up to a per-query constant
            qs = queries * np.float32(-2.0 if metric == "l2" else -1.0)
        slots[slot] = block
        dead = snap.dead_mask(block)
        dead_bytes = b"" if dead is None else dead.view(np.uint8)
        vectors = as_float32(block.rows.vectors)  # float16 buckets: widened once per batch
        for s in range(0, len(qidx), _QUERY_BLOCK):
            qi = np.ascontiguousarray(qidx[s : s + _QUERY_BLOCK], dtype=np.int64)
            dist = qs[qi] @ vectors.T
            if metric == "l2":
                dist += block.sqnorms
            _scan.offer_rows(np.ascontiguousarray(dist, np.float32), qi, slot, dead_bytes, *top)
        stats["rows_scanned"] += len(block.rows) * len(qidx)

    index = snap.index
    if compiled is None:
        compiled = index is not None and use_compiled_scan(nq, probes, index.n_buckets)
    if index is not None and index.n_buckets and compiled:
        top = _search_small(snap, queries, k, probes, slots, stats, may_stream=not include_metadata)
    elif index is not None and index.n_buckets:
        all_queries = np.arange(nq)
        if probes is None or probes >= n_buckets:
            groups = [(leaf, all_queries) for leaf in range(n_buckets)]
        else:
            order = index.probe(queries, probes)
            flat_leaf = order.ravel()
            flat_q = np.repeat(all_queries, order.shape[1])
            sort = np.argsort(flat_leaf, kind="stable")
            flat_leaf, flat_q = flat_leaf[sort], flat_q[sort]
            cuts = np.flatnonzero(np.diff(flat_leaf)) + 1
            groups = [(int(flat_leaf[c[0]]), flat_q[c]) for c in np.split(np.arange(len(flat_leaf)), cuts) if len(c)]
        groups = [(leaf, qi) for leaf, qi in groups if index.bucket_fingerprints[leaf]]
        for g in range(0, len(groups), _FETCH_GROUP):
            part = groups[g : g + _FETCH_GROUP]
            blocks = snap.cache.blocks([("buckets", index.bucket_fingerprints[leaf]) for leaf, _ in part])
            for block, (leaf, qidx) in zip(blocks, part):
                consume(block, qidx, leaf)
            stats["buckets_scanned"] += len(part)
    segs = [("segments", s.fingerprint) for s in snap.manifest.segments]
    for g in range(0, len(segs), _FETCH_GROUP):
        for i, block in enumerate(snap.cache.blocks(segs[g : g + _FETCH_GROUP])):
            consume(block, np.arange(nq), n_buckets + g + i)
            stats["segments_scanned"] += 1
    d, ref, filled = top
    if not include_metadata and nq <= _SMALL_FINISH:
        return _finish_small(snap, k, d, ref, filled, slots, qn, metric, stats)
    take = np.arange(k)[None, :] < filled[:, None]
    cand_q = [np.broadcast_to(np.arange(nq)[:, None], (nq, k))[take]]
    # the per-query constant left out of the scan: |q|^2 for l2, 1 for cosine and dot
    offset = qn if metric == "l2" else np.ones(nq, dtype=np.float32)
    return _merge(snap, nq, k, cand_q, [d[take]], [ref[take]], slots, stats, include_metadata, offset, metric == "l2")


def _search_small(snap: Snapshot, queries: np.ndarray, k: int, probes: int | None, slots: dict[int, Block],
                  stats: dict[str, int], may_stream: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each query's probed buckets scanned in one compiled call.

    Returns (partial distances, refs, filled): query i's candidates are the first filled[i] of its row.
    """
    index = snap.index
    nq = len(queries)
    fps = index.bucket_fingerprints
    if probes is None or probes >= index.n_buckets:
        order = np.broadcast_to(np.arange(index.n_buckets), (nq, index.n_buckets))
    else:
        order = index.probe(queries, probes)
    if nq == 1:  # in probe order, which the scan follows
        leaves = [leaf for leaf in order[0].tolist() if fps[leaf]]
    else:  # (np.unique would import numpy.ma on the first query)
        leaves = [leaf for leaf in np.flatnonzero(np.bincount(order.ravel(), minlength=index.n_buckets)).tolist() if fps[leaf]]
    stats["buckets_scanned"] += len(leaves)
    held = resident(snap)
    blocks = held.blocks(leaves)
    if blocks is None:  # not all described since the cache last let something go: walk the cache
        width = 2 if snap.manifest.settings["index"].get("vector_dtype") == "float16" else 4
        wanted = int(index.bucket_rows[leaves].sum()) * int(snap.manifest.settings["dim"]) * width
        if may_stream and nq == 1 and len(leaves) > _STREAM_GROUP and 2 * wanted > snap.cache.lru.capacity_bytes:
            return _search_streamed(snap, queries, k, order[0], slots, stats, wanted // len(leaves))
        blocks = []
        for g in range(0, len(leaves), _FETCH_GROUP):
            blocks += snap.cache.blocks([("buckets", fps[leaf]) for leaf in leaves[g : g + _FETCH_GROUP]])
        held = resident(snap)  # after the fetch, which may have evicted
        held.hold(snap, leaves, blocks)
    slots.update(zip(leaves, blocks))
    metric = snap.manifest.settings["metric"]
    if nq == 1:  # empty leaves have n = 0 rows, which the kernel skips
        table = held.table[order]
        d, ref, filled, _ = scan_queries(queries, table, metric, k)
    else:
        # queries that start in the same bucket run one after another, so its rows are still in cache
        run = np.argsort(order[:, 0], kind="stable")
        table = held.table[order[run]]
        d, ref, filled, _ = scan_queries(queries[run], table, metric, k)
        back = np.argsort(run)
        d, ref, filled = d[back], ref[back], filled[back]
    stats["rows_scanned"] += int(table[:, :, 3].sum())
    return d, ref, filled


class _Kept:
    """What a result needs of a block that was let go: the ids and labels of some of its rows."""

    def __init__(self, block: Block, rows: list[int]) -> None:
        ids, labels = block.rows.ids, block.rows.labels
        self.rows = SimpleNamespace(ids={r: ids[r] for r in rows},
                                    labels=None if labels is None else {r: labels[r] for r in rows})


def _search_streamed(snap: Snapshot, queries: np.ndarray, k: int, order: np.ndarray, slots: dict,
                     stats: dict[str, int], bucket_bytes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One query whose buckets do not fit the cache: scanned a few buckets at a time, nearest first.

    Each group is let go before the next is read (keeping only the ids and labels of the rows still in
    the running top k), so memory holds the cache plus one group, not every probed bucket. A group is
    at most half the cache (``bucket_bytes``: a probed bucket's mean size), and at least
    ``_STREAM_GROUP`` buckets: more buckets a group means fewer round trips to a remote store.
    """
    group = int(min(_FETCH_GROUP, max(_STREAM_GROUP, snap.cache.lru.capacity_bytes // (2 * max(bucket_bytes, 1)))))
    index = snap.index
    fps = index.bucket_fingerprints
    metric = snap.manifest.settings["metric"]
    start = (np.empty((1, k), np.float32), np.empty((1, k), np.int64), np.zeros(1, np.int64))
    leaves = [leaf for leaf in order.tolist() if fps[leaf]]
    scanned = 0
    for g in range(0, len(leaves), group):
        part = leaves[g : g + group]
        blocks = snap.cache.blocks([("buckets", fps[leaf]) for leaf in part])
        table = np.array([block_row(b, snap.dead_mask(b), leaf, metric) for leaf, b in zip(part, blocks)], dtype=np.int64)
        slots.update(zip(part, blocks))
        scan_queries(queries, table[None], metric, k, start=start)
        scanned += int(table[:, 3].sum())
        del table
        held = start[1][0, : int(start[2][0])]
        for leaf in part:
            mine = [int(r & 0xFFFFFFFF) for r in held.tolist() if r >> 32 == leaf]
            slots[leaf] = _Kept(slots[leaf], mine)
        del blocks
    stats["rows_scanned"] += scanned
    return start


def _finish_small(snap: Snapshot, k: int, d: np.ndarray, ref: np.ndarray, filled: np.ndarray, slots: dict[int, Block],
                  qn: np.ndarray, metric: str, stats: dict[str, int]) -> SearchResult:
    """The compiled scan's candidates as a result, when nothing else (tail segments, metadata) joins them.

    The same order as :func:`_merge` (distance, then reference), without concatenating and re-sorting.
    """
    nq = len(d)
    settings = snap.manifest.settings
    str_ids = settings.get("id_type") == "str"
    ids = np.full((nq, k), None, dtype=object) if str_ids else np.full((nq, k), -1, dtype=np.int64)
    label_type = settings.get("label_type")
    labels = np.full((nq, k), None, dtype=object) if label_type else None
    distances = np.full((nq, k), np.inf, dtype=np.float32)
    for i in range(nq):
        n = int(filled[i])
        order = np.lexsort((ref[i, :n], d[i, :n]))  # the full scan's order: distance, then reference
        dist = d[i, order] + np.float32(qn[i] if metric == "l2" else 1.0)
        distances[i, :n] = np.maximum(dist, 0.0) if metric == "l2" else dist
        refs = ref[i, order].tolist()
        rows = [slots[rf >> 32].rows for rf in refs]
        ids[i, :n] = [r.ids[rf & 0xFFFFFFFF] for r, rf in zip(rows, refs)]
        if labels is not None:
            labels[i, :n] = [None if r.labels is None else r.labels[rf & 0xFFFFFFFF] for r, rf in zip(rows, refs)]
    if labels is not None and label_type == "int" and not any(v is None for v in labels.ravel()):
        labels = labels.astype(np.int64)
    return SearchResult(ids=ids, distances=distances, labels=labels, stats=stats)


def _merge(snap, nq, k, cand_q, cand_d, cand_ref, slots, stats, include_metadata, offset, clamp) -> SearchResult:  # noqa: ANN001
    settings = snap.manifest.settings
    str_ids = settings.get("id_type") == "str"
    ids = np.full((nq, k), None, dtype=object) if str_ids else np.full((nq, k), -1, dtype=np.int64)
    distances = np.full((nq, k), np.inf, dtype=np.float32)
    label_type = settings.get("label_type")
    labels = np.full((nq, k), None, dtype=object) if label_type else None
    metadata = [[None] * k for _ in range(nq)] if include_metadata else None
    if cand_q:
        q = np.concatenate(cand_q)
        d = np.concatenate(cand_d)
        ref = np.concatenate(cand_ref)
        keep = np.isfinite(d)
        q, d, ref = q[keep], d[keep], ref[keep]
        order = np.lexsort((ref, d, q))
        q, d, ref = q[order], d[order], ref[order]
        starts = np.searchsorted(q, np.arange(nq))
        rank = np.arange(len(q)) - starts[q]
        sel = rank < k
        q, d, ref, rank = q[sel], d[sel], ref[sel], rank[sel]
        distances[q, rank] = np.maximum(d + offset[q], 0.0) if clamp else d + offset[q]
        slot = ref >> 32
        row = ref & 0xFFFFFFFF
        # one group per block: sorted once and split, not one mask over every candidate per block
        by_slot = np.argsort(slot, kind="stable")
        cuts = np.flatnonzero(np.diff(slot[by_slot])) + 1
        for m in np.split(by_slot, cuts):
            if not len(m):
                continue
            rows = slots[int(slot[m[0]])].rows
            ids[q[m], rank[m]] = rows.ids[row[m]]
            if labels is not None and rows.labels is not None:
                labels[q[m], rank[m]] = rows.labels[row[m]]
            if metadata is not None and rows.metadata is not None:
                import json

                for qq, rr, ro in zip(q[m], rank[m], row[m]):
                    meta = rows.metadata[ro]
                    metadata[qq][rr] = None if meta is None else json.loads(meta)
    if labels is not None and label_type == "int" and not any(v is None for v in labels.ravel()):
        labels = labels.astype(np.int64)
    return SearchResult(ids=ids, distances=distances, labels=labels, metadata=metadata, stats=stats)
