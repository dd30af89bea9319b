"""The shallow tree over projected coordinates, as flat arrays.

Three kinds of node, told apart by ``axis``:

* ``axis[i] >= 0`` -- a split plane: rows with ``x[axis] < threshold`` go to ``left[i]``, others to ``right[i]``;
* ``axis[i] == -2`` -- a Voronoi node: children are nodes ``left[i] .. left[i] + right[i] - 1`` and a row
  goes to the child whose ``node_centers`` is nearest (the boundaries are the bisecting planes);
* ``axis[i] == -1`` -- a leaf; ``left[i]`` is its leaf number, which indexes the bucket references.

Split rules (``rule=``), all stopping when a node holds at most ``leaf_size`` rows or is ``max_depth`` deep:

* ``"seed"``: the seed's rule, a random axis split at the mean;
* ``"variance"``: the axis of highest variance within the node, split at the median (balanced buckets);
* ``"kmeans"``: Voronoi nodes from k-means, about sqrt(#leaves) children at the root, then as many as the
  node needs (at most 64): compact, round buckets, which need far fewer probes in high intrinsic dimension.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from vectree.index.kmeans import kmeans

TreeRule = Literal["seed", "variance", "kmeans"]
TREE_RULES: tuple[str, ...] = ("seed", "variance", "kmeans")
LEAF, VORONOI = -1, -2
MAX_FANOUT = 64
ROOT_FANOUT = 256
_ROUTE_BLOCK = 8192  # flat k-means up to 256 buckets; beyond, 256 root nodes split further


@dataclass
class Tree:
    axis: np.ndarray  # int32 (n_nodes,)
    threshold: np.ndarray  # float32 (n_nodes,)
    left: np.ndarray  # int32
    right: np.ndarray  # int32
    node_centers: np.ndarray | None = None  # float32 (n_nodes, m): each Voronoi child's center

    @property
    def n_nodes(self) -> int:
        return len(self.axis)

    @property
    def n_buckets(self) -> int:
        return int((self.axis == LEAF).sum())

    @property
    def has_planes_only(self) -> bool:
        """True when every split is an axis plane (leaf boxes are then exact lower bounds)."""
        return not (self.axis == VORONOI).any()

    def route(self, points: np.ndarray) -> np.ndarray:
        """Leaf number of each row of ``points`` (n, n_components): a vectorised walk, one step per level."""
        if len(points) <= 4:
            return np.array([self._route_one(p) for p in points], dtype=np.int64)
        if len(points) > _ROUTE_BLOCK:  # bound the (points x centers) temporaries
            return np.concatenate(
                [self.route(points[s : s + _ROUTE_BLOCK]) for s in range(0, len(points), _ROUTE_BLOCK)]
            )
        node = np.zeros(len(points), dtype=np.int64)
        active = np.flatnonzero(self.axis[node] != LEAF)
        while active.size:
            nodes = node[active]
            kinds = self.axis[nodes]
            planes = kinds >= 0
            if planes.any():
                a, nd = active[planes], nodes[planes]
                go_right = points[a, self.axis[nd]] >= self.threshold[nd]
                node[a] = np.where(go_right, self.right[nd], self.left[nd])
            if not planes.all():
                v, vn = active[~planes], nodes[~planes]
                for u in np.unique(vn):
                    sel = v[vn == u]
                    children = np.arange(self.left[u], self.left[u] + self.right[u])
                    c = self.node_centers[children]
                    p = points[sel]
                    d = (c * c).sum(1)[None, :] - 2.0 * p @ c.T
                    node[sel] = children[d.argmin(1)]
            active = active[self.axis[node[active]] != LEAF]
        return self.left[node].astype(np.int64)

    def _route_one(self, p: np.ndarray) -> int:
        """One point's leaf, walked node by node (cheaper than the batch machinery for a single query)."""
        node = 0
        while True:
            a = int(self.axis[node])
            if a == LEAF:
                return int(self.left[node])
            if a >= 0:
                node = int(self.right[node] if p[a] >= self.threshold[node] else self.left[node])
            else:
                first = int(self.left[node])
                c = self.node_centers[first : first + int(self.right[node])]
                node = first + int(((c * c).sum(1) - 2.0 * (c @ p)).argmin())  # the batch walk's formula

    def leaf_nodes(self) -> np.ndarray:
        """Node id of each leaf, by leaf number."""
        nodes = np.flatnonzero(self.axis == LEAF)
        out = np.empty(len(nodes), dtype=np.int64)
        out[self.left[nodes]] = nodes
        return out

    def bucket_centers(self, n_components: int) -> np.ndarray:
        """Per leaf, its center in projected space (zeros for a tree that is a single leaf)."""
        if self.node_centers is None:
            return np.zeros((self.n_buckets, n_components), dtype=np.float32)
        return self.node_centers[self.leaf_nodes()]

    def bucket_boxes(self, n_components: int) -> tuple[np.ndarray, np.ndarray]:
        """Per leaf, the box ``[lo, hi)`` its axis splits carve out (+-inf where open; Voronoi splits add nothing)."""
        n_buckets = self.n_buckets
        lo = np.full((n_buckets, n_components), -np.inf, dtype=np.float32)
        hi = np.full((n_buckets, n_components), np.inf, dtype=np.float32)
        stack = [(0, np.full(n_components, -np.inf, np.float32), np.full(n_components, np.inf, np.float32))]
        while stack:
            node, nlo, nhi = stack.pop()
            a = int(self.axis[node])
            if a == LEAF:
                leaf = int(self.left[node])
                lo[leaf], hi[leaf] = nlo, nhi
                continue
            if a == VORONOI:
                for child in range(int(self.left[node]), int(self.left[node] + self.right[node])):
                    stack.append((child, nlo, nhi))
                continue
            t = self.threshold[node]
            lhi = nhi.copy()
            lhi[a] = min(lhi[a], t)
            rlo = nlo.copy()
            rlo[a] = max(rlo[a], t)
            stack.append((int(self.left[node]), nlo, lhi))
            stack.append((int(self.right[node]), rlo, nhi))
        return lo, hi

    def replace_bucket(self, leaf: int, subtree: Tree, first_new_leaf: int) -> None:
        """Graft ``subtree`` where leaf ``leaf`` was; its leaves are renumbered from ``first_new_leaf``.

        The subtree's leaf 0 keeps number ``leaf`` so existing references stay valid.
        """
        node = int(np.flatnonzero((self.axis == LEAF) & (self.left == leaf))[0])
        offset = self.n_nodes - 1  # subtree node 0 takes the old leaf's slot

        def remap(i: np.ndarray) -> np.ndarray:
            return np.where(i == 0, node, i + offset)

        s_axis, s_left, s_right = subtree.axis, subtree.left.astype(np.int64), subtree.right.astype(np.int64)
        is_leaf, is_vor = s_axis == LEAF, s_axis == VORONOI
        new_left = np.where(is_leaf, np.where(s_left == 0, leaf, s_left - 1 + first_new_leaf), remap(s_left))
        new_right = np.where(is_leaf, -1, np.where(is_vor, s_right, remap(s_right)))
        m = (
            self.node_centers.shape[1]
            if self.node_centers is not None
            else (subtree.node_centers.shape[1] if subtree.node_centers is not None else 0)
        )
        if self.node_centers is not None or subtree.node_centers is not None:
            own = self.node_centers if self.node_centers is not None else np.zeros((self.n_nodes, m), np.float32)
            sub = (
                subtree.node_centers if subtree.node_centers is not None else np.zeros((subtree.n_nodes, m), np.float32)
            )
            self.node_centers = np.concatenate([own, sub[1:]]).astype(np.float32)
        self.axis[node], self.threshold[node] = s_axis[0], subtree.threshold[0]
        self.left[node], self.right[node] = new_left[0], new_right[0]
        self.axis = np.concatenate([self.axis, s_axis[1:]]).astype(np.int32)
        self.threshold = np.concatenate([self.threshold, subtree.threshold[1:]]).astype(np.float32)
        self.left = np.concatenate([self.left, new_left[1:]]).astype(np.int32)
        self.right = np.concatenate([self.right, new_right[1:]]).astype(np.int32)


