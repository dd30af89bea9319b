"""The top-k scan of one query over many cached blocks, compiled (``_scan.c``), for small batches.

A single query reads each probed row once, so its cost is memory traffic plus, in numpy, a fixed
price per array operation per block: with tens of small buckets per query the fixed price dominates.
This kernel walks every probed block in one call instead, without the GIL. Blocks stay where the
cache keeps them: the kernel receives their addresses (cached per block) rather than a copy. (A numba
version was as fast but cost 120 MB of RSS at import and 100 MB more at the first call.)

Pruning is exact, as in :mod:`vectree.collection.pruned`: every probed row's projected lower bound
``p + (e_q - e_x)^2`` is computed first; the 4k rows with the smallest bounds are read at full width,
which sets the k-th distance, then only rows whose bound does not pass it: no row that could be in
the answer is skipped and few that cannot are read. The top k are kept by ``(distance, reference)``, the full scan's tie
order, so the answer is the full scan's.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from vectree.collection import _scan  # built from _scan.c by `pip install`
from vectree.collection.pruned import reduced
from vectree.collection.snapshot import Block
from vectree.index.projection import Projection

METRIC_CODES = {"l2": 0, "cosine": 1, "dot": 2}
_PARALLEL_MIN_QUERIES = 64
_POOLS: dict[int, ThreadPoolExecutor] = {}


def scan_threads() -> int:
    """Threads a batch is scanned with: ``OMP_NUM_THREADS`` when set (the limit users already give numpy
    and faiss), else every core."""
    try:
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    except (KeyError, ValueError):
        return os.cpu_count() or 1


def _pool(workers: int) -> ThreadPoolExecutor:
    if workers not in _POOLS:
        _POOLS[workers] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vectree-scan")
    return _POOLS[workers]


def _addresses(block: Block, proj: Projection | None, key: str) -> tuple[int, ...]:
    """``(vectors, sqnorms, px, pxsq, ex, n)``: a block's array addresses, looked up once per block.

    The projected rows (for pruning) are computed on a block's second use: a block read once, as when
    a small cache keeps turning over, is cheaper to scan in full than to project.
    """
    found = block.extra.get(("addresses", key))
    if found is not None:
        return found
    v, s = np.ascontiguousarray(block.rows.vectors, np.float32), block.sqnorms
    if v is not block.rows.vectors:
        block.extra["contiguous"] = v  # keep the copy alive as long as the block
    found = (v.ctypes.data, s.ctypes.data, 0, 0, 0, len(v))
    if proj is None:
        block.extra[("addresses", key)] = found
    elif block.extra.get("seen"):
        px, pxsq, ex = reduced(block, proj, key)
        found = (found[0], found[1], px.ctypes.data, pxsq.ctypes.data, ex.ctypes.data, len(v))
        block.extra[("addresses", key)] = found
    else:
        block.extra["seen"] = True
    return found


def block_row(block: Block, dead: np.ndarray | None, slot: int, proj: Projection | None, key: str) -> tuple[int, ...]:
    """The kernel's description of one block: vectors, sqnorms, dead mask, px, pxsq, ex, n, slot."""
    a = _addresses(block, proj, key)
    return (a[0], a[1], 0 if dead is None else dead.ctypes.data, a[2], a[3], a[4], a[5], slot)


@dataclass
class Prepared:
    """Queries ready for the kernel: float32, and (when pruning) their projection and residual norms."""

    q: np.ndarray
    pq: np.ndarray
    pqsq: np.ndarray
    eq: np.ndarray
    prune: bool
    metric: int


def prepare(queries: np.ndarray, proj: Projection | None, metric: str) -> Prepared:
    """Project the queries once, however many calls scan their blocks."""
    q = np.ascontiguousarray(queries, np.float32)
    nq = len(q)
    prune = proj is not None and metric in ("l2", "cosine")
    if prune:
        centered = q - proj.mean
        pq = np.ascontiguousarray(centered @ proj.components.T, np.float32)
        pqsq = np.einsum("ij,ij->i", pq, pq).astype(np.float32)
        eq = np.sqrt(np.maximum(np.einsum("ij,ij->i", centered, centered) - pqsq, 0.0)).astype(np.float32)
    else:
        pq, pqsq, eq = np.zeros((nq, 0), np.float32), np.zeros(nq, np.float32), np.zeros(nq, np.float32)
    return Prepared(q, pq, pqsq, eq, prune, METRIC_CODES[metric])


def scan_queries(
    queries: np.ndarray | Prepared, table: np.ndarray, proj: Projection | None, metric: str, k: int,
    start: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The k best ``(partial distances, refs)`` of each query over its blocks, then counts and rows read.

    ``table`` (nq, p, 8) int64 holds :func:`block_row` rows (rows with n = 0 are skipped) that must
    stay alive during the call. Partial distances follow the full scan's convention (``|x|^2 - 2<q,x>``
    for l2, ``-<q,x>`` for cosine and dot); refs are ``slot << 32 | row``; query i's candidates are the
    first ``filled[i]`` entries of its rows, unsorted. With ``proj`` (l2 and cosine only), rows are
    pruned by their projected lower bound. ``start`` (d, refs, filled) continues an earlier call's
    candidates (updated in place), so a query's blocks can be scanned a group at a time; pass
    :func:`prepare`'s result as ``queries`` then, to project them once.
    """
    p = queries if isinstance(queries, Prepared) else prepare(queries, proj, metric)
    nq = len(p.q)
    if start is None:
        out_d, out_ref, filled = np.empty((nq, k), np.float32), np.empty((nq, k), np.int64), np.zeros(nq, np.int64)
    else:
        out_d, out_ref, filled = start
    table = np.ascontiguousarray(table, np.int64)

    def part(a: int, b: int) -> int:  # rows a..b of every array: contiguous views, written in place
        return _scan.topk(p.q[a:b], p.pq[a:b], p.pqsq[a:b], p.eq[a:b], p.metric, p.prune, table[a:b], out_d[a:b],
                          out_ref[a:b], filled[a:b])

    workers = scan_threads() if nq >= _PARALLEL_MIN_QUERIES else 1
    if workers == 1:
        return out_d, out_ref, filled, part(0, nq)
    cuts = np.linspace(0, nq, workers + 1).astype(int)
    read = sum(_pool(workers).map(part, cuts[:-1], cuts[1:]))  # the kernel releases the GIL
    return out_d, out_ref, filled, read
