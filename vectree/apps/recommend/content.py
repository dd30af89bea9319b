"""Content-based recommendation: a user's profile is the (optionally recency-weighted) mean of the
embeddings of the items they engaged with; recommend the nearest unseen items from a collection."""

from __future__ import annotations

import numpy as np

from vectree.apps.recommend.data import Interactions
from vectree.apps.recommend.index import ItemIndex
from vectree.collection.plan import DEFAULT_PROBES
from vectree.errors import InvalidInputError


def profile_vectors(
    histories: list[np.ndarray], item_vectors: np.ndarray, half_life: float | None = None
) -> np.ndarray:
    """One profile per history: the mean of its items' vectors, or with ``half_life`` (in interactions) a
    recency-weighted mean where an item ``a`` engagements old weighs ``0.5 ** (a / half_life)``.
    Histories must be in time order (oldest first). Empty histories give zero vectors. float32."""
    if half_life is not None and half_life <= 0:
        raise InvalidInputError(f"half_life must be positive (in interactions) or None, got {half_life!r}")
    out = np.zeros((len(histories), item_vectors.shape[1]), dtype=np.float32)
    for j, h in enumerate(histories):
        if len(h) == 0:
            continue
        vecs = item_vectors[np.asarray(h, dtype=np.int64)]
        if half_life is None:
            out[j] = vecs.mean(axis=0)
        else:
            age = np.arange(len(h) - 1, -1, -1, dtype=np.float32)
            w = 0.5 ** (age / half_life)
            out[j] = (w[:, None] * vecs).sum(axis=0) / w.sum()
    return out


class ContentProfileRecommender:
    """Recommend by content similarity to the user's profile.

    Parameters: ``half_life`` recency weighting in interactions (``None``: plain mean); ``metric`` of the
    item collection; ``url`` where the collection is created (default a fresh ``memory://``);
    ``probes`` searched per query; ``exact`` brute-force instead of the ANN collection; ``bucket_size``
    None: :func:`vectree.create_collection`'s default for the dimension.
    Fitted: ``index_`` (an ``ItemIndex`` holding the item vectors), ``seen_`` (training histories).
    """

    def __init__(
        self,
        *,
        half_life: float | None = None,
        metric: str = "cosine",
        url: str | None = None,
        probes: int = DEFAULT_PROBES,
        bucket_size: int | None = None,
        exact: bool = False,
    ) -> None:
        self.half_life = half_life
        self.metric = metric
        self.url = url
        self.probes = probes
        self.bucket_size = bucket_size
        self.exact = exact

    def fit(self, train: Interactions, item_vectors: np.ndarray) -> ContentProfileRecommender:
        """Index the item content vectors and remember each user's history."""
        if item_vectors.shape[0] != train.n_items:
            raise InvalidInputError(f"item_vectors has {item_vectors.shape[0]} rows, expected n_items={train.n_items}")
        self.index_ = ItemIndex(
            item_vectors,
            metric=self.metric,
            url=self.url,
            bucket_size=self.bucket_size,
            probes=self.probes,
            build=not self.exact,
        )
        self.seen_ = train.by_user()
        return self

    def profiles(self, users: np.ndarray) -> np.ndarray:
        """Profile vectors of these users (from their training histories)."""
        if not hasattr(self, "index_"):
            raise InvalidInputError("ContentProfileRecommender is not fitted; call fit(train, item_vectors)")
        return profile_vectors([self.seen_[u] for u in np.asarray(users)], self.index_.vectors, self.half_life)

    def recommend(self, users: np.ndarray, k: int = 10) -> np.ndarray:
        """Top-k unseen items nearest each user's profile."""
        users = np.asarray(users, dtype=np.int64)
        items, _ = self.index_.search(self.profiles(users), k, [self.seen_[u] for u in users], exact=self.exact)
        return items
