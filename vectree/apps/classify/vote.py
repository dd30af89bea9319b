"""The weighted vote of the nearest labelled neighbours: class probabilities from a search's labels and distances."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

WEIGHTS = ("uniform", "distance")


def plain(v: Any) -> Any:
    """A numpy scalar as the Python value it holds (labels compare and serialise as Python values).

    >>> plain(np.int64(3)), plain("a")
    (3, 'a')
    """
    return v.item() if isinstance(v, np.generic) else v


def weighted_vote(
    labels: np.ndarray | None,
    distances: np.ndarray,
    classes: np.ndarray,
    weights: str | Callable[[np.ndarray], np.ndarray] = "distance",
) -> np.ndarray:
    """(n, len(classes)) probabilities: each row's neighbours vote for their label, weighted by ``weights``.

    ``labels`` and ``distances`` are the (n, k) arrays of a search; a missing neighbour (infinite distance) or
    a label not in ``classes`` has no vote; a row with no vote at all gets the uniform distribution.
    ``weights``: ``"uniform"``, ``"distance"`` (1 / (distance + 1e-6)), or a function of the distances.

    >>> labels = np.array([["a", "b", "b"]], dtype=object)
    >>> weighted_vote(labels, np.array([[0.5, 1.0, 1.0]]), np.array(["a", "b"], dtype=object), "uniform").round(3)
    array([[0.333, 0.667]])
    >>> weighted_vote(labels, np.array([[0.5, 1.0, 1.0]]), np.array(["a", "b"], dtype=object)).round(3)
    array([[0.5, 0.5]])
    """
    index = {c: i for i, c in enumerate(plain(c) for c in classes)}
    n, k = distances.shape
    found = np.isfinite(distances)
    cls = np.full((n, k), -1, dtype=np.int64)
    if labels is not None:
        flat = labels.ravel().tolist()
        cls = np.array([index.get(v, -1) for v in flat], dtype=np.int64).reshape(n, k)
    if weights == "uniform":
        w = np.ones((n, k))
    elif weights == "distance":
        w = 1.0 / (np.where(found, distances, 0.0).astype(np.float64) + 1e-6)
    else:
        w = np.asarray(weights(distances), dtype=np.float64)
    w = np.where(found & (cls >= 0), w, 0.0)
    votes = np.zeros((n, len(classes)))
    np.add.at(votes, (np.repeat(np.arange(n), k), np.maximum(cls, 0).ravel()), w.ravel())
    total = votes.sum(axis=1, keepdims=True)
    empty = total[:, 0] == 0
    votes[empty] = 1.0  # no labelled neighbour found: uniform
    return votes / np.where(empty[:, None], len(classes), total)
