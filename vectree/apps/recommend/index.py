"""Item vectors in a vectree collection, searched by user vectors with the user's seen items excluded.

The collection's row ids are the dense item indices. A user's seen items are excluded inside the search
(``exclude_ids``: the scan skips them, as it skips deleted rows), so every query gets ``n`` unseen items
whenever the catalogue has that many, with no over-fetching.
"""

from __future__ import annotations

import uuid

import numpy as np

import vectree
from vectree.collection.plan import DEFAULT_PROBES
from vectree.errors import InvalidInputError


def _default_url() -> str:
    return f"memory://recommend-items-{uuid.uuid4().hex[:12]}"


class ItemIndex:
    """A searchable set of item vectors: exact (numpy) or ANN through a vectree collection.

    ``metric`` is ``"cosine"`` or ``"dot"``; scores returned are similarities (larger is better):
    ``1 - distance`` from the collection, the inner product / cosine for exact search.
    ``bucket_size`` None and ``probes`` take the collection's defaults (:func:`vectree.create_collection`,
    :data:`vectree.collection.plan.DEFAULT_PROBES`).
    """

    def __init__(
        self,
        vectors: np.ndarray,
        *,
        metric: str = "cosine",
        url: str | None = None,
        bucket_size: int | None = None,
        probes: int = DEFAULT_PROBES,
        build: bool = True,
    ) -> None:
        v = np.asarray(vectors, dtype=np.float32)
        if v.ndim != 2 or v.shape[0] == 0:
            raise InvalidInputError(f"item vectors must be a non-empty (n_items, dim) array, got shape {v.shape}")
        if metric not in ("cosine", "dot"):
            raise InvalidInputError(f"metric must be 'cosine' or 'dot' for recommendation, got {metric!r}")
        self.vectors = v
        self.metric = metric
        self.probes = probes
        self.url = url or _default_url()
        self.collection = None
        if build:
            col = vectree.create_collection(
                self.url, dim=v.shape[1], metric=metric, bucket_size=bucket_size, exist_ok=False
            )
            col.add(v, ids=np.arange(v.shape[0], dtype=np.int64))
            col.build()
            self.collection = col

    @classmethod
    def open(cls, url: str, probes: int = DEFAULT_PROBES) -> ItemIndex:
        """Wrap an existing collection of item vectors (ids = item indices)."""
        col = vectree.open_collection(url)
        vecs = np.zeros((len(col), col.dim), dtype=np.float32)
        for batch in col.iter_batches(10_000):
            vecs[np.asarray(batch["ids"], dtype=np.int64)] = batch["vectors"]
        obj = cls(vecs, metric=col.metric, url=url, probes=probes, build=False)
        obj.collection = col
        return obj

    def _exact_scores(self, queries: np.ndarray) -> np.ndarray:
        v = self.vectors
        if self.metric == "cosine":
            v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
            queries = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
        return queries @ v.T

    def search(
        self,
        queries: np.ndarray,
        n: int,
        seen: list[np.ndarray] | None = None,
        *,
        exact: bool = False,
        probes: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` items per query, excluding ``seen[j]`` for query ``j``.

        Returns ``(items, scores)``, both (len(queries), n); ``-1`` / ``-inf`` pad short rows.
        ``exact=True`` scans every item (numpy); otherwise the collection is probed (``probes`` buckets).
        """
        q = np.asarray(queries, dtype=np.float32)
        if q.ndim != 2 or q.shape[1] != self.vectors.shape[1]:
            raise InvalidInputError(f"queries must have shape (m, {self.vectors.shape[1]}), got {q.shape}")
        seen = seen if seen is not None else [np.zeros(0, dtype=np.int64)] * q.shape[0]
        n_items = self.vectors.shape[0]
        items = np.full((q.shape[0], n), -1, dtype=np.int64)
        scores = np.full((q.shape[0], n), -np.inf, dtype=np.float32)
        if exact or self.collection is None:
            s = self._exact_scores(q)
            for j, excl in enumerate(seen):
                if len(excl):
                    s[j, excl] = -np.inf
            k = min(n, n_items)
            top = np.argpartition(-s, k - 1, axis=1)[:, :k]
            order = np.argsort(-np.take_along_axis(s, top, axis=1), axis=1, kind="stable")
            top = np.take_along_axis(top, order, axis=1)
            items[:, :k], scores[:, :k] = top, np.take_along_axis(s, top, axis=1)
            scores[~np.isfinite(scores)] = -np.inf
            items[~np.isfinite(scores)] = -1
            return items, scores
        # ANN: users who have seen nothing share one batch; each other user's seen items are excluded in the scan
        k = min(n, n_items)
        fresh = np.flatnonzero([len(e) == 0 for e in seen])
        groups = ([(fresh, None)] if len(fresh) else []) + [
            (np.array([r]), seen[r]) for r in range(len(q)) if len(seen[r])
        ]
        for rows, excl in groups:
            res = self.collection.search(q[rows], k=k, probes=probes or self.probes, exclude_ids=excl)
            found = np.isfinite(res.distances)
            items[rows, :k] = np.where(found, np.asarray(res.ids, dtype=np.int64), -1)
            scores[rows, :k] = np.where(found, 1.0 - res.distances, -np.inf)
        return items, scores
