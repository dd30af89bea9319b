"""Baseline recommenders: most popular and item-to-item k-nearest neighbours (cosine on co-occurrence)."""

from __future__ import annotations

import numpy as np

from vectree.apps.recommend.data import Interactions
from vectree.apps.recommend.metrics import top_k_unseen
from vectree.errors import InvalidInputError


def _check_fitted(obj: object, attr: str) -> None:
    if not hasattr(obj, attr):
        raise InvalidInputError(f"{type(obj).__name__} is not fitted; call fit(train) first")


class PopularityRecommender:
    """Recommend the items with the most training interactions, excluding what the user has seen."""

    def __init__(self, *, recent_days: float | None = None) -> None:
        self.recent_days = recent_days

    def fit(self, train: Interactions) -> "PopularityRecommender":
        """Count interactions per item (only the last ``recent_days`` of the log if set)."""
        mask = np.ones(len(train), dtype=bool)
        if self.recent_days is not None:
            mask = train.timestamp >= train.timestamp.max() - self.recent_days * 86400
        self.counts_ = np.bincount(train.item[mask], minlength=train.n_items).astype(np.float64)
        self.seen_ = train.by_user()
        return self

    def recommend(self, users: np.ndarray, k: int = 10) -> np.ndarray:
        """Top-k popular unseen items per user."""
        _check_fitted(self, "counts_")
        users = np.asarray(users, dtype=np.int64)
        scores = np.broadcast_to(self.counts_, (users.size, self.counts_.size))
        return top_k_unseen(scores, [self.seen_[u] for u in users], k)


class ItemKNNRecommender:
    """Item-based collaborative filtering: an item's score for a user is the sum of its cosine similarity
    (over the binary user-item matrix, each item keeping its ``neighbors`` most similar items) to the items
    the user has engaged with."""

    def __init__(self, *, neighbors: int = 100, shrink: float = 10.0) -> None:
        self.neighbors = neighbors
        self.shrink = shrink

    def fit(self, train: Interactions) -> "ItemKNNRecommender":
        """Build the pruned item-item similarity matrix."""
        x = np.zeros((train.n_users, train.n_items), dtype=np.float32)
        x[train.user, train.item] = 1.0
        co = x.T @ x
        norms = np.sqrt(np.diag(co)).astype(np.float32)
        sim = co / (np.outer(norms, norms) + self.shrink + 1e-9)
        np.fill_diagonal(sim, 0.0)
        if self.neighbors < sim.shape[1]:
            cut = np.argpartition(-sim, self.neighbors - 1, axis=1)[:, self.neighbors :]
            np.put_along_axis(sim, cut, 0.0, axis=1)
        self.similarity_ = sim.astype(np.float32)
        self.user_items_ = x
        self.seen_ = train.by_user()
        return self

    def scores(self, users: np.ndarray) -> np.ndarray:
        """Dense (len(users), n_items) item-kNN scores."""
        _check_fitted(self, "similarity_")
        return self.user_items_[np.asarray(users, dtype=np.int64)] @ self.similarity_

    def recommend(self, users: np.ndarray, k: int = 10) -> np.ndarray:
        """Top-k unseen items by summed similarity to the user's history."""
        users = np.asarray(users, dtype=np.int64)
        return top_k_unseen(self.scores(users), [self.seen_[u] for u in users], k)