def fit_tree(
    points: np.ndarray,
    leaf_size: float,
    *,
    rule: TreeRule = "kmeans",
    max_depth: int = 32,
    seed: int = 0,
) -> Tree:
    """Split ``points`` (n, n_components) top-down until nodes hold <= ``leaf_size`` rows.

    ``leaf_size`` may be fractional: when the tree is fitted on a sample of the collection it is
    ``bucket_size * sample_rows / total_rows``.

    >>> rng = np.random.default_rng(0); t = fit_tree(rng.normal(size=(1000, 4)), 100, rule="variance")
    >>> t.n_buckets, int(np.bincount(t.route(rng.normal(size=(5, 4))), minlength=t.n_buckets).sum())
    (16, 5)
    """
    if rule not in TREE_RULES:
        from vectree.errors import InvalidInputError

        raise InvalidInputError(f"unknown tree rule {rule!r}: choose one of {', '.join(TREE_RULES)}")
    rng = np.random.default_rng(seed)
    points = np.asarray(points, dtype=np.float32)
    n_axes = points.shape[1]
    axis: list[int] = []
    threshold: list[float] = []
    left: list[int] = []
    right: list[int] = []
    node_centers: list[np.ndarray] = []
    zero = np.zeros(n_axes, dtype=np.float32)
    n_buckets = 0

    def new_node(c: np.ndarray = zero) -> int:
        axis.append(LEAF)
        threshold.append(0.0)
        left.append(-1)
        right.append(-1)
        node_centers.append(c)
        return len(axis) - 1

    def plane_split(idx: np.ndarray) -> tuple[int, float, np.ndarray] | None:
        sub = points[idx]
        candidates = rng.permutation(n_axes) if rule == "seed" else np.argsort(sub.var(axis=0))[::-1]
        for a in candidates:
            col = sub[:, a]
            t = float(col.mean()) if rule == "seed" else float(np.median(col))
            mask = col < t
            if rule == "variance" and (mask.all() or not mask.any()):
                upper = col[col > t]  # ties at the median: move to the next distinct value
                if upper.size:
                    t = float(upper.min())
                    mask = col < t
            if mask.any() and not mask.all():
                return int(a), t, mask
        return None

    root = new_node(points.mean(0) if len(points) else zero)
    stack: list[tuple[int, np.ndarray, int]] = [(root, np.arange(len(points)), 0)]
    while stack:
        node, idx, depth = stack.pop()
        if len(idx) <= leaf_size or depth >= max_depth:
            left[node] = n_buckets
            n_buckets += 1
            continue
        if rule == "kmeans":
            want = int(np.ceil(len(idx) / leaf_size))
            k = min(want, max(ROOT_FANOUT, int(np.ceil(np.sqrt(want))))) if depth == 0 else min(want, MAX_FANOUT)
            cents, assign = kmeans(points[idx], max(2, k), seed=seed + len(axis))
            if len(cents) < 2:
                left[node] = n_buckets
                n_buckets += 1
                continue
            first = len(axis)
            children = [new_node(c) for c in cents]
            axis[node], left[node], right[node] = VORONOI, first, len(children)
            for j in reversed(range(len(children))):
                stack.append((children[j], idx[assign == j], depth + 1))
            continue
        split = plane_split(idx)
        if split is None:
            left[node] = n_buckets
            n_buckets += 1
            continue
        a, t, mask = split
        axis[node], threshold[node] = a, t
        lnode, rnode = new_node(points[idx[mask]].mean(0)), new_node(points[idx[~mask]].mean(0))
        left[node], right[node] = lnode, rnode
        stack.append((rnode, idx[~mask], depth + 1))  # right first, so leaves are numbered left to right
        stack.append((lnode, idx[mask], depth + 1))
    return Tree(
        axis=np.array(axis, dtype=np.int32),
        threshold=np.array(threshold, dtype=np.float32),
        left=np.array(left, dtype=np.int32),
        right=np.array(right, dtype=np.int32),
        node_centers=np.array(node_centers, dtype=np.float32).reshape(len(axis), n_axes),
    )
