"""Exact scanning with fewer bytes: a projected lower bound prunes rows before the full-width distance.

A single query is limited by memory bandwidth, not arithmetic: every probed vector is read once and
used once. So each bucket also keeps (in the read cache, computed once on load) its rows projected on
the scan projection P (the leading principal directions, r << dim) and the norm of what P leaves out.
For a query q and row x, with p = |P(q - x)|^2 and residual norms e_q, e_x:

    p + (e_q - e_x)^2  <=  |q - x|^2  <=  p + (e_q + e_x)^2

The k-th smallest upper bound T over the probed rows is at least the k-th smallest true distance, so
every row whose lower bound exceeds T is provably not among the k nearest; only the others are read at
full width. The answer is exactly the one a full scan of the same buckets gives, for a fraction of the
bytes (about 10% on fashion-mnist). Used for small batches under l2 and cosine; large batches scan with
matrix products, which reuse each bucket across queries.
"""

from __future__ import annotations

import numpy as np

from vectree.collection.snapshot import Block
from vectree.index.projection import Projection

_SLACK = 1e-4  # relative float32 rounding allowance on the bounds


def reduced(block: Block, proj: Projection, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(P x, |P x|^2, residual norm)`` of a block's rows, computed once per block and projection."""
    cached = block.extra.get(key)
    if cached is None:
        centered = block.rows.vectors - proj.mean
        px = (centered @ proj.components.T).astype(np.float32)
        pxsq = np.einsum("ij,ij->i", px, px)
        total = np.einsum("ij,ij->i", centered, centered)
        cached = (px, pxsq, np.sqrt(np.maximum(total - pxsq, 0.0)).astype(np.float32))
        block.extra[key] = cached
    return cached


def pruned_scan(
    q: np.ndarray,
    blocks: list[tuple[int, Block, np.ndarray | None]],
    proj: Projection,
    key: str,
    metric: str,
    k: int,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Top candidates of one query over ``(slot, block, dead mask)``: partial distances, refs, rows read in full.

    Partial distances follow the full scan's convention (``|x|^2 - 2<q,x>`` for l2, ``-<q,x>`` for
    cosine), so candidates merge with those of other blocks unchanged.
    """
    centered = q - proj.mean
    pq = (centered @ proj.components.T).astype(np.float32)
    pqsq = float(pq @ pq)
    eq = float(np.sqrt(max(float(centered @ centered) - pqsq, 0.0)))
    lows, sizes = [], []
    for _, block, dead in blocks:
        px, pxsq, ex = reduced(block, proj, key)
        lo = pxsq - 2.0 * (px @ pq) + pqsq + (eq - ex) ** 2
        if dead is not None:
            lo[dead] = np.inf
        lows.append(lo)
        sizes.append(len(lo))
    lo_all = np.concatenate(lows)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    live = int(np.isfinite(lo_all).sum())
    if live == 0:
        return np.empty(0, np.float32), np.empty(0, np.int64), 0
    # phase 1: the rows with the smallest lower bounds, in full: their k-th distance bounds the answer
    first = min(live, 4 * k)
    chosen = np.argpartition(lo_all, first - 1)[:first] if first < len(lo_all) else np.flatnonzero(np.isfinite(lo_all))
    d1 = _exact(q, blocks, starts, chosen, metric)
    full1 = d1 + (float(q @ q) if metric == "l2" else 0.0)  # |q - x|^2 for l2 ...
    if metric == "cosine":
        full1 = 2.0 + 2.0 * d1  # ... and 2 - 2<q,x> = |q - x|^2 for unit vectors
    threshold = np.partition(full1, min(k, len(full1)) - 1)[min(k, len(full1)) - 1]
    threshold = threshold * (1 + _SLACK) + _SLACK
    # phase 2: every other row whose lower bound does not rule it out
    mask = lo_all <= threshold
    mask[chosen] = False
    second = np.flatnonzero(mask)
    d2 = _exact(q, blocks, starts, second, metric)
    idx = np.concatenate([chosen, second])
    block_of = np.searchsorted(starts, idx, side="right") - 1
    slots = np.array([slot for slot, _, _ in blocks], dtype=np.int64)
    refs = (slots[block_of] << 32) | (idx - starts[block_of])
    return np.concatenate([d1, d2]).astype(np.float32), refs, len(idx)


def _exact(q: np.ndarray, blocks: list, starts: np.ndarray, idx: np.ndarray, metric: str) -> np.ndarray:
    """Partial distances of the rows at flat positions ``idx`` (read at full width)."""
    out = np.empty(len(idx), dtype=np.float32)
    if not len(idx):
        return out
    block_of = np.searchsorted(starts, idx, side="right") - 1
    two_q = q * np.float32(2.0)
    for b in np.unique(block_of):
        sel = np.flatnonzero(block_of == b)
        rows = idx[sel] - starts[b]
        block = blocks[b][1]
        dots = block.rows.vectors[rows] @ two_q
        out[sel] = block.sqnorms[rows] - dots if metric == "l2" else -0.5 * dots
    return out
