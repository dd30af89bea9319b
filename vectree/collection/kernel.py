"""The top-k scan of one query over many cached blocks, compiled (``vectree/_native/_scan.c``), for small batches.

A single query reads each probed row once, so its cost is memory traffic plus, in numpy, a fixed
price per array operation per block: with tens of small buckets per query the fixed price dominates.
This kernel walks every probed block in one call instead, without the GIL. Blocks stay where the
cache keeps them: the kernel receives their addresses (cached per block) rather than a copy. (A numba
version was as fast but cost 120 MB of RSS at import and 100 MB more at the first call.)

Every probed row is read, in storage order. An exact pruning pass (a projected lower bound per row,
then only the rows it could not rule out read in full) read a third of the rows on arXiv and was still
1.7x slower in batch: rows picked out of order defeat the hardware prefetcher, and probed buckets
live in main memory, not in cache (``benchmarks/README.md``). The top k are kept by
``(distance, reference)``, the full scan's tie order, so the answer is the matrix scan's.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import ThreadpoolController

from vectree._native import _scan  # built from _scan.c by `pip install`
from vectree.collection.snapshot import Block

METRIC_CODES = {"l2": 0, "cosine": 1, "dot": 2}
BLOCK_COLUMNS = 6  # vectors, sqnorms, dead mask, n, slot, bytes per value
_PARALLEL_MIN_QUERIES = 64
_POOLS: dict[int, ThreadPoolExecutor] = {}
_CORES = os.cpu_count() or 1  # (a system call each time: 13 us, a tenth of a query)


def scan_threads() -> int:
    """Threads a batch is scanned with: ``OMP_NUM_THREADS`` when set (the limit users already give numpy
    and faiss), else every core."""
    try:
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    except (KeyError, ValueError):
        return _CORES


_blas: ThreadpoolController | None = None


def one_blas_thread():  # noqa: ANN201 - a context manager
    """BLAS limited to one thread, while the scan runs its own: split across threads as well, a small
    product on a busy machine took 100x longer."""
    global _blas
    if _blas is None:
        _blas = ThreadpoolController()  # scanning the loaded libraries costs ~15 ms: once per process
    return _blas.limit(limits=1, user_api="blas")


def pool(workers: int) -> ThreadPoolExecutor:
    if workers not in _POOLS:
        _POOLS[workers] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vectree-scan")
    return _POOLS[workers]


def _addresses(block: Block, metric: str) -> tuple[int, int, int, int]:
    """``(vectors, sqnorms or 0, n, bytes per value)``: a block's array addresses, looked up once per
    block and metric. float16 vectors are scanned as stored (half the bytes to read)."""
    key = ("addresses", metric == "l2")
    found = block.extra.get(key)
    if found is None:
        stored = block.rows.vectors
        v = np.ascontiguousarray(stored, np.float16 if stored.dtype == np.float16 else np.float32)
        if v is not stored:
            block.extra["contiguous"] = v  # keep the copy alive as long as the block
        sq = block.sqnorms.ctypes.data if metric == "l2" else 0
        found = block.extra[key] = (v.ctypes.data, sq, len(v), v.itemsize)
    return found


def block_row(block: Block, dead: np.ndarray | None, slot: int, metric: str) -> tuple[int, ...]:
    """The kernel's description of one block: vectors, sqnorms (l2 only, else 0), dead mask, n, slot,
    bytes per value (4 or 2)."""
    v, s, n, width = _addresses(block, metric)
    return (v, s, 0 if dead is None else dead.ctypes.data, n, slot, width)


def scan_queries(
    queries: np.ndarray, table: np.ndarray, metric: str, k: int,
    start: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The k best ``(partial distances, refs)`` of each query over its blocks, then counts and rows read.

    ``table`` (nq, p, 6) int64 holds :func:`block_row` rows (rows with n = 0 are skipped) that must
    stay alive during the call. Partial distances follow the full scan's convention (``|x|^2 - 2<q,x>``
    for l2, ``-<q,x>`` for cosine and dot); refs are ``slot << 32 | row``; query i's candidates are the
    first ``filled[i]`` entries of its rows, unsorted. ``start`` (d, refs, filled) continues an earlier
    call's candidates (updated in place), so a query's blocks can be scanned a group at a time.
    """
    q = np.ascontiguousarray(queries, np.float32)
    nq = len(q)
    if start is None:
        out_d, out_ref, filled = np.empty((nq, k), np.float32), np.empty((nq, k), np.int64), np.zeros(nq, np.int64)
    else:
        out_d, out_ref, filled = start
    table = np.ascontiguousarray(table, np.int64)
    code = METRIC_CODES[metric]

    def part(a: int, b: int) -> int:  # rows a..b of every array: contiguous views, written in place
        return _scan.topk(q[a:b], code, table[a:b], out_d[a:b], out_ref[a:b], filled[a:b])

    workers = scan_threads() if nq >= _PARALLEL_MIN_QUERIES else 1
    if workers == 1:
        return out_d, out_ref, filled, part(0, nq)
    cuts = np.linspace(0, nq, workers + 1).astype(int)
    read = sum(pool(workers).map(part, cuts[:-1], cuts[1:]))  # the kernel releases the GIL
    return out_d, out_ref, filled, read
