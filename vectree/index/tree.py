"""The shallow tree over projected coordinates, as flat arrays.

Node ``i`` is a split when ``axis[i] >= 0``: rows with ``x[axis] < threshold`` go to ``left[i]``,
the others to ``right[i]``. A leaf has ``axis[i] == -1`` and ``left[i]`` is its leaf number, which
indexes the bucket references held by the index. Two split rules:

* ``"seed"``: the seed's rule, a random axis split at the mean;
* ``"variance"``: the axis of highest variance within the node, split at the median (balanced
  buckets; on fashion-mnist it reaches the same recall scanning about half as many vectors).

Both stop when a node holds at most ``leaf_size`` rows or reaches ``max_depth``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

TreeRule = Literal["seed", "variance"]
TREE_RULES: tuple[str, ...] = ("seed", "variance")


@dataclass
class Tree:
    axis: np.ndarray  # int32 (n_nodes,), -1 for leaves
    threshold: np.ndarray  # float32 (n_nodes,)
    left: np.ndarray  # int32: child node, or leaf number for leaves
    right: np.ndarray  # int32: child node, -1 for leaves

    @property
    def n_nodes(self) -> int:
        return len(self.axis)

    @property
    def n_leaves(self) -> int:
        return int((self.axis < 0).sum())

    def route(self, points: np.ndarray) -> np.ndarray:
        """Leaf number of each row of ``points`` (n, n_components): a vectorised walk, one step per level."""
        node = np.zeros(len(points), dtype=np.int64)
        active = np.flatnonzero(self.axis[node] >= 0)
        while active.size:
            nodes = node[active]
            go_right = points[active, self.axis[nodes]] >= self.threshold[nodes]
            node[active] = np.where(go_right, self.right[nodes], self.left[nodes])
            active = active[self.axis[node[active]] >= 0]
        return self.left[node].astype(np.int64)

    def leaf_boxes(self, n_components: int) -> tuple[np.ndarray, np.ndarray]:
        """Per leaf, the box ``[lo, hi)`` in projected space that its splits carve out (+-inf where open)."""
        n_leaves = self.n_leaves
        lo = np.full((n_leaves, n_components), -np.inf, dtype=np.float32)
        hi = np.full((n_leaves, n_components), np.inf, dtype=np.float32)
        stack = [(0, np.full(n_components, -np.inf, np.float32), np.full(n_components, np.inf, np.float32))]
        while stack:
            node, nlo, nhi = stack.pop()
            a = int(self.axis[node])
            if a < 0:
                leaf = int(self.left[node])
                lo[leaf], hi[leaf] = nlo, nhi
                continue
            t = self.threshold[node]
            lhi = nhi.copy()
            lhi[a] = min(lhi[a], t)
            rlo = nlo.copy()
            rlo[a] = max(rlo[a], t)
            stack.append((int(self.left[node]), nlo, lhi))
            stack.append((int(self.right[node]), rlo, nhi))
        return lo, hi

    def replace_leaf(self, leaf: int, subtree: Tree, first_new_leaf: int) -> None:
        """Graft ``subtree`` where leaf ``leaf`` was; its leaves are renumbered from ``first_new_leaf``.

        The subtree's leaf 0 keeps number ``leaf`` so existing references stay valid.
        """
        node = int(np.flatnonzero((self.axis < 0) & (self.left == leaf))[0])
        offset = self.n_nodes - 1  # subtree node 0 takes the old leaf's slot
        sub_axis, sub_thr = subtree.axis.copy(), subtree.threshold.copy()
        sub_left, sub_right = subtree.left.astype(np.int64), subtree.right.astype(np.int64)
        is_leaf = sub_axis < 0
        new_left = np.where(is_leaf, np.where(sub_left == 0, leaf, sub_left - 1 + first_new_leaf), sub_left)
        new_right = sub_right.copy()

        def remap(i: np.ndarray) -> np.ndarray:
            return np.where(i == 0, node, i + offset)

        new_left = np.where(is_leaf, new_left, remap(sub_left))
        new_right = np.where(is_leaf, -1, remap(sub_right))
        self.axis[node], self.threshold[node] = sub_axis[0], sub_thr[0]
        self.left[node], self.right[node] = new_left[0], new_right[0]
        self.axis = np.concatenate([self.axis, sub_axis[1:]]).astype(np.int32)
        self.threshold = np.concatenate([self.threshold, sub_thr[1:]]).astype(np.float32)
        self.left = np.concatenate([self.left, new_left[1:]]).astype(np.int32)
        self.right = np.concatenate([self.right, new_right[1:]]).astype(np.int32)


def fit_tree(
    points: np.ndarray,
    leaf_size: float,
    *,
    rule: TreeRule = "variance",
    max_depth: int = 32,
    seed: int = 0,
) -> Tree:
    """Split ``points`` (n, n_components) top-down until nodes hold <= ``leaf_size`` rows.

    ``leaf_size`` may be fractional: when the tree is fitted on a sample of the collection it is
    ``bucket_size * sample_rows / total_rows``.

    >>> rng = np.random.default_rng(0); t = fit_tree(rng.normal(size=(1000, 4)), 100)
    >>> t.n_leaves, int(np.bincount(t.route(rng.normal(size=(5, 4))), minlength=t.n_leaves).sum())
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
    n_leaves = 0

    def new_node() -> int:
        axis.append(-1)
        threshold.append(0.0)
        left.append(-1)
        right.append(-1)
        return len(axis) - 1

    def choose_split(idx: np.ndarray) -> tuple[int, float, np.ndarray] | None:
        sub = points[idx]
        if rule == "seed":
            candidates = rng.permutation(n_axes)
        else:
            candidates = np.argsort(sub.var(axis=0))[::-1]
        for a in candidates[: max(1, n_axes)]:
            col = sub[:, a]
            t = float(col.mean()) if rule == "seed" else float(np.median(col))
            mask = col < t
            if rule == "variance" and (mask.all() or not mask.any()):
                # ties at the median: move the threshold to the next distinct value
                upper = col[col > t]
                if upper.size:
                    t = float(upper.min())
                    mask = col < t
            if mask.any() and not mask.all():
                return int(a), t, mask
            if rule == "seed":
                continue
        return None

    root = new_node()
    stack: list[tuple[int, np.ndarray, int]] = [(root, np.arange(len(points)), 0)]
    while stack:
        node, idx, depth = stack.pop()
        split = choose_split(idx) if (len(idx) > leaf_size and depth < max_depth) else None
        if split is None:
            left[node] = n_leaves
            n_leaves += 1
            continue
        a, t, mask = split
        axis[node], threshold[node] = a, t
        lnode, rnode = new_node(), new_node()
        left[node], right[node] = lnode, rnode
        # right pushed first so leaves are numbered left to right
        stack.append((rnode, idx[~mask], depth + 1))
        stack.append((lnode, idx[mask], depth + 1))
    return Tree(
        axis=np.array(axis, dtype=np.int32),
        threshold=np.array(threshold, dtype=np.float32),
        left=np.array(left, dtype=np.int32),
        right=np.array(right, dtype=np.int32),
    )
