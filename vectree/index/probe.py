"""Which buckets a query visits: best-bin-first by distance to the split planes.

A bucket's region is a box in projected space bounded by the split planes on its path. The
squared distance from a projected query to that box is zero for the query's own bucket and grows
with every plane the query would have to cross; it never exceeds the true squared Euclidean
distance to any vector in the bucket (the projection is orthonormal). Visiting buckets in increasing
box distance is best-bin-first over the whole tree, computed for a batch at once with array
operations instead of a priority queue per query.
"""

from __future__ import annotations

import numpy as np

_CHUNK_ELEMENTS = 1 << 22  # bound the (queries x buckets x axes) temporaries to ~16 MB


def box_distances(points: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Squared distance from each projected point (n, m) to each bucket box (L, m): (n, L) float32."""
    # only axes some split uses matter; the others are open on every bucket
    used = np.flatnonzero(np.isfinite(lo).any(axis=0) | np.isfinite(hi).any(axis=0))
    n, n_buckets = len(points), len(lo)
    out = np.zeros((n, n_buckets), dtype=np.float32)
    if used.size == 0 or n == 0:
        return out
    lo_u, hi_u, pts = lo[:, used], hi[:, used], points[:, used]
    step = max(1, _CHUNK_ELEMENTS // max(1, n_buckets * used.size))
    for s in range(0, n, step):
        p = pts[s : s + step, None, :]
        gap = np.maximum(lo_u[None] - p, 0) + np.maximum(p - hi_u[None], 0)
        out[s : s + step] = np.einsum("qlm,qlm->ql", gap, gap)
    return out


def _nearest(d: np.ndarray, probes: int) -> np.ndarray:
    n_buckets = d.shape[1]
    p = min(int(probes), n_buckets)
    if p >= n_buckets:
        return np.argsort(d, axis=1, kind="stable").astype(np.int64)
    part = np.argpartition(d, p - 1, axis=1)[:, :p]
    rows = np.arange(len(d))[:, None]
    order = np.argsort(d[rows, part], axis=1, kind="stable")
    return part[rows, order].astype(np.int64)


def probe_centers(
    points: np.ndarray,
    centers: np.ndarray,
    probes: int,
    first: np.ndarray | None = None,
    empty: np.ndarray | None = None,
    center_sq: np.ndarray | None = None,
) -> np.ndarray:
    """The ``probes`` buckets whose centers are nearest each point, nearest first.

    Used for Voronoi (k-means) trees, whose buckets are round: the nearest centers are the buckets
    nearest the query, as in an inverted-file index. ``first`` (one bucket per point) is put first;
    buckets marked ``empty`` come last.
    """
    if center_sq is None:
        center_sq = np.einsum("ij,ij->i", centers, centers)
    d = center_sq[None, :] - 2.0 * points @ centers.T
    if empty is not None and empty.any():
        d[:, empty] = np.inf
    if first is not None:
        d[np.arange(len(d)), first] = -np.inf
    return _nearest(d, probes)


def probe(points: np.ndarray, lo: np.ndarray, hi: np.ndarray, probes: int) -> np.ndarray:
    """The ``probes`` nearest buckets of each projected point, nearest first: (n, min(probes, L)) int64.

    >>> lo = np.array([[-np.inf], [0.0]], np.float32); hi = np.array([[0.0], [np.inf]], np.float32)
    >>> probe(np.array([[0.5], [-2.0]], np.float32), lo, hi, 1).ravel().tolist()
    [1, 0]
    """
    return _nearest(box_distances(points, lo, hi), probes)
