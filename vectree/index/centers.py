"""Bucket centers at full width: the nearest-center assignment and its Lloyd refinement.

The tree is fitted in the projected space, which on high-dimensional embeddings keeps only part of
the distance (32 of MiniLM's 384 dimensions hold about half its variance). Its buckets are a good
start, not a good partition: a few Lloyd iterations at full width, on the sample the tree was fitted
on, move each bucket's center to where its rows are and each row to the bucket it is nearest. Queries
then visit buckets in order of distance to their centers, as an inverted file does, and a row is
stored in the bucket whose center is nearest, so the buckets a query ranks first are the buckets that hold
its neighbours. Measured in ``benchmarks/README.md``: 10-25% fewer rows scanned at equal recall.
"""

from __future__ import annotations

import numpy as np

from vectree._native import _scan

_BLOCK_ELEMENTS = 1 << 22  # bound the (rows x centers) distance block to ~16 MB


def center_norms(centers: np.ndarray) -> np.ndarray:
    """Squared norms of the centers, the constant part of every distance to them."""
    return np.einsum("ij,ij->i", centers, centers)


def nearest_center(x: np.ndarray, centers: np.ndarray, norms: np.ndarray | None = None) -> np.ndarray:
    """Index of the nearest center (squared l2) of each row of ``x``: (n,) int64.

    Ties go to the lower index. Queries rank centers with the same expression, so a stored row's
    own bucket is the first its query visits.

    >>> c = np.array([[0.0, 0.0], [10.0, 0.0]], np.float32)
    >>> nearest_center(np.array([[1.0, 1.0], [9.0, -1.0]], np.float32), c).tolist()
    [0, 1]
    """
    x = np.asarray(x)  # float32, or float16 (a float16 collection's sample): converted a block at a time
    norms = center_norms(centers) if norms is None else norms
    out = np.empty(len(x), dtype=np.int64)
    step = max(1, _BLOCK_ELEMENTS // max(1, len(centers)))
    block = np.empty((min(step, len(x)), len(centers)), np.float32)  # one block for every step, not two at once
    centers_t = np.asarray(centers, dtype=np.float32).T
    for s in range(0, len(x), step):
        d = block[: min(step, len(x) - s)]
        np.matmul(np.asarray(x[s : s + step], dtype=np.float32), centers_t, out=d)
        d *= -2.0
        d += norms
        out[s : s + step] = d.argmin(1)
    return out


def centers_of(x: np.ndarray, assign: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """The center of each bucket (or cluster): the mean of the rows of ``x`` assigned to it; an empty one
    keeps its ``previous`` center."""
    n_buckets, dim = previous.shape
    counts = np.bincount(assign, minlength=n_buckets)
    order = np.argsort(assign, kind="stable")
    ranked = assign[order]
    # a reduceat over rows sorted by bucket, one block of ~16 MB of gathered rows at a time: no
    # per-bucket Python loop, no (n, dim) scatter, and no copy of the whole sample (the build's peak)
    sums = np.zeros((n_buckets, dim), np.float32)
    step = max(1, _BLOCK_ELEMENTS // max(1, dim))
    for s in range(0, len(order), step):
        a = ranked[s : s + step]
        starts = np.flatnonzero(np.concatenate([[True], a[1:] != a[:-1]]))
        block = np.asarray(x[order[s : s + step]], dtype=np.float32)  # float16 rows are summed in float32
        sums[a[starts]] += np.add.reduceat(block, starts, axis=0)  # (a bucket once a block)
    used = counts > 0
    out = previous.astype(np.float32, copy=True)
    out[used] = sums[used] / counts[used, None]
    return out


def refine_centers(x: np.ndarray, assign: np.ndarray, n_buckets: int, iterations: int) -> tuple[np.ndarray, np.ndarray]:
    """Full-width centers for the buckets ``assign`` gives the rows of ``x``, after ``iterations`` Lloyd steps.

    Each step moves every row to its nearest center, then every center to the mean of its rows.
    Returns ``(centers, assign)``: the centers rounded to float16, as the index stores them, and the
    last step's assignment (close to the final one: good enough to plan partitions by).

    >>> x = np.array([[0.0], [1.0], [9.0], [10.0]], np.float32)
    >>> refine_centers(x, np.array([0, 1, 1, 1]), 2, 2)[0].ravel().tolist()
    [0.5, 9.5]
    """
    x = np.asarray(x)  # float32 or float16 rows: nearest_center and centers_of convert a block at a time
    centers = centers_of(x, assign, np.zeros((n_buckets, x.shape[1]), np.float32))
    for _ in range(iterations):
        assign = nearest_center(x, centers)
        centers = centers_of(x, assign, centers)
    return centers.astype(np.float16).astype(np.float32), assign


_SMALL_PRODUCT = 1 << 23  # multiply-adds below which a product skips BLAS (~3 ms on one core at most)


class CenterRanker:
    """The ``probes`` nearest centers of a few queries, exactly, without reading every center in full.

    A matrix-vector product over all centers reads them all for each query (3.4 MB on fashion-mnist's
    1,082 buckets of 784-d): for one query that costs more than scanning its buckets. Instead, with P
    the fitted projection and e the norm of what it leaves out,

        |P(q - c)|^2 + (e_q - e_c)^2  <=  |q - c|^2,

    so the compiled ranking (``vectree/_native/_scan.c``) reads in full only the centers whose bound is
    below the ``probes``-th distance found: the same centers, in the same order, as the full product.
    Large batches still take the product, which reuses every center across the queries.
    """

    def arrays(self) -> tuple[np.ndarray, ...]:
        """What the compiled ranking reads, in its argument order: mean, components, centers, norms, pc, pcsq, ec."""
        return self.mean, self.components, self.centers, self.norms, self.pc, self.pcsq, self.ec

    def __init__(self, centers: np.ndarray, norms: np.ndarray, mean: np.ndarray, components: np.ndarray) -> None:
        self.centers = np.ascontiguousarray(centers, dtype=np.float32)
        self.norms = np.ascontiguousarray(norms, dtype=np.float32)
        self.mean = np.ascontiguousarray(mean, dtype=np.float32)
        self.components = np.ascontiguousarray(components, dtype=np.float32)
        centered = self.centers - self.mean
        if centered.size * len(self.components) <= _SMALL_PRODUCT:
            # a small product without BLAS: on a busy machine a threaded BLAS took 8-24 ms for what
            # one core does in 0.2 ms, a tenth of a cold query
            pc = np.einsum("ij,kj->ik", centered, self.components)
        else:
            pc = centered @ self.components.T
        self.pc = np.ascontiguousarray(pc, dtype=np.float32)
        self.pcsq = np.einsum("ij,ij->i", self.pc, self.pc).astype(np.float32)
        self.ec = np.sqrt(np.maximum(np.einsum("ij,ij->i", centered, centered) - self.pcsq, 0.0)).astype(np.float32)

    def rank(self, queries: np.ndarray, probes: int, empty: np.ndarray) -> np.ndarray:
        """(n, probes) center numbers, nearest first (ties by number); ``empty`` centers come last."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        empty = np.ascontiguousarray(empty, dtype=np.uint8)
        out = np.empty((len(queries), probes), dtype=np.int64)
        for i in range(len(queries)):
            _scan.rank_centers(
                queries[i],
                self.mean,
                self.components,
                self.centers,
                self.norms,
                self.pc,
                self.pcsq,
                self.ec,
                empty,
                out[i],
            )
        return out
