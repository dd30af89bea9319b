"""The compiled scan (``vectree/_native/_scan.c``): each query's top k over its buckets, in one call.

A single query reads each probed row once, so its cost is memory traffic plus, in numpy, a fixed
price per array operation per bucket: with tens of small buckets per query the fixed price
dominates. The kernel walks every probed bucket in one call instead, without the GIL.

Ownership: the kernel is handed :class:`~vectree._native._scan.ScanBlock` objects (which hold their
arrays through the buffer protocol) and dead masks as arrays; it takes its own references for the
whole call. No address crosses into C on its own, so no interleaving of threads, evictions or
commits can make it read memory that is gone.

Every probed row is read, in storage order. An exact pruning pass (a projected lower bound per row,
then only the rows it could not rule out read in full) read a third of the rows on arXiv and was still
1.7x slower in batch: rows picked out of order defeat the hardware prefetcher, and probed buckets
live in main memory, not in cache (``benchmarks/README.md``). The top k are kept by
``(distance, reference)``, the full scan's tie order, so the answer is the matrix scan's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vectree._native import _scan  # built from _scan.c by `pip install`
from vectree.collection.plan import TUNING, SearchTuning
from vectree.pools import pool, scan_threads

METRIC_CODES = {"l2": 0, "cosine": 1, "dot": 2}

TopK = tuple[np.ndarray, np.ndarray, np.ndarray]  # partial distances (nq, k), refs (nq, k), filled (nq,)


def empty_topk(nq: int, k: int) -> TopK:
    """Running top-k lists for ``nq`` queries, none filled yet."""
    return np.empty((nq, k), np.float32), np.empty((nq, k), np.int64), np.zeros(nq, np.int64)


def scan_queries(
    queries: np.ndarray,
    metric: str,
    blocks: Sequence[_scan.ScanBlock],
    dead: Sequence[np.ndarray | None],
    slots: np.ndarray,
    plan: np.ndarray,
    top: TopK,
    tuning: SearchTuning = TUNING,
    stats: dict | None = None,
    codes: bool = False,
) -> int:
    """Fold each query's planned blocks into its running top k (``top``, updated in place); returns rows read.

    ``plan`` (nq, p) int64 names, for query i, the blocks it scans in order (indices into ``blocks``,
    -1 for none); ``slots[j]`` is block j's slot, the high half of its rows' references
    (``slot << 32 | row``). Partial distances follow the full scan's convention (``|x|^2 - 2<q,x>``
    for l2, ``-<q,x>`` for cosine and dot); query i's candidates are the first ``filled[i]`` entries
    of its rows, unsorted.

    ``codes``: scan the blocks' int8 codes and read in full only the rows they cannot rule out
    (``_scan.topk_codes``; the same answer); ``stats["rows_reranked"]`` then counts those rows.
    ``tuning.rerank`` > 0 caps those rows at that many a query (the smallest bounds first).
    """
    nq = len(queries)
    if nq == 1 and not codes and queries.dtype == np.float32 and queries.flags.c_contiguous:  # straight to C
        return _scan.topk(queries, METRIC_CODES[metric], blocks, dead, slots, plan, *top)
    q = np.ascontiguousarray(queries, np.float32)
    plan = np.ascontiguousarray(plan, np.int64)
    slots = np.ascontiguousarray(slots, np.int64)
    out_d, out_ref, filled = top
    code = METRIC_CODES[metric]
    blocks, dead = list(blocks), list(dead)

    def part(a: int, b: int) -> tuple[int, int]:  # rows a..b of every array: contiguous views, written in place
        if codes:
            return _scan.topk_codes(
                q[a:b], code, blocks, dead, slots, plan[a:b], out_d[a:b], out_ref[a:b], filled[a:b], tuning.rerank
            )
        return _scan.topk(q[a:b], code, blocks, dead, slots, plan[a:b], out_d[a:b], out_ref[a:b], filled[a:b]), 0

    workers = scan_threads() if nq >= tuning.parallel_min_queries else 1
    if workers == 1:
        read, exact = part(0, nq)
    else:
        cuts = np.linspace(0, nq, workers + 1).astype(int)
        done = list(pool("scan", workers).map(part, cuts[:-1], cuts[1:]))  # the kernel releases the GIL
        read, exact = sum(d[0] for d in done), sum(d[1] for d in done)
    if stats is not None and codes:
        stats["rows_reranked"] = stats.get("rows_reranked", 0) + exact
    return read
