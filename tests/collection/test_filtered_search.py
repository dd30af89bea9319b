"""Filtered search (where=, exclude_ids=): the brute-force answer among matching rows, k results whenever k match."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import vectree
from vectree.collection import filtered
from vectree.errors import InvalidInputError

N = 3000


@pytest.fixture(scope="module")
def papers(tmp_path_factory, arxiv_sample):
    x = arxiv_sample["vectors"][:N]
    cats = np.array(arxiv_sample["categories"][:N], dtype=object)
    dates = np.load(Path(__file__).resolve().parents[2] / "demo" / "arxiv-minilm-4k.npz")["dates"][:N]
    meta = [
        {"date": str(d), "n": i, "even": i % 2 == 0, **({"venue": "conf"} if i % 3 == 0 else {})}
        for i, d in enumerate(dates)
    ]
    root = tmp_path_factory.mktemp("filtered") / "c"
    col = vectree.create_collection(root, dim=384, metric="cosine", bucket_size=100)
    col.add(x, ids=np.arange(N), labels=list(cats), metadata=meta)
    col.build()
    return {"root": root, "x": x, "cats": cats, "dates": dates.astype(str), "n": np.arange(N)}


def _brute(p, queries, match, k):
    """The exact top k among matching rows, by cosine distance then id (vectree's tie order for one build)."""
    x = p["x"] / np.linalg.norm(p["x"], axis=1, keepdims=True)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    d = 1 - q @ x.T
    d[:, ~match] = np.inf
    order = np.argsort(d, axis=1, kind="stable")[:, :k]
    return np.where(np.take_along_axis(d, order, 1) < np.inf, order, -1)


FILTERS = [
    ({"label": "cs.CL"}, lambda p: p["cats"] == "cs.CL"),
    (
        {"label": {"$in": ["cs.LG", "cs.AI"]}, "even": True},
        lambda p: np.isin(p["cats"], ["cs.LG", "cs.AI"]) & (p["n"] % 2 == 0),
    ),
    (
        {"date": {"$gte": "2025-04-01", "$lt": "2025-05-01"}},
        lambda p: (p["dates"] >= "2025-04-01") & (p["dates"] < "2025-05-01"),
    ),
    ({"$or": [{"n": {"$lt": 40}}, {"label": "cs.RO"}]}, lambda p: (p["n"] < 40) | (p["cats"] == "cs.RO")),
    ({"$not": {"label": {"$nin": ["cs.CV"]}}}, lambda p: p["cats"] == "cs.CV"),
    ({"venue": {"$ne": "conf"}, "n": {"$gte": 2900}}, lambda p: (p["n"] % 3 != 0) & (p["n"] >= 2900)),
    ({"id": {"$in": [5, 17, 2999]}}, lambda p: np.isin(p["n"], [5, 17, 2999])),
]


@pytest.mark.parametrize("where, truth", FILTERS, ids=[str(f[0]) for f in FILTERS])
def test_exact_filtered_search_is_brute_force_among_matches(papers, where, truth):
    col = vectree.open_collection(papers["root"])
    queries = papers["x"][::300] + 0.01
    res = col.search(queries, k=10, exact=True, where=where)
    expected = _brute(papers, queries, truth(papers), 10)
    np.testing.assert_array_equal(res.ids, expected)
    assert res.stats["matching_rows"] == int(truth(papers).sum())


def test_routed_filtered_search_counts_only_buckets_with_matches(papers, monkeypatch):
    monkeypatch.setattr(filtered, "EXACT_MATCHES", 0)  # never fall back to scanning every match
    col = vectree.open_collection(papers["root"])
    queries = papers["x"][::100]
    where = {"label": "cs.CV"}
    exact = col.search(queries, k=10, exact=True, where=where)
    recalls = []
    for probes in (4, 16):
        res = col.search(queries, k=10, probes=probes, where=where)
        assert (np.asarray(res.labels) == "cs.CV").all()
        recalls.append(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(res.ids, exact.ids)]))
        assert res.stats["matching_buckets"] < col.stats()["buckets"]  # buckets without cs.CV are never routed to
        assert res.stats["buckets_scanned"] <= res.stats["matching_buckets"]
    assert recalls[1] >= 0.9 and recalls[1] > recalls[0], recalls


def test_k_results_whenever_k_rows_match(papers, monkeypatch):
    monkeypatch.setattr(filtered, "EXACT_MATCHES", 0)
    col = vectree.open_collection(papers["root"])
    rare = {"n": {"$in": [3, 900, 1800, 2700, 10, 2222, 1111, 333, 1500, 2100, 7, 2998]}}  # 12 rows over many buckets
    res = col.search(papers["x"][:5], k=10, probes=1, where=rare)
    assert (res.ids >= 0).all() and set(res.ids.ravel()) <= set(rare["n"]["$in"])
    seven = col.search(papers["x"][:2], k=10, probes=1, where={"n": {"$in": [1, 2, 3, 4, 5, 6, 7]}})
    assert ((seven.ids >= 0).sum(axis=1) == 7).all() and (seven.ids[:, 7:] == -1).all()
    none = col.search(papers["x"][:2], k=5, where={"label": "no.such"})
    assert (none.ids == -1).all()


def test_excluded_deleted_and_tail_rows(papers, tmp_path, arxiv_sample):
    import shutil

    shutil.copytree(papers["root"], tmp_path / "c")
    col = vectree.open_collection(tmp_path / "c")
    q = papers["x"][:3]
    first = col.search(q, k=5, exact=True).ids
    res = col.search(q, k=5, exact=True, exclude_ids=first[:, 0])
    assert not set(first[:, 0]) & set(res.ids.ravel()) and (res.ids >= 0).all()
    np.testing.assert_array_equal(col.search(q, k=5, probes=2, exclude_ids=[]).ids, col.search(q, k=5, probes=2).ids)
    col.delete([int(i) for i in first[:, 0]])
    col.add(
        arxiv_sample["vectors"][N : N + 50],
        ids=np.arange(N, N + 50),
        labels=arxiv_sample["categories"][N : N + 50],
        metadata=[{"n": i, "fresh": True} for i in range(N, N + 50)],
    )
    fresh = col.search(q, k=10, probes=2, where={"fresh": True})
    assert ((fresh.ids >= N) & (fresh.ids < N + 50)).all()
    mixed = col.search(q, k=10, probes=2, where={"label": str(papers["cats"][first[0, 0]])})
    assert not set(first[:, 0]) & set(mixed.ids.ravel())  # deleted rows never come back through a filter


@pytest.mark.parametrize(
    "where, message",
    [
        ([{"label": "x"}], "non-empty dict"),
        ({}, "non-empty dict"),
        ({"$xor": []}, "unknown operator '\\$xor'"),
        ({"label": {"$like": "cs"}}, "unknown operator '\\$like'"),
        ({"label": {"$in": "cs.CL"}}, "takes a list"),
        ({"$and": {"label": "x"}}, "takes a non-empty list"),
        ({"n": {"$gt": [1]}}, "takes a string, number"),
        ({"nope": 1}, "unknown filter field"),
        ({"n": {"$gt": "abc"}}, "cannot compare field 'n'"),
        ({"even": {"$eq": 1}}, "cannot compare field 'even'"),
    ],
)
def test_malformed_filters_are_refused_clearly(papers, where, message):
    col = vectree.open_collection(papers["root"])
    with pytest.raises(InvalidInputError, match=message):
        col.search(papers["x"][:1], k=3, where=where)
