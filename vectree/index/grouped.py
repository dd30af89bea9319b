"""The nearest of many centers without comparing a row with every one: centers grouped, groups pruned.

At 10M rows a build has ~41,000 buckets, and routing every row to its nearest center by one product
with all of them costs rows x centers x dim multiply-adds (27 minutes of one core at 10M x 41k x 96).
Here the centers are clustered once into about ``2 sqrt(n)`` groups, each with its centroid ``g`` and
radius ``r`` (the farthest member). A row first scans the members of its nearest group; any other
group can hold a nearer center only if ``(|x - g| - r)^2`` is below the best distance found so far
(the triangle inequality), so only those groups are scanned. The answer is the exact nearest center:
the same as :func:`vectree.index.centers.nearest_center` except that distances here are
``|x|^2 + |c|^2 - 2 x.c`` summed from float32 terms and compared in float64, so where two centers are
within float32 rounding of each other this may pick the (truly) nearer one. On 100k clustered 96-d
rows against 41,000 centers it computed 4.1% of the products and ran 4.1x faster (``benchmarks/README.md``).
"""

from __future__ import annotations

import numpy as np

from vectree.index.centers import center_norms
from vectree.index.kmeans import kmeans

GROUPED_MIN_CENTERS = 16_384  # below this one product with every center is as fast (measured at 4k: equal)
_ROWS_PER_PASS = 32_768  # bounds the (rows x groups) bound matrix to ~13 MB at 400 groups
_SLACK = 1e-5  # relative margin on the bound: float32 rounding of the group distances never prunes a winner


class GroupedCenters:
    """Nearest-center search over ``centers`` (n, dim) float32 with group pruning.

    >>> rng = np.random.default_rng(0)
    >>> c = rng.standard_normal((300, 4)).astype(np.float32)
    >>> x = rng.standard_normal((50, 4)).astype(np.float32)
    >>> from vectree.index.centers import nearest_center
    >>> bool((GroupedCenters(c, groups=12).nearest(x) == nearest_center(x, c)).all())
    True
    """

    def __init__(self, centers: np.ndarray, groups: int | None = None, seed: int = 0) -> None:
        self.centers = np.ascontiguousarray(centers, dtype=np.float32)
        self.norms = center_norms(self.centers)
        k = groups if groups is not None else int(2 * np.sqrt(len(self.centers)))
        self.group_centers, owner = kmeans(self.centers, max(1, k), seed=seed, iterations=8)
        self.members = [np.flatnonzero(owner == j) for j in range(len(self.group_centers))]
        self.radius = np.array(
            [
                np.sqrt(((self.centers[m] - self.group_centers[j]) ** 2).sum(1).max()) if len(m) else 0.0
                for j, m in enumerate(self.members)
            ],
            dtype=np.float32,
        )
        self._group_norms = center_norms(self.group_centers)
        self._by_radius = np.argsort(self.radius, kind="stable")  # tight groups first: they prune best

    def nearest(self, x: np.ndarray) -> np.ndarray:
        """Index of the nearest center of each row of ``x``: (n,) int64."""
        x = np.asarray(x, dtype=np.float32)
        out = np.empty(len(x), dtype=np.int64)
        for s in range(0, len(x), _ROWS_PER_PASS):
            out[s : s + _ROWS_PER_PASS] = self._pass(x[s : s + _ROWS_PER_PASS])
        return out

    def _pass(self, x: np.ndarray) -> np.ndarray:
        row_norms = np.einsum("ij,ij->i", x, x).astype(np.float64)
        bound = x @ self.group_centers.T  # becomes the squared distance to each group, then its lower bound
        bound *= -2.0
        bound += self._group_norms
        bound += row_norms[:, None].astype(np.float32)
        first = bound.argmin(1)
        np.maximum(bound, 0.0, out=bound)
        np.sqrt(bound, out=bound)
        bound -= self.radius
        np.maximum(bound, 0.0, out=bound)
        bound *= bound
        best = np.full(len(x), np.inf)
        index = np.full(len(x), -1, dtype=np.int64)
        for j in range(len(self.members)):
            self._scan(j, np.flatnonzero(first == j), x, row_norms, best, index)
        for j in self._by_radius:
            need = (bound[:, j] <= best * (1 + _SLACK) + _SLACK) & (first != j)
            if need.any():
                self._scan(j, np.flatnonzero(need), x, row_norms, best, index)
        return index

    def _scan(
        self, j: int, rows: np.ndarray, x: np.ndarray, row_norms: np.ndarray, best: np.ndarray, index: np.ndarray
    ) -> None:
        members = self.members[j]
        if not len(rows) or not len(members):
            return
        d = x[rows] @ self.centers[members].T
        d *= -2.0
        d += self.norms[members]
        pick = d.argmin(1)
        dist = d[np.arange(len(rows)), pick] + row_norms[rows]
        cand = members[pick]
        better = (dist < best[rows]) | ((dist == best[rows]) & (cand < index[rows]))
        best[rows[better]] = dist[better]
        index[rows[better]] = cand[better]
