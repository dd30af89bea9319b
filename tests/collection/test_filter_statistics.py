"""Per-bucket filter statistics in the index: a filtered search never fetches a bucket they rule out,
never rules out one holding a match, and collections built before them still search correctly."""

from __future__ import annotations

import datetime
import shutil

import numpy as np
import pytest

import vectree
from vectree.collection.filters import block_columns, parse_filter
from vectree.collection.prune import may_match
from vectree.format.object_keys import BUCKETS, index_key
from vectree.index.index import Index

N, CLUSTERS, DIM = 2000, 20, 16
START = datetime.date(2024, 1, 1)


def _generated():
    """20 well separated clusters; each cluster's rows carry their own month, score range and tier."""
    rng = np.random.default_rng(7)
    centers = rng.normal(size=(CLUSTERS, DIM)) * 10
    cluster = np.repeat(np.arange(CLUSTERS), N // CLUSTERS)
    x = (centers[cluster] + rng.normal(size=(N, DIM))).astype(np.float32)
    score = cluster * 10 + rng.uniform(0, 10, N)
    days = np.array([(START + datetime.timedelta(days=int(30.5 * c + rng.integers(0, 28)))) for c in cluster])
    tiers = np.array(["gold", "silver", "bronze"])[cluster % 3]
    meta = []
    for i in range(N):
        m = {"day": days[i].isoformat(), "score": round(float(score[i]), 3), "tier": str(tiers[i]), "flag": bool(i % 2)}
        if i % 5 == 0:
            m["opt"] = int(i % 7)  # a field only some rows have
        meta.append(m)
    labels = [f"c{c}" for c in cluster]
    return x, cluster, meta, labels


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    x, cluster, meta, labels = _generated()
    root = tmp_path_factory.mktemp("stats") / "c"
    col = vectree.create_collection(root, dim=DIM, metric="l2", bucket_size=50)
    col.add(x, ids=np.arange(N), labels=labels, metadata=meta)
    col.build()
    return {"root": root, "x": x, "cluster": cluster, "meta": meta}


def _buckets(col):
    """(bucket, block) of every non-empty bucket, read straight from the store."""
    snap = col._snap
    fps = snap.index.bucket_fingerprints
    held = [i for i, fp in enumerate(fps) if fp]
    return list(zip(held, snap.cache.blocks([(BUCKETS, fps[i]) for i in held])))


def _exact(col, flt):
    """Leaves holding a live match, and the matching ids, from every bucket's rows."""
    held, ids = set(), []
    for bucket, block in _buckets(col):
        mask = flt.mask(block_columns(block.rows, {}), len(block.rows))
        dead = col._snap.dead_mask(block)
        if dead is not None:
            mask &= ~dead
        if mask.any():
            held.add(bucket)
            ids += block.rows.ids[mask].tolist()
    return held, np.array(sorted(ids))


def _brute_l2(x, queries, ids, k):
    d = ((queries[:, None, :] - x[None, ids, :]) ** 2).sum(-1)
    order = np.argsort(d, axis=1, kind="stable")[:, :k]
    return ids[order]


@pytest.mark.parametrize(
    "where",
    [
        {"day": {"$gte": "2024-03-01", "$lt": "2024-04-01"}},
        {"score": {"$gt": 55.0, "$lte": 71.0}},
        {"label": {"$in": ["c4", "c11"]}},
        {"$and": [{"tier": "gold"}, {"score": {"$lt": 40}}]},
    ],
    ids=["date-range", "score-range", "label-in", "tier-and-score"],
)
def test_a_selective_filter_fetches_only_the_buckets_with_matches(gen, where):
    col = vectree.open_collection(gen["root"])  # a fresh cache: every fetch is counted
    flt = parse_filter(where)
    queries = gen["x"][::97] + 0.5
    res = col.search(queries, k=10, exact=True, where=where)
    fetched = col._snap.cache.fetches
    held, ids = _exact(vectree.open_collection(gen["root"]), flt)
    buckets = col.stats()["buckets"]
    assert len(held) < buckets / 4, (len(held), buckets)  # the filter is selective
    assert res.stats["buckets_ruled_out"] == buckets - len(held)  # statistics alone rule out every other bucket
    assert fetched == len(held)  # and those are never fetched
    assert res.stats["matching_rows"] == len(ids)
    np.testing.assert_array_equal(res.ids, _brute_l2(gen["x"], queries, ids, 10))


def _random_filter(rng, depth=0):
    """A random filter over every field and operator (dates, numbers, strings, booleans, labels, ids, sparse)."""
    if depth < 2 and rng.random() < 0.35:
        kind = rng.choice(["$and", "$or", "$not"])
        if kind == "$not":
            return {"$not": _random_filter(rng, depth + 1)}
        return {str(kind): [_random_filter(rng, depth + 1) for _ in range(int(rng.integers(1, 4)))]}
    field = rng.choice(["day", "score", "tier", "flag", "label", "id", "opt"])
    op = str(rng.choice(["$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte"]))
    if field == "day":
        value = lambda: (START + datetime.timedelta(days=int(rng.integers(-10, 620)))).isoformat()  # noqa: E731
    elif field == "score":
        value = lambda: float(np.round(rng.uniform(-5, 205), 1))  # noqa: E731
    elif field == "tier":
        value = lambda: str(rng.choice(["gold", "silver", "bronze", "tin"]))  # noqa: E731
    elif field == "flag":
        value, op = (lambda: bool(rng.integers(0, 2))), str(rng.choice(["$eq", "$ne", "$in", "$nin"]))
    elif field == "label":
        value = lambda: f"c{int(rng.integers(0, CLUSTERS + 2))}"  # noqa: E731
    elif field == "id":
        value = lambda: int(rng.integers(-5, N + 5))  # noqa: E731
    else:
        value = lambda: int(rng.integers(0, 8))  # noqa: E731
    if op in ("$in", "$nin"):
        return {str(field): {op: [value() for _ in range(int(rng.integers(0, 4)))]}}
    return {str(field): {op: value()}}


@pytest.mark.parametrize("kept", ["values", "min-max"])
def test_statistics_never_rule_out_a_bucket_with_a_match(gen, kept):
    """Over 150 random filters ($or, $not, $nin, dates, sparse fields), every bucket holding a match is kept:
    judged on the distinct values stored, and on min/max alone (what fields with many values keep)."""
    col = vectree.open_collection(gen["root"])
    stats = col._snap.index.bucket_stats
    if kept == "min-max":
        stats = [
            {"n": s["n"], "fields": {f: {k: v for k, v in e.items() if k != "values"} for f, e in s["fields"].items()}}
            if s
            else s
            for s in stats
        ]
    blocks = _buckets(col)
    assert all(stats[bucket] is not None for bucket, _ in blocks)
    rng = np.random.default_rng(3)
    ruled_out = kept_empty = 0
    for _ in range(150):
        where = _random_filter(rng)
        flt = parse_filter(where)
        for bucket, block in blocks:
            has_match = bool(flt.mask(block_columns(block.rows, {}), len(block.rows)).any())
            verdict = may_match(flt, stats[bucket])
            assert verdict or not has_match, (where, bucket)
            ruled_out += not verdict
            kept_empty += verdict and not has_match
    assert ruled_out > 150 * len(blocks) // 10, ruled_out  # and they do rule out (it is not "keep everything")


def test_random_filtered_searches_match_the_exact_answer(gen):
    col = vectree.open_collection(gen["root"])
    rng = np.random.default_rng(11)
    queries = gen["x"][::250] + 0.3
    for _ in range(40):
        where = _random_filter(rng)
        res = col.search(queries, k=5, exact=True, where=where)
        _, ids = _exact(col, parse_filter(where))
        expected = _brute_l2(gen["x"], queries, ids, 5) if len(ids) else np.full((len(queries), 0), -1)
        got = res.ids[:, : expected.shape[1]]
        np.testing.assert_array_equal(got, expected, err_msg=str(where))
        assert (res.ids[:, expected.shape[1] :] == -1).all()


def _drop_statistics(root):
    """Commit the collection's index as indexes were written before statistics (no bucket_stats entry)."""
    col = vectree.open_collection(root)
    index = col._snap.index
    old = Index(
        index.projection, index.tree, index.bucket_fingerprints, index.bucket_rows, index.settings, index.centers
    )
    data, fp = old.to_bytes()
    assert b"bucket_stats" not in data
    col.store.put(index_key(fp), data)
    col._commit("build", lambda b: {"index": fp}, rebase=False)
    return vectree.open_collection(root)


def test_an_index_without_statistics_reads_every_bucket_and_answers_the_same(gen, tmp_path):
    shutil.copytree(gen["root"], tmp_path / "c")
    old = _drop_statistics(tmp_path / "c")
    assert old._snap.index.bucket_stats is None
    where = {"day": {"$gte": "2024-03-01", "$lt": "2024-04-01"}}
    queries = gen["x"][::97]
    res = old.search(queries, k=10, exact=True, where=where)
    assert old._snap.cache.fetches == old.stats()["buckets"]  # the old way: every bucket's columns
    assert res.stats["buckets_ruled_out"] == 0
    new = vectree.open_collection(gen["root"]).search(queries, k=10, exact=True, where=where)
    np.testing.assert_array_equal(res.ids, new.ids)
    # compaction of an old index gives statistics to the buckets it rewrites, and stays exact
    old.add(gen["x"][:30] + 0.01, ids=np.arange(N, N + 30), metadata=[{"day": "2026-06-01", "score": -1.0}] * 30)
    old.delete(list(range(0, 400, 3)))
    old.compact()
    old = vectree.open_collection(tmp_path / "c")
    stats = old._snap.index.bucket_stats
    assert stats is not None and any(s is not None for s in stats) and any(s is None for s in stats)
    for w in ({"day": {"$gte": "2026-01-01"}}, {"score": {"$lt": 0}}, where, {"$not": {"tier": "gold"}}):
        res = old.search(queries, k=10, exact=True, where=w)
        _, ids = _exact(old, parse_filter(w))
        np.testing.assert_array_equal(
            res.ids, _brute_l2(np.concatenate([gen["x"], gen["x"][:30] + 0.01]), queries, ids, 10)
        )


def test_compaction_keeps_statistics_exact_for_rewritten_buckets(gen, tmp_path):
    shutil.copytree(gen["root"], tmp_path / "c")
    col = vectree.open_collection(tmp_path / "c")
    extra = gen["x"][:120] + 0.01
    col.add(extra, ids=np.arange(N, N + 120), metadata=[{"day": "2030-01-01", "score": 999.0, "tier": "new"}] * 120)
    col.delete(list(range(0, N, 4)))  # statistics of untouched buckets stay a superset: fine
    col.compact()
    col = vectree.open_collection(tmp_path / "c")
    assert all(s is not None for s, fp in zip(col._snap.index.bucket_stats, col._snap.index.bucket_fingerprints) if fp)
    where = {"tier": "new"}
    res = col.search(extra[:5], k=10, exact=True, where=where)
    held, ids = _exact(vectree.open_collection(tmp_path / "c"), parse_filter(where))
    assert col._snap.cache.fetches == len(held) and len(ids) == 120
    assert set(res.ids.ravel()) <= set(range(N, N + 120)) and (res.ids >= 0).all()
