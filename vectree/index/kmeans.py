"""Lloyd's k-means with k-means++ seeding, in numpy, for the tree's Voronoi nodes."""

from __future__ import annotations

import numpy as np

from vectree.index.centers import centers_of, nearest_center


def kmeans(x: np.ndarray, k: int, *, seed: int = 0, iterations: int = 15) -> tuple[np.ndarray, np.ndarray]:
    """Cluster rows of ``x`` into at most ``k`` groups; return ``(centers, assignment)``.

    Seeding is k-means++ on a subsample of ``64 k`` rows, then ``iterations`` Lloyd steps on all
    rows. Empty clusters are dropped, so fewer than ``k`` centers may come back.

    >>> x = np.concatenate([np.zeros((20, 2)), np.ones((20, 2)) * 9]).astype(np.float32)
    >>> c, a = kmeans(x, 2); sorted(np.bincount(a).tolist())
    [20, 20]
    """
    rng = np.random.default_rng(seed)
    x = np.asarray(x, dtype=np.float32)
    k = max(1, min(int(k), len(x)))
    sub = x[rng.choice(len(x), size=min(len(x), 64 * k), replace=False)]
    centers = np.empty((k, x.shape[1]), dtype=np.float32)
    centers[0] = sub[rng.integers(len(sub))]
    closest = ((sub - centers[0]) ** 2).sum(1)
    for j in range(1, k):
        total = closest.sum()
        pick = rng.choice(len(sub), p=closest / total) if total > 0 else rng.integers(len(sub))
        centers[j] = sub[pick]
        closest = np.minimum(closest, ((sub - centers[j]) ** 2).sum(1))
    assign = np.zeros(len(x), dtype=np.int64)
    for _ in range(iterations):
        assign = nearest_center(x, centers)
        keep = np.bincount(assign, minlength=len(centers)) > 0
        centers = centers_of(x, assign, centers)[keep]
    assign = nearest_center(x, centers)
    used = np.unique(assign)
    remap = np.full(len(centers), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return centers[used], remap[assign]
