"""Near-duplicate detection with a vectree collection: rows whose embeddings are nearly the same.

The rows' vectors go into a throwaway collection (a temporary directory, so memory stays bounded for
large sets); each row asks for its ``k`` nearest neighbours, pairs closer than ``threshold`` (in the
collection's metric: cosine distance = 1 - cos) are linked, and the connected components of those
links are the duplicate clusters (scipy's ``connected_components``). The first row of a cluster is
kept. The search is approximate (``probes`` buckets per query); ``exact=True`` scans everything.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from vectree.collection.plan import DEFAULT_PROBES
from vectree.errors import InvalidInputError
from vectree.experiments.data.filtering import FilterReport, FilterStep
from vectree.experiments.data.splits import LeakageError, Split

__all__ = [
    "near_duplicate_pairs",
    "near_duplicates_between",
    "duplicate_clusters",
    "drop_near_duplicates",
    "check_near_duplicate_leakage",
]

log = logging.getLogger(__name__)


def _as_matrix(vectors: np.ndarray, name: str = "vectors") -> np.ndarray:
    x = np.asarray(vectors, dtype=np.float32)
    if x.ndim != 2 or len(x) == 0:
        raise InvalidInputError(f"{name} must be a non-empty (n, dim) array, got shape {x.shape}")
    return x


def _search_against(
    base: np.ndarray,
    queries: np.ndarray,
    *,
    k: int,
    metric: str,
    probes: int,
    exact: bool,
    bucket_size: int | None,
    batch: int = 4096,
) -> tuple[np.ndarray, np.ndarray]:
    import vectree

    k = min(k, len(base))
    bucket = bucket_size or int(min(1000, max(64, len(base) // 16)))
    with tempfile.TemporaryDirectory(prefix="vectree-neardup-") as tmp:
        col = vectree.create_collection(tmp, dim=base.shape[1], metric=metric, bucket_size=bucket)
        for start in range(0, len(base), 50_000):
            col.add(base[start : start + 50_000], ids=np.arange(start, min(start + 50_000, len(base)), dtype=np.int64))
        col.build()
        ids, dist = [], []
        for start in range(0, len(queries), batch):
            res = col.search(queries[start : start + batch], k=k, probes=probes, exact=exact)
            ids.append(np.asarray(res.ids, dtype=np.int64))
            dist.append(np.asarray(res.distances, dtype=np.float64))
    return np.vstack(ids), np.vstack(dist)


def near_duplicate_pairs(
    vectors: np.ndarray,
    *,
    threshold: float = 0.05,
    metric: str = "cosine",
    k: int = 10,
    probes: int = DEFAULT_PROBES,
    exact: bool = False,
    bucket_size: int | None = None,
) -> pd.DataFrame:
    """Pairs of rows ``i < j`` within ``threshold`` of each other: a table with columns i, j, distance."""
    x = _as_matrix(vectors)
    if not threshold >= 0:
        raise InvalidInputError(f"threshold must be a distance >= 0, got {threshold}")
    ids, dist = _search_against(x, x, k=k + 1, metric=metric, probes=probes, exact=exact, bucket_size=bucket_size)
    rows = np.repeat(np.arange(len(x)), ids.shape[1])
    cols, d = ids.ravel(), dist.ravel()
    ok = (cols >= 0) & (cols != rows) & (d <= threshold)
    i, j = np.minimum(rows[ok], cols[ok]), np.maximum(rows[ok], cols[ok])
    pairs = pd.DataFrame({"i": i, "j": j, "distance": d[ok]}).drop_duplicates(["i", "j"]).sort_values(["i", "j"])
    return pairs.reset_index(drop=True)


def near_duplicates_between(
    queries: np.ndarray,
    base: np.ndarray,
    *,
    threshold: float = 0.05,
    metric: str = "cosine",
    probes: int = DEFAULT_PROBES,
    exact: bool = False,
) -> pd.DataFrame:
    """For each query row, its nearest row of ``base`` when within ``threshold``: columns query, base, distance."""
    q = _as_matrix(queries, "queries")
    b = _as_matrix(base, "base")
    if q.shape[1] != b.shape[1]:
        raise InvalidInputError(f"queries have dim {q.shape[1]} but base has dim {b.shape[1]}")
    ids, dist = _search_against(b, q, k=1, metric=metric, probes=probes, exact=exact, bucket_size=None)
    ok = (ids[:, 0] >= 0) & (dist[:, 0] <= threshold)
    return pd.DataFrame({"query": np.flatnonzero(ok), "base": ids[ok, 0], "distance": dist[ok, 0]})


def duplicate_clusters(pairs: pd.DataFrame, n_rows: int) -> np.ndarray:
    """Cluster label of each row: rows linked by a chain of near-duplicate pairs share a label."""
    graph = coo_matrix((np.ones(len(pairs)), (pairs["i"].to_numpy(), pairs["j"].to_numpy())), shape=(n_rows, n_rows))
    _, labels = connected_components(graph, directed=False)
    return labels


def drop_near_duplicates(
    table: pd.DataFrame,
    vectors: np.ndarray,
    *,
    threshold: float = 0.05,
    metric: str = "cosine",
    k: int = 10,
    probes: int = DEFAULT_PROBES,
    exact: bool = False,
) -> tuple[pd.DataFrame, np.ndarray, FilterReport]:
    """Keep the first row of every near-duplicate cluster; returns kept rows, their vectors and a report."""
    x = _as_matrix(vectors)
    if len(table) != len(x):
        raise InvalidInputError(
            f"the table has {len(table)} rows but there are {len(x)} vectors; give one vector per row"
        )
    pairs = near_duplicate_pairs(x, threshold=threshold, metric=metric, k=k, probes=probes, exact=exact)
    labels = duplicate_clusters(pairs, len(x))
    first = pd.Series(np.arange(len(x))).groupby(labels).transform("min").to_numpy()
    keep = first == np.arange(len(x))
    clusters = int(len(np.unique(labels[~keep]))) if (~keep).any() else 0
    examples = [f"{table.index[j]}~{table.index[first[j]]}" for j in np.flatnonzero(~keep)[:5]]
    step = FilterStep(
        "near duplicates",
        f"{metric} distance <= {threshold:g} to a kept row (vectree collection, "
        f"{'exact' if exact else f'probes={probes}'})",
        int((~keep).sum()),
        clusters,
        examples,
    )
    log.info("near duplicates: %d pairs, %d rows dropped in %d clusters", len(pairs), int((~keep).sum()), clusters)
    return table[keep], x[keep], FilterReport(len(table), int(keep.sum()), [step])


def check_near_duplicate_leakage(
    split: Split,
    vectors: np.ndarray,
    *,
    threshold: float = 0.05,
    metric: str = "cosine",
    probes: int = DEFAULT_PROBES,
    exact: bool = False,
    sides: Sequence[str] = ("validation", "test"),
) -> int:
    """Raise :class:`LeakageError` if an evaluation row is a near duplicate of a training row; else return 0."""
    x = _as_matrix(vectors)
    if len(split.train) == 0:
        return 0
    problems = []
    for name in sides:
        idx = split.sides()[name]
        if len(idx) == 0:
            continue
        hits = near_duplicates_between(
            x[idx], x[split.train], threshold=threshold, metric=metric, probes=probes, exact=exact
        )
        if len(hits):
            ex = [(int(idx[q]), int(split.train[b])) for q, b in zip(hits["query"][:3], hits["base"][:3])]
            problems.append(
                f"{len(hits)} {name} row(s) are near duplicates of training rows, e.g. (row, train row) {ex}"
            )
    if problems:
        raise LeakageError(
            f"the {split.method} split leaks: "
            + "; ".join(problems)
            + f" ({metric} distance <= {threshold:g}). Deduplicate first or split by group."
        )
    return 0
