"""Candidate sources of the funnel beside the two-tower collection: EASE and item-kNN.

A production funnel takes candidates from several cheap retrievers before the costly re-ranker: each
source proposes its top ``n`` unseen items, the union goes to the re-ranker, and each source's score and
rank of every candidate (``n`` when the source did not propose it) become re-ranker features.
"""

from __future__ import annotations

import numpy as np

from vectree.apps.recommend.baselines import EASERecommender, ItemKNNRecommender
from vectree.apps.recommend.data import Interactions
from vectree.apps.recommend.metrics import top_k_unseen
from vectree.errors import InvalidInputError

SOURCES = ("two_tower", "ease", "item_knn")


def check_sources(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The source names, validated: ``two_tower`` first (its collection serves stage 1), no repeats.

    >>> check_sources(["two_tower", "ease"])
    ('two_tower', 'ease')
    """
    names = tuple(names)
    bad = [n for n in names if n not in SOURCES]
    if bad or not names or names[0] != "two_tower" or len(set(names)) != len(names):
        raise InvalidInputError(
            f"sources must start with 'two_tower' and name each of {SOURCES} at most once, got {names}"
        )
    return names


class ExtraSources:
    """The sources other than the two-tower model, fitted on one interaction log.

    Parameters: ``names`` (from ``SOURCES`` minus ``two_tower``); ``ease_l2``; ``knn_neighbors``.
    """

    def __init__(self, names: tuple[str, ...], *, ease_l2: float = 500.0, knn_neighbors: int = 50) -> None:
        self.names = tuple(n for n in names if n != "two_tower")
        self.ease_l2, self.knn_neighbors = ease_l2, knn_neighbors

    def fit(self, log_: Interactions) -> ExtraSources:
        """Fit every source on the log."""
        self.models_ = {}
        for name in self.names:
            if name == "ease":
                self.models_[name] = EASERecommender(l2=self.ease_l2).fit(log_)
            else:
                self.models_[name] = ItemKNNRecommender(neighbors=self.knn_neighbors).fit(log_)
        return self

    @property
    def feature_names(self) -> list[str]:
        return [f"{n}_{f}" for n in self.names for f in ("score", "rank", "zscore")]

    def retrieve(
        self, users: np.ndarray, seen: list[np.ndarray], n: int
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Per source: ``items`` (len(users), n) top unseen items and ``scores`` the dense score rows."""
        items, dense = {}, {}
        for name in self.names:
            dense[name] = self.models_[name].scores(users)
            items[name] = top_k_unseen(dense[name], seen, n)
        return items, dense


def merge(lists: list[np.ndarray]) -> np.ndarray:
    """Row-wise union of candidate lists (each (m, n_j), ``-1`` padded), first occurrence kept, ``-1`` padded.

    >>> merge([np.array([[3, 1, -1]]), np.array([[1, 4]])]).tolist()
    [[3, 1, 4, -1, -1]]
    """
    stacked = np.concatenate(lists, axis=1)
    out = np.full(stacked.shape, -1, dtype=np.int64)
    for r, row in enumerate(stacked):
        row = row[row >= 0]
        _, first = np.unique(row, return_index=True)
        keep = row[np.sort(first)]
        out[r, : keep.size] = keep
    return out


def ranks(lists: np.ndarray, n_items: int, absent: int) -> np.ndarray:
    """(m, n_items) rank of each item in each row's list, ``absent`` where it is not listed."""
    out = np.full((lists.shape[0], n_items), absent, dtype=np.float32)
    rows, cols = np.nonzero(lists >= 0)
    out[rows, lists[rows, cols]] = cols
    return out
