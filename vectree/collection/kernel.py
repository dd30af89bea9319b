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

import numpy as np

from vectree.collection import _scan  # built from _scan.c by `pip install`
from vectree.collection.pruned import reduced
from vectree.collection.snapshot import Block
from vectree.index.projection import Projection

METRIC_CODES = {"l2": 0, "cosine": 1, "dot": 2}


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


def topk_blocks(
    q: np.ndarray,
    blocks: list[tuple[int, Block, np.ndarray | None]],
    proj: Projection | None,
    key: str,
    metric: str,
    k: int,
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """The k best ``(partial distances, refs)`` of one query over ``(slot, block, dead mask)``, then rows seen and read.

    Partial distances follow the full scan's convention (``|x|^2 - 2<q,x>`` for l2, ``-<q,x>`` for
    cosine and dot); refs are ``slot << 32 | row``. With ``proj`` (l2 and cosine only), rows are
    pruned by their projected lower bound.
    """
    q = np.ascontiguousarray(q, np.float32)
    prune = proj is not None and metric in ("l2", "cosine")
    if prune:
        centered = q - proj.mean
        pq = np.ascontiguousarray(centered @ proj.components.T, np.float32)
        pqsq = float(pq @ pq)
        eq = float(np.sqrt(max(float(centered @ centered) - pqsq, 0.0)))
    else:
        pq, pqsq, eq = np.zeros(0, np.float32), 0.0, 0.0
    use = proj if prune else None
    rows = []
    for slot, b, dead in blocks:  # the kernel's columns: vectors, sqnorms, dead, px, pxsq, ex, n, slot
        a = _addresses(b, use, key)
        rows.append((a[0], a[1], 0 if dead is None else dead.ctypes.data, a[2], a[3], a[4], a[5], slot))
    table = np.array(rows, dtype=np.int64).reshape(-1, 8)
    out_d, out_ref = np.empty(k, np.float32), np.empty(k, np.int64)
    filled, read = _scan.topk(q, pq, pqsq, eq, METRIC_CODES[metric], prune, table, out_d, out_ref)
    return out_d[:filled], out_ref[:filled], int(table[:, 6].sum()), read
