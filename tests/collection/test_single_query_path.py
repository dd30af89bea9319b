"""One query takes the lean warm path (``vectree.collection.single``) and gets exactly what the
general path returns for the same method: ids, distances, labels and stats, for every metric, stored
dtype and code, int and str ids, after deletes; cases it does not cover fall back to the general path."""

import numpy as np
import pytest

import vectree
from vectree.collection.single import search_one
from vectree.collection.validate import as_vectors


def _build(url, x, metric, dtype, codes, str_ids=False):
    col = vectree.create_collection(url, dim=x.shape[1], metric=metric, bucket_size=60, vector_dtype=dtype, codes=codes)
    n = 1500
    ids = [f"p{i}" for i in range(n)] if str_ids else np.arange(n) * 7
    col.add(x[:n], ids=ids, labels=np.arange(n) % 5)
    col.build()
    col.search(x[:2], k=1, exact=True)  # every bucket cached: the warm path
    return col


def _same(col, queries, probes, forced):
    for q in queries:
        lean = col.search(q, k=10, probes=probes)
        general = col.search(q, k=10, probes=probes, method=forced)
        np.testing.assert_array_equal(lean.ids, general.ids)
        np.testing.assert_array_equal(lean.distances, general.distances)
        np.testing.assert_array_equal(lean.labels, general.labels)
        assert lean.stats == general.stats


@pytest.mark.parametrize("metric", ["l2", "cosine", "dot"])
@pytest.mark.parametrize(
    "dtype,codes", [("float32", None), ("float16", None), ("float32", "int8"), ("float16", "int8")]
)
def test_lean_path_matches_the_general_one(arxiv_sample, metric, dtype, codes):
    x = arxiv_sample["vectors"]
    if metric != "cosine":  # unnormalised rows, so the metrics differ
        x = x * np.linspace(0.5, 2.0, len(x), dtype=np.float32)[:, None]
    col = _build(f"memory://single-{metric}-{dtype}-{codes}", x, metric, dtype, codes)
    queries = x[2400:2420]
    snap = col._snap
    taken = search_one(snap, as_vectors(queries[0], col.dim, metric, allow_1d=True), 10, 3)
    assert taken is not None and taken.stats["method"] == ("quantized" if codes else "compiled")
    _same(col, queries, 3, "quantized" if codes else "compiled")


def test_str_ids_and_deletes(arxiv_sample, tmp_path):
    x = arxiv_sample["vectors"]
    col = _build(tmp_path / "c", x, "cosine", "float32", None, str_ids=True)
    col.delete([f"p{i}" for i in range(0, 1500, 3)])
    col = vectree.open_collection(tmp_path / "c")
    queries = x[2400:2420]
    col.search(queries, k=10, exact=True)  # every bucket cached: the warm path
    assert search_one(col._snap, as_vectors(queries[0], col.dim, "cosine", allow_1d=True), 10, 4) is not None
    _same(col, queries, 4, "compiled")
    got = col.search(queries[0], k=10, probes=4).ids[0].tolist()
    assert not {f"p{i}" for i in range(0, 1500, 3)} & set(got)


def test_other_cases_fall_back(arxiv_sample, tmp_path):
    x = arxiv_sample["vectors"]
    col = _build(tmp_path / "c", x, "cosine", "float32", None)
    q = as_vectors(x[2500], col.dim, "cosine", allow_1d=True)
    cold = vectree.open_collection(tmp_path / "c")
    assert search_one(cold._snap, q, 10, 4) is None  # nothing cached yet: the general path fetches
    assert search_one(col._snap, q, 10, col.stats()["buckets"]) is None  # every bucket: the general path
    col.add(x[2400:2450], ids=np.arange(100_000, 100_050))  # an unindexed tail
    assert search_one(col._snap, q, 10, 4) is None
    one = col.search(x[2400], k=1, probes=4)
    assert one.ids[0, 0] == 100_000  # the tail was searched


def test_lean_path_under_threads_and_evictions(arxiv_sample, tmp_path):
    """Three threads answer single queries through the lean path while the cache, too small for every
    bucket, keeps evicting what the others hold; every answer is the one-thread answer."""
    import threading

    x = arxiv_sample["vectors"]
    _build(tmp_path / "c", x, "cosine", "float32", "int8")
    alone = vectree.open_collection(tmp_path / "c")
    queries = x[2400:2460]
    want = [alone.search(q, k=10, probes=3, method="quantized").ids for q in queries]
    col = vectree.open_collection(tmp_path / "c", cache_bytes=1_200_000)  # under half the buckets
    lean, errors = [0], []

    def run(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            for i in rng.integers(0, len(queries), 300).tolist():
                q = as_vectors(queries[i], col.dim, "cosine", allow_1d=True)
                got = search_one(col._snap, q, 10, 3)
                if got is None:
                    got = col.search(queries[i], k=10, probes=3)
                else:
                    lean[0] += 1
                if not np.array_equal(got.ids, want[i]):
                    errors.append((i, got.ids, want[i]))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert lean[0] > 100, lean  # most answers came through the lean path
    assert col.stats()["cache"]["evictions"] > 0  # and blocks were let go while others read
