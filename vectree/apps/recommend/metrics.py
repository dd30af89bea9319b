"""Offline evaluation of recommenders: Recall@k, NDCG@k and catalogue coverage on a held-out log.

A recommender here is anything with ``recommend(users, k) -> (len(users), k)`` array of item indices
(``-1`` pads a short list). Seen (training) items must already be excluded by the recommender.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from vectree.apps.recommend.data import Interactions
from vectree.errors import InvalidInputError


class Recommender(Protocol):
    def recommend(self, users: np.ndarray, k: int = 10) -> np.ndarray: ...


def recall_at_k(recommended: np.ndarray, relevant: set[int] | np.ndarray, k: int = 10) -> float:
    """Share of the relevant items found in the first ``k`` recommended (|hits| / |relevant|)."""
    rel = set(int(i) for i in relevant)
    if not rel:
        raise InvalidInputError("recall_at_k needs at least one relevant item; skip users with an empty test set")
    hits = sum(1 for i in recommended[:k] if int(i) in rel)
    return hits / len(rel)


def ndcg_at_k(recommended: np.ndarray, relevant: set[int] | np.ndarray, k: int = 10) -> float:
    """Binary-relevance NDCG: sum of 1/log2(rank+1) over hits, divided by the ideal for min(k, |relevant|)."""
    rel = set(int(i) for i in relevant)
    if not rel:
        raise InvalidInputError("ndcg_at_k needs at least one relevant item; skip users with an empty test set")
    dcg = sum(1.0 / np.log2(r + 2) for r, i in enumerate(recommended[:k]) if int(i) in rel)
    ideal = sum(1.0 / np.log2(r + 2) for r in range(min(k, len(rel))))
    return float(dcg / ideal)


def coverage(recommendations: np.ndarray, n_items: int) -> float:
    """Catalogue coverage: share of all items recommended to at least one user."""
    recs = np.asarray(recommendations).ravel()
    return float(np.unique(recs[recs >= 0]).size / n_items)


@dataclass
class EvalResult:
    recall_at_10: float
    ndcg_at_10: float
    coverage_at_10: float
    n_users: int
    k: int = 10

    def as_dict(self) -> dict:
        return {
            f"recall_at_{self.k}": self.recall_at_10,
            f"ndcg_at_{self.k}": self.ndcg_at_10,
            f"coverage_at_{self.k}": self.coverage_at_10,
            "n_users": self.n_users,
        }


def test_sets(test: Interactions) -> dict[int, set[int]]:
    """Per user, the set of items in the held-out log (users with no test events are absent)."""
    out: dict[int, set[int]] = {}
    for u, i in zip(test.user.tolist(), test.item.tolist()):
        out.setdefault(u, set()).add(i)
    return out


def evaluate(model: Recommender, test: Interactions, k: int = 10, users: np.ndarray | None = None) -> EvalResult:
    """Mean Recall@k and NDCG@k over users with test events, plus catalogue coverage of their top-k lists."""
    truth = test_sets(test)
    if users is None:
        users = np.array(sorted(truth), dtype=np.int64)
    else:
        users = np.array([u for u in np.asarray(users).tolist() if u in truth], dtype=np.int64)
    if users.size == 0:
        raise InvalidInputError("no user has test events; check the split")
    recs = np.asarray(model.recommend(users, k=k))
    if recs.shape[0] != users.size:
        raise InvalidInputError(f"recommend returned {recs.shape[0]} rows for {users.size} users")
    rec = [recall_at_k(recs[j], truth[int(u)], k) for j, u in enumerate(users)]
    nd = [ndcg_at_k(recs[j], truth[int(u)], k) for j, u in enumerate(users)]
    return EvalResult(float(np.mean(rec)), float(np.mean(nd)), coverage(recs[:, :k], test.n_items), int(users.size), k)


def top_k_unseen(scores: np.ndarray, seen: list[np.ndarray], k: int) -> np.ndarray:
    """Row-wise top-k item indices of a dense (n_users, n_items) score matrix, with each row's seen items
    masked out. ``seen[j]`` lists the items to exclude for row ``j``."""
    s = np.array(scores, dtype=np.float64, copy=True)
    for j, items in enumerate(seen):
        if len(items):
            s[j, items] = -np.inf
    k_eff = min(k, s.shape[1])
    part = np.argpartition(-s, k_eff - 1, axis=1)[:, :k_eff]
    order = np.argsort(-np.take_along_axis(s, part, axis=1), axis=1, kind="stable")
    top = np.take_along_axis(part, order, axis=1)
    top[~np.isfinite(np.take_along_axis(s, top, axis=1))] = -1
    if k_eff < k:
        top = np.pad(top, ((0, 0), (0, k - k_eff)), constant_values=-1)
    return top
