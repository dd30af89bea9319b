"""The neighbour vote of query vectors, searched in the classifier's collection, and what an all-zero row means
under the cosine metric.

An all-zero vector has no direction: following scikit-learn's convention (``cosine_similarity`` of a zero
vector is 0) it is at cosine distance 1 from every row. So a zero query row has no nearer neighbour than
any other: its vote is the class frequencies of the training rows; a zero training row is nearer to no
query than any row with a direction and is kept out of the collection (it still counts in the class
frequencies and the linear head). Under ``l2`` and ``dot`` a zero row is an ordinary point.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from vectree.apps.classify.vote import weighted_vote


def directed(vectors: np.ndarray, metric: str) -> np.ndarray:
    """Boolean mask of the rows the collection can search with: all rows, except all-zero rows under cosine.

    >>> directed(np.array([[0.0, 0.0], [1.0, 0.0]]), "cosine").tolist(), directed(np.zeros((1, 2)), "l2").tolist()
    ([False, True], [True])
    """
    if metric != "cosine":
        return np.ones(len(vectors), dtype=bool)
    return np.asarray(vectors != 0).any(axis=1)


def prior(counts: np.ndarray) -> np.ndarray:
    """Class frequencies from per-class row counts (uniform when there are none).

    >>> prior(np.array([1, 3])).tolist(), prior(np.array([0, 0])).tolist()
    ([0.25, 0.75], [0.5, 0.5])
    """
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    return counts / total if total > 0 else np.full(len(counts), 1.0 / max(len(counts), 1))


def search_vote(
    collection: Any,
    vectors: np.ndarray,
    *,
    classes: np.ndarray,
    class_prior: np.ndarray,
    n_neighbors: int,
    probes: int,
    exact: bool,
    weights: str | Callable[[np.ndarray], np.ndarray],
    where: dict | None = None,
    exclude_ids: np.ndarray | None = None,
) -> np.ndarray:
    """(n, n_classes) vote of each row's ``n_neighbors`` nearest stored rows. ``exclude_ids``: one stored id per
    row that must not vote for it (the row itself, when the rows are training rows); zero rows under cosine
    get ``class_prior``."""
    out = np.tile(np.asarray(class_prior, dtype=np.float64), (len(vectors), 1))
    rows = np.flatnonzero(directed(vectors, collection.metric))
    if rows.size == 0 or len(collection) == 0:
        return out
    extra = 0 if exclude_ids is None else 1
    res = collection.search(vectors[rows], k=int(n_neighbors) + extra, probes=probes, exact=bool(exact), where=where)
    labels = None if res.labels is None else np.asarray(res.labels, dtype=object)
    dist = np.asarray(res.distances, dtype=np.float64)
    if exclude_ids is not None:
        dist = np.where(np.asarray(res.ids) == np.asarray(exclude_ids)[rows, None], np.inf, dist)
        order = np.argsort(dist, axis=1, kind="stable")[:, : int(n_neighbors)]
        dist = np.take_along_axis(dist, order, axis=1)
        labels = None if labels is None else np.take_along_axis(labels, order, axis=1)
    out[rows] = weighted_vote(labels, dist, classes, weights)
    return out
