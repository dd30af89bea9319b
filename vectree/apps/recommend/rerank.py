"""Stage 2 of the funnel: a heavier model re-scores (user, candidate item) pairs.

``PairFeatures`` turns pairs into user, item and interaction features computed from an interaction log
(popularity overall and recent, mean rating, item-kNN score against the user's history, genre and content
affinity, year match, the retrieval score and rank). ``ReRanker`` is a pointwise classifier trained to
predict whether the user engages with the candidate in a held-out slice of the log: gradient-boosted trees
(scikit-learn ``HistGradientBoostingClassifier``) or a logistic regression on standardised features.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from vectree.apps.recommend.baselines import ItemKNNRecommender
from vectree.apps.recommend.content import profile_vectors
from vectree.apps.recommend.data import Interactions
from vectree.errors import InvalidInputError

log = logging.getLogger(__name__)

FEATURE_NAMES = [
    "retrieval_score",
    "retrieval_rank",
    "item_log_count",
    "item_log_recent_count",
    "item_mean_rating",
    "item_age_days",
    "item_year",
    "knn_score",
    "knn_score_recent",
    "genre_affinity",
    "genre_affinity_recent",
    "content_sim",
    "content_sim_recent",
    "user_log_count",
    "year_gap",
    "user_age",
]


class PairFeatures:
    """Features of (user, item) pairs, fitted on an interaction log and item side information.

    Parameters: ``recent_days`` window for recent popularity; ``recent_items`` how many of the user's
    latest items make the "recent" profiles; ``knn_neighbors`` for the item-kNN score.
    """

    def __init__(self, *, recent_days: float = 30.0, recent_items: int = 10, knn_neighbors: int = 50) -> None:
        self.recent_days = recent_days
        self.recent_items = recent_items
        self.knn_neighbors = knn_neighbors

    def fit(
        self,
        log_: Interactions,
        genres: np.ndarray,
        years: np.ndarray,
        content: np.ndarray,
        user_age: np.ndarray | None = None,
    ) -> PairFeatures:
        """Compute per-item and per-user statistics from the log."""
        n_items = log_.n_items
        self.counts_ = np.bincount(log_.item, minlength=n_items).astype(np.float32)
        recent = log_.timestamp >= log_.timestamp.max() - self.recent_days * 86400
        self.recent_counts_ = np.bincount(log_.item[recent], minlength=n_items).astype(np.float32)
        sums = np.bincount(log_.item, weights=log_.rating, minlength=n_items)
        self.mean_rating_ = ((sums + 3.5 * 5) / (self.counts_ + 5)).astype(np.float32)  # shrunk towards 3.5
        first = np.full(n_items, log_.timestamp.max(), dtype=np.float64)
        np.minimum.at(first, log_.item, log_.timestamp.astype(np.float64))
        self.item_age_days_ = ((log_.timestamp.max() - first) / 86400.0).astype(np.float32)
        self.years_ = np.where(years > 0, years, np.median(years[years > 0])).astype(np.float32)
        self.genres_ = genres / np.maximum(np.linalg.norm(genres, axis=1, keepdims=True), 1e-9)
        self.content_ = content.astype(np.float32)
        self.history_ = log_.by_user()
        recent_hist = [h[-self.recent_items :] for h in self.history_]
        self.user_genre_ = profile_vectors(self.history_, self.genres_.astype(np.float32))
        self.user_genre_recent_ = profile_vectors(recent_hist, self.genres_.astype(np.float32))
        self.user_content_ = profile_vectors(self.history_, self.content_)
        self.user_content_recent_ = profile_vectors(recent_hist, self.content_)
        self.user_year_ = np.array(
            [self.years_[h].mean() if len(h) else 1990.0 for h in self.history_], dtype=np.float32
        )
        self.user_count_ = np.array([len(h) for h in self.history_], dtype=np.float32)
        self.user_age_ = np.zeros(log_.n_users, np.float32) if user_age is None else np.asarray(user_age, np.float32)
        self.knn_ = ItemKNNRecommender(neighbors=self.knn_neighbors).fit(log_)
        x_recent = np.zeros((log_.n_users, n_items), dtype=np.float32)
        for u, h in enumerate(recent_hist):
            x_recent[u, h] = 1.0
        self.knn_recent_ = x_recent @ self.knn_.similarity_
        return self

    def transform(
        self, users: np.ndarray, items: np.ndarray, retrieval_score: np.ndarray, retrieval_rank: np.ndarray
    ) -> np.ndarray:
        """Feature matrix (len(pairs), len(FEATURE_NAMES)), float32, in ``FEATURE_NAMES`` order."""
        if not hasattr(self, "counts_"):
            raise InvalidInputError("PairFeatures is not fitted; call fit(log, ...) first")
        u = np.asarray(users, dtype=np.int64)
        i = np.asarray(items, dtype=np.int64)
        knn = np.zeros(u.size, dtype=np.float32)
        order = np.argsort(u, kind="stable")
        bounds = np.flatnonzero(np.diff(u[order])) + 1
        for rows in np.split(order, bounds):  # per user: sum of similarities from their history to the candidates
            h = self.history_[u[rows[0]]]
            if len(h):
                knn[rows] = self.knn_.similarity_[np.ix_(h, i[rows])].sum(0)
        cols = [
            np.asarray(retrieval_score, np.float32),
            np.asarray(retrieval_rank, np.float32),
            np.log1p(self.counts_[i]),
            np.log1p(self.recent_counts_[i]),
            self.mean_rating_[i],
            self.item_age_days_[i],
            self.years_[i],
            knn / np.maximum(self.user_count_[u], 1.0),
            self.knn_recent_[u, i],
            (self.user_genre_[u] * self.genres_[i]).sum(1),
            (self.user_genre_recent_[u] * self.genres_[i]).sum(1),
            (self.user_content_[u] * self.content_[i]).sum(1),
            (self.user_content_recent_[u] * self.content_[i]).sum(1),
            np.log1p(self.user_count_[u]),
            np.abs(self.user_year_[u] - self.years_[i]),
            self.user_age_[u],
        ]
        return np.column_stack(cols).astype(np.float32)


_CONTROLLER = None


def _controller():
    """One threadpoolctl controller, built once: scanning the loaded libraries costs ~15 ms a call."""
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


class ReRanker:
    """Pointwise re-ranker: P(engage | user, item features).

    Parameters: ``model`` ``"gbdt"`` (``HistGradientBoostingClassifier``) or ``"logistic"`` (scikit-learn
    ``LogisticRegression`` on standardised features, L2 strength ``1 / C``: smoother, so it holds up better
    when the models feeding the features are refitted on more data between training and serving);
    ``max_iter``, ``learning_rate``, ``max_leaf_nodes``, ``l2_regularization``, ``seed`` (the trees');
    ``C`` (the logistic model's); ``predict_threads`` OpenMP threads used to score trees (default 1:
    a request's few hundred candidates do not gain from threads, and on a busy machine spinning threads
    cost far more than they save; parallelism comes from shards and concurrent requests).
    Fitted: ``trees_`` (each tree's node records, a plain structured array) or ``coef_``, ``mean_``,
    ``scale_`` (logistic); ``baseline_``, ``n_features_``, ``n_train_pairs_``, ``positive_rate_``.

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(400, 3)).astype(np.float32)
    >>> ranker = ReRanker(model="logistic").fit(x, x[:, 0] + 0.1 * rng.normal(size=400) > 0)
    >>> bool(ranker.predict(x[:1] * 0 + [[2, 0, 0]])[0] > 0.9)
    True
    """

    def __init__(
        self,
        *,
        model: str = "gbdt",
        max_iter: int = 200,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 31,
        l2_regularization: float = 1.0,
        seed: int = 0,
        C: float = 1.0,
        predict_threads: int | None = 1,
    ) -> None:
        self.model, self.C = model, C
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.l2_regularization = l2_regularization
        self.seed = seed
        self.predict_threads = predict_threads

    def fit(self, features: np.ndarray, labels: np.ndarray) -> ReRanker:
        """Fit on pair features and 0/1 engagement labels."""
        labels = np.asarray(labels).astype(np.int64)
        if features.shape[0] != labels.shape[0] or features.shape[0] == 0:
            raise InvalidInputError(
                f"features ({features.shape[0]} rows) and labels ({labels.shape[0]}) must match and be non-empty"
            )
        if np.unique(labels).size < 2:
            raise InvalidInputError("re-ranker labels are all one class; use more users or a larger candidate pool")
        if self.model not in ("gbdt", "logistic"):
            raise InvalidInputError(f"re-ranker model must be 'gbdt' or 'logistic', got {self.model!r}")
        self.n_features_ = int(features.shape[1])
        self.n_train_pairs_ = int(labels.size)
        self.positive_rate_ = float(labels.mean())
        if self.model == "logistic":
            return self._fit_logistic(np.asarray(features, dtype=np.float64), labels)
        from sklearn.ensemble import HistGradientBoostingClassifier

        model = HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            l2_regularization=self.l2_regularization,
            early_stopping=False,
            random_state=self.seed,
        ).fit(features, labels)
        # Keep the trees as plain arrays (sklearn's node records), so a saved funnel is JSON + npz, not a pickle.
        self.trees_ = [p.nodes for trees in model._predictors for p in trees]
        self.baseline_ = float(np.asarray(model._baseline_prediction).ravel()[0])
        log.info("re-ranker fitted on %d pairs (%.2f%% positive)", labels.size, 100 * labels.mean())
        return self

    def _fit_logistic(self, x: np.ndarray, labels: np.ndarray) -> ReRanker:
        from sklearn.linear_model import LogisticRegression

        self.mean_ = x.mean(0)
        self.scale_ = np.where(x.std(0) > 1e-12, x.std(0), 1.0)
        model = LogisticRegression(C=self.C, max_iter=1000).fit((x - self.mean_) / self.scale_, labels)
        # plain arrays, so a saved funnel is JSON + npz, not a pickle
        self.coef_ = model.coef_.ravel().astype(np.float64)
        self.baseline_ = float(model.intercept_[0])
        log.info("logistic re-ranker fitted on %d pairs (%.2f%% positive)", labels.size, 100 * labels.mean())
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Engagement probability per pair (float32)."""
        if not hasattr(self, "trees_") and not hasattr(self, "coef_"):
            raise InvalidInputError("ReRanker is not fitted; call fit(features, labels) first")
        x = np.ascontiguousarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features_:
            raise InvalidInputError(f"features must have shape (n, {self.n_features_}), got {x.shape}")
        from scipy.special import expit

        if getattr(self, "model", "gbdt") == "logistic":
            return expit(((x - self.mean_) / self.scale_) @ self.coef_ + self.baseline_).astype(np.float32)
        from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor

        no_cats = np.zeros((0, 8), dtype=np.uint32)
        f_idx_map = np.zeros(self.n_features_, dtype=np.uint32)
        raw = np.full(x.shape[0], self.baseline_, dtype=np.float64)
        with _controller().limit(limits=self.predict_threads, user_api="openmp"):
            for nodes in self.trees_:
                raw += TreePredictor(nodes, no_cats, no_cats).predict(
                    x, no_cats, f_idx_map, self.predict_threads or (os.cpu_count() or 1)
                )
        return expit(raw).astype(np.float32)
