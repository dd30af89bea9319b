"""Baseline recommenders: most popular and item-to-item k-nearest neighbours (cosine on co-occurrence)."""

from __future__ import annotations

import numpy as np

from vectree.apps.recommend.data import Interactions
from vectree.apps.recommend.metrics import top_k_unseen
from vectree.errors import InvalidInputError


def _history_scores(user_items: np.ndarray, weights: np.ndarray, users: np.ndarray) -> np.ndarray:
    """``user_items[users] @ weights`` for a 0/1 user-item matrix: a dense product for large batches, the sum
    of the history's rows of ``weights`` for a few users (a request reads ~100 rows, not the whole matrix)."""
    if users.size >= 64:
        return user_items[users] @ weights
    out = np.zeros((users.size, weights.shape[1]), dtype=weights.dtype)
    for j, u in enumerate(users):
        out[j] = weights[np.flatnonzero(user_items[u])].sum(0)
    return out


def _check_fitted(obj: object, attr: str) -> None:
    if not hasattr(obj, attr):
        raise InvalidInputError(f"{type(obj).__name__} is not fitted; call fit(train) first")


class PopularityRecommender:
    """Recommend the items with the most training interactions, excluding what the user has seen."""

    def __init__(self, *, recent_days: float | None = None) -> None:
        self.recent_days = recent_days

    def fit(self, train: Interactions) -> PopularityRecommender:
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

    def fit(self, train: Interactions) -> ItemKNNRecommender:
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
        return _history_scores(self.user_items_, self.similarity_, np.asarray(users, dtype=np.int64).ravel())

    def recommend(self, users: np.ndarray, k: int = 10) -> np.ndarray:
        """Top-k unseen items by summed similarity to the user's history."""
        users = np.asarray(users, dtype=np.int64)
        return top_k_unseen(self.scores(users), [self.seen_[u] for u in users], k)


class EASERecommender:
    """EASE (Steck, 2019): a closed-form item-item linear model. ``B = I - P / diag(P)`` with
    ``P = (X^T X + l2 I)^-1`` over the binary user-item matrix ``X``, zero diagonal; a user's scores are
    ``x_u @ B``. ``l2`` is the only parameter (a few hundred suits MovieLens 100k)."""

    def __init__(self, *, l2: float = 500.0) -> None:
        self.l2 = l2

    def fit(self, train: Interactions) -> EASERecommender:
        """Solve for the item-item weights (one ``n_items`` x ``n_items`` inverse)."""
        if self.l2 <= 0:
            raise InvalidInputError(f"l2 must be positive, got {self.l2!r}")
        x = np.zeros((train.n_users, train.n_items), dtype=np.float64)
        x[train.user, train.item] = 1.0
        g = x.T @ x
        g[np.diag_indices_from(g)] += self.l2
        p = np.linalg.inv(g)
        b = -p / np.diag(p)[None, :]
        np.fill_diagonal(b, 0.0)
        self.weights_ = b.astype(np.float32)
        self.user_items_ = x.astype(np.float32)
        self.seen_ = train.by_user()
        return self

    def scores(self, users: np.ndarray) -> np.ndarray:
        """Dense (len(users), n_items) EASE scores."""
        _check_fitted(self, "weights_")
        return _history_scores(self.user_items_, self.weights_, np.asarray(users, dtype=np.int64).ravel())

    def recommend(self, users: np.ndarray, k: int = 10) -> np.ndarray:
        """Top-k unseen items by EASE score."""
        users = np.asarray(users, dtype=np.int64)
        return top_k_unseen(self.scores(users), [self.seen_[u] for u in users], k)


class BPRRecommender:
    """Matrix factorisation trained with Bayesian personalised ranking (Rendle et al., 2009): for sampled
    (user, engaged item, random unengaged item) triples, push ``u.i + b_i`` above ``u.j + b_j`` by SGD on
    ``-log sigmoid`` of the difference, with L2 on the touched factors. numpy, mini-batches of triples.

    Parameters: ``factors``, ``epochs`` (one epoch = as many triples as training events), ``lr``, ``reg``,
    ``batch_size``, ``seed``."""

    def __init__(
        self,
        *,
        factors: int = 64,
        epochs: int = 60,
        lr: float = 0.05,
        reg: float = 0.002,
        batch_size: int = 256,
        seed: int = 0,
    ) -> None:
        self.factors, self.epochs, self.lr, self.reg = factors, epochs, lr, reg
        self.batch_size, self.seed = batch_size, seed

    def fit(self, train: Interactions) -> BPRRecommender:
        """Learn user and item factors (and item biases) from the training log."""
        rng = np.random.default_rng(self.seed)
        n_u, n_i = train.n_users, train.n_items
        pos = np.zeros((n_u, n_i), dtype=bool)
        pos[train.user, train.item] = True
        users, items = train.user.astype(np.int64), train.item.astype(np.int64)
        p = rng.normal(0, 0.1, (n_u, self.factors)).astype(np.float32)
        q = rng.normal(0, 0.1, (n_i, self.factors)).astype(np.float32)
        bias = np.zeros(n_i, dtype=np.float32)
        for _ in range(self.epochs):
            order = rng.permutation(users.size)
            for s in range(0, order.size, self.batch_size):
                sel = order[s : s + self.batch_size]
                u, i = users[sel], items[sel]
                j = rng.integers(0, n_i, sel.size)
                clash = pos[u, j]
                while clash.any():  # redraw negatives the user has engaged with
                    j[clash] = rng.integers(0, n_i, int(clash.sum()))
                    clash = pos[u, j]
                pu, qi, qj = p[u], q[i], q[j]
                x = (pu * (qi - qj)).sum(1) + bias[i] - bias[j]
                g = (1.0 / (1.0 + np.exp(np.clip(x, -30, 30))))[:, None]  # d(-log sigmoid)/dx, negated
                np.add.at(p, u, self.lr * (g * (qi - qj) - self.reg * pu))
                np.add.at(q, i, self.lr * (g * pu - self.reg * qi))
                np.add.at(q, j, self.lr * (-g * pu - self.reg * qj))
                np.add.at(bias, i, self.lr * (g[:, 0] - self.reg * bias[i]))
                np.add.at(bias, j, self.lr * (-g[:, 0] - self.reg * bias[j]))
        self.user_factors_, self.item_factors_, self.item_bias_ = p, q, bias
        self.seen_ = train.by_user()
        return self

    def scores(self, users: np.ndarray) -> np.ndarray:
        """Dense (len(users), n_items) scores ``u.i + b_i``."""
        _check_fitted(self, "item_factors_")
        return self.user_factors_[np.asarray(users, dtype=np.int64)] @ self.item_factors_.T + self.item_bias_

    def recommend(self, users: np.ndarray, k: int = 10) -> np.ndarray:
        """Top-k unseen items by BPR score."""
        users = np.asarray(users, dtype=np.int64)
        return top_k_unseen(self.scores(users), [self.seen_[u] for u in users], k)
