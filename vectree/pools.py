"""Every thread pool of the process, in one registry: what runs where, and why the pools are apart.

==========  =====================================================================================
``io``      requests to a store (local reads and writes, S3 calls): many threads, mostly waiting.
``scan``    the slices of one compiled scan of a batch (the kernel releases the GIL).
``batch``   the slices of a large batch split over threads; each slice may run a compiled scan,
            whose tasks go to ``scan``: a slice waiting on tasks queued behind other slices in its
            own pool would deadlock, so the two are never one pool.
==========  =====================================================================================

A pool is made on first use and lives as long as the process (starting threads per call cost more
than reading a small bucket from the page cache). Tasks never submit to their own pool and wait.

>>> pool("io", 2).submit(sum, [1, 2]).result()
3
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager

_KINDS = ("io", "scan", "batch")
_POOLS: dict[tuple[str, int], ThreadPoolExecutor] = {}
_LOCK = threading.Lock()
_CORES = os.cpu_count() or 1  # (a system call each time: 13 us, a tenth of a query)


def pool(kind: str, workers: int) -> ThreadPoolExecutor:
    """The process's pool of ``kind`` (``io``, ``scan`` or ``batch``) with ``workers`` threads."""
    if kind not in _KINDS:
        raise ValueError(f"unknown pool kind {kind!r}; expected one of {_KINDS}")
    key = (kind, int(workers))
    found = _POOLS.get(key)
    if found is None:
        with _LOCK:
            found = _POOLS.get(key)
            if found is None:
                found = _POOLS[key] = ThreadPoolExecutor(max_workers=int(workers), thread_name_prefix=f"vectree-{kind}")
    return found


def io_pool(workers: int = 8) -> ThreadPoolExecutor:
    """The pool for store requests (``pool("io", workers)``)."""
    return pool("io", workers)


def scan_threads() -> int:
    """Threads a batch is scanned with: ``OMP_NUM_THREADS`` when set (the limit users already give numpy
    and faiss), else every core.

    >>> scan_threads() >= 1
    True
    """
    try:
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    except (KeyError, ValueError):
        return _CORES


_blas = None
_blas_lock = threading.Lock()


def one_blas_thread() -> AbstractContextManager:
    """BLAS limited to one thread while the scan runs its own: split across threads as well, a small
    product on a busy machine took 100x longer."""
    global _blas
    if _blas is None:
        with _blas_lock:
            if _blas is None:
                from threadpoolctl import ThreadpoolController

                _blas = ThreadpoolController()  # scanning the loaded libraries costs ~15 ms: once per process
    return _blas.limit(limits=1, user_api="blas")
