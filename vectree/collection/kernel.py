"""A compiled top-k scan of one query over many cached blocks, for small batches.

A single query reads each probed row once, so its cost is memory traffic plus, in numpy, a fixed
price per array operation per block: with tens of small buckets per query the fixed price dominates.
This kernel walks every probed block in one call instead. Blocks stay where the cache keeps them:
the kernel receives their addresses (cached per block) rather than a copy.

Pruning is exact, as in :mod:`vectree.collection.pruned`: every probed row's projected lower bound
``p + (e_q - e_x)^2`` is computed first; rows are then read at full width in increasing bound, until
the bound passes the k-th distance found so far, so no row that could be in the answer is skipped and
few that cannot are read. The top k are kept by ``(distance, reference)``, the full scan's tie
order, so the answer is the full scan's.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from vectree.collection.pruned import reduced
from vectree.collection.snapshot import Block
from vectree.index.projection import Projection

METRIC_CODES = {"l2": 0, "cosine": 1, "dot": 2}
_SLACK = 1e-4  # relative float32 rounding allowance on the bounds


@intrinsic
def _void_ptr(typingctx, address):  # noqa: ANN001, ANN202 - numba intrinsic
    """An int64 address as a ``void*`` (so ``numba.carray`` can view memory owned by Python)."""

    def codegen(context, builder, signature, args):  # noqa: ANN001, ANN202
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(address), codegen


@nb.njit(cache=True, nogil=True, fastmath=True)
def _offer(best_d, best_ref, filled, worst, part, ref):  # noqa: ANN001, ANN202
    """Keep the k smallest (distance, ref) pairs; returns (filled, worst, changed)."""
    k = len(best_d)
    if filled < k:
        best_d[filled] = part
        best_ref[filled] = ref
        filled += 1
        if filled < k:
            return filled, worst, False
    elif part > best_d[worst] or (part == best_d[worst] and ref > best_ref[worst]):
        return filled, worst, False
    else:
        best_d[worst] = part
        best_ref[worst] = ref
    worst = 0
    for j in range(1, k):
        if best_d[j] > best_d[worst] or (best_d[j] == best_d[worst] and best_ref[j] > best_ref[worst]):
            worst = j
    return filled, worst, True


@nb.njit(cache=True, nogil=True, fastmath=True)
def _topk(q, pq, pqsq, eq, metric, k, prune, vec, sqn, dead, px, pxsq, ex, n_rows, slots, dim, r):  # noqa: ANN001, ANN202
    best_d = np.full(k, np.inf, np.float32)
    best_ref = np.full(k, -1, np.int64)
    qsq = np.float32(0.0)
    for j in range(dim):
        qsq += q[j] * q[j]
    filled = 0
    worst = 0
    read = 0
    n_blocks = len(n_rows)
    if not prune:
        for b in range(n_blocks):
            n = n_rows[b]
            vb = nb.carray(_void_ptr(vec[b]), (n, dim), np.float32)
            sb = nb.carray(_void_ptr(sqn[b]), n, np.float32)
            db = nb.carray(_void_ptr(dead[b]), n if dead[b] != 0 else 0, np.bool_)
            for i in range(n):
                if dead[b] != 0 and db[i]:
                    continue
                dot = np.float32(0.0)
                for j in range(dim):
                    dot += vb[i, j] * q[j]
                part = sb[i] - 2.0 * dot if metric == 0 else -dot
                filled, worst, _ = _offer(best_d, best_ref, filled, worst, part, (slots[b] << 32) | i)
                read += 1
        return best_d[:filled], best_ref[:filled], read
    # pass 1: the projected lower bound of every probed row
    total = 0
    for b in range(n_blocks):
        total += n_rows[b]
    lows = np.empty(total, np.float32)
    where = np.empty(total, np.int64)
    t = 0
    for b in range(n_blocks):
        n = n_rows[b]
        pb = nb.carray(_void_ptr(px[b]), (n, r), np.float32)
        psb = nb.carray(_void_ptr(pxsq[b]), n, np.float32)
        eb = nb.carray(_void_ptr(ex[b]), n, np.float32)
        db = nb.carray(_void_ptr(dead[b]), n if dead[b] != 0 else 0, np.bool_)
        for i in range(n):
            where[t] = (b << 32) | i
            if dead[b] != 0 and db[i]:
                lows[t] = np.inf
            else:
                dot = np.float32(0.0)
                for j in range(r):
                    dot += pb[i, j] * pq[j]
                gap = eq - eb[i]
                lows[t] = psb[i] - 2.0 * dot + pqsq + gap * gap
            t += 1
    # pass 2: rows in increasing bound, read in full until the bound passes the k-th distance
    limit = np.inf
    for t in np.argsort(lows):
        if lows[t] > limit or lows[t] == np.inf:
            break
        b = where[t] >> 32
        i = where[t] & 0xFFFFFFFF
        n = n_rows[b]
        vb = nb.carray(_void_ptr(vec[b]), (n, dim), np.float32)
        dot = np.float32(0.0)
        for j in range(dim):
            dot += vb[i, j] * q[j]
        sb = nb.carray(_void_ptr(sqn[b]), n, np.float32)
        part = sb[i] - 2.0 * dot if metric == 0 else -dot
        read += 1
        filled, worst, changed = _offer(best_d, best_ref, filled, worst, part, (slots[b] << 32) | i)
        if changed and filled == k:
            w = best_d[worst]
            full = w + qsq if metric == 0 else 2.0 + 2.0 * w
            limit = full * (1.0 + _SLACK) + _SLACK
    return best_d[:filled], best_ref[:filled], read


def _addresses(block: Block, proj: Projection | None, key: str) -> tuple[int, ...]:
    """Addresses of a block's arrays, looked up once per block (and projection)."""
    cache_key = ("addresses", key)
    found = block.extra.get(cache_key)
    if found is None:
        v, s = np.ascontiguousarray(block.rows.vectors, np.float32), block.sqnorms
        if v is not block.rows.vectors:
            block.extra["contiguous"] = v  # keep the copy alive as long as the block
        found = (v.ctypes.data, s.ctypes.data, 0, 0, 0)
        if proj is not None:
            px, pxsq, ex = reduced(block, proj, key)
            found = found[:2] + (px.ctypes.data, pxsq.ctypes.data, ex.ctypes.data)
        block.extra[cache_key] = found
    return found


def topk_blocks(
    q: np.ndarray,
    blocks: list[tuple[int, Block, np.ndarray | None]],
    proj: Projection | None,
    key: str,
    metric: str,
    k: int,
) -> tuple[np.ndarray, np.ndarray, int]:
    """The k best ``(partial distances, refs, rows read in full)`` of one query over ``(slot, block, dead mask)``.

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
        r = proj.n_components
    else:
        pq, pqsq, eq, r = np.zeros(1, np.float32), 0.0, 0.0, 0
    addr = np.array([_addresses(b, proj if prune else None, key) for _, b, _ in blocks], dtype=np.int64).reshape(-1, 5)
    dead = np.array([0 if d is None else d.ctypes.data for _, _, d in blocks], dtype=np.int64)
    n_rows = np.array([len(b.rows) for _, b, _ in blocks], dtype=np.int64)
    slots = np.array([s for s, _, _ in blocks], dtype=np.int64)
    dim = q.shape[0]
    return _topk(q, pq, np.float32(pqsq), np.float32(eq), METRIC_CODES[metric], int(k), prune,
                 addr[:, 0].copy(), addr[:, 1].copy(), dead, addr[:, 2].copy(), addr[:, 3].copy(), addr[:, 4].copy(),
                 n_rows, slots, dim, r)
