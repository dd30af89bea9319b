"""Approximate search converges to exact search: probing every bucket is exactly brute force."""

import numpy as np
import pytest

import vectree
from tests.conftest import recall_at_k


def brute_force(x, q, k, metric):
    if metric == "l2":
        d = (q * q).sum(1)[:, None] - 2 * q @ x.T + (x * x).sum(1)[None, :]
    else:
        if metric == "cosine":
            x = x / np.linalg.norm(x, axis=1, keepdims=True)
            q = q / np.linalg.norm(q, axis=1, keepdims=True)
        d = 1 - q @ x.T
    return np.argsort(d, axis=1, kind="stable")[:, :k], np.sort(d, axis=1)[:, :k]


@pytest.fixture(scope="module")
def fmnist_col(tmp_path_factory, fashion_mnist):
    col = vectree.create_collection(tmp_path_factory.mktemp("c") / "fm", dim=784, metric="l2", bucket_size=250)
    col.add(fashion_mnist["train"], labels=fashion_mnist["labels"])
    col.build()
    return col


def test_exact_search_equals_numpy_brute_force(fmnist_col, fashion_mnist):
    q = fashion_mnist["queries"][:50]
    res = fmnist_col.search(q, k=10, exact=True)
    ids, dist = brute_force(fashion_mnist["train"], q, 10, "l2")
    assert recall_at_k(res.ids, ids) > 0.99  # float32 ties may swap equal-distance rows
    np.testing.assert_allclose(res.distances, dist, rtol=1e-4, atol=1.0)


def test_probing_all_buckets_is_identical_to_exact(fmnist_col, fashion_mnist):
    q = fashion_mnist["queries"]
    exact = fmnist_col.search(q, k=10, exact=True)
    full = fmnist_col.search(q, k=10, probes=fmnist_col.stats()["buckets"])
    np.testing.assert_array_equal(full.ids, exact.ids)
    np.testing.assert_array_equal(full.distances, exact.distances)
    np.testing.assert_array_equal(full.labels, exact.labels)


def test_recall_grows_with_probes_and_is_high_scanning_little(fmnist_col, fashion_mnist):
    q = fashion_mnist["queries"]
    exact = fmnist_col.search(q, k=10, exact=True)
    recalls = [recall_at_k(fmnist_col.search(q, k=10, probes=p).ids, exact.ids) for p in (1, 2, 4, 8)]
    assert recalls == sorted(recalls)
    buckets = fmnist_col.stats()["buckets"]
    assert 4 / buckets <= 0.15
    assert recalls[2] >= 0.9  # 4 of 32 buckets


def test_labels_come_back_with_the_neighbours(fmnist_col, fashion_mnist):
    res = fmnist_col.search(fashion_mnist["train"][:20], k=1, probes=1)
    assert res.ids[:, 0].tolist() == list(range(20))
    assert res.labels[:, 0].tolist() == fashion_mnist["labels"][:20].tolist()
    assert res.labels.dtype == np.int64


@pytest.mark.parametrize("metric", ["cosine", "dot"])
def test_other_metrics_match_brute_force(tmp_path, arxiv_sample, metric):
    x, q = arxiv_sample["vectors"][:3000], arxiv_sample["vectors"][3000:3100]
    col = vectree.create_collection(tmp_path / metric, dim=384, metric=metric, bucket_size=300)
    col.add(x * 3.0)  # not unit length: cosine must normalise, dot must not
    col.build()
    res = col.search(q, k=5, exact=True)
    ids, dist = brute_force(x * 3.0, q, 5, metric)
    assert recall_at_k(res.ids, ids) > 0.99
    np.testing.assert_allclose(res.distances, dist, atol=1e-4)
    approx = col.search(q, k=5, probes=4)
    assert recall_at_k(approx.ids, ids) > 0.5


def test_k_is_capped_at_the_row_count_and_missing_rows_pad_with_minus_one_and_inf(tmp_path):
    col = vectree.create_collection(tmp_path / "small", dim=2)
    col.add(np.array([[0, 0], [1, 1], [2, 2]], np.float32))
    col.delete([2])
    res = col.search(np.array([[0, 0]], np.float32), k=4)
    assert res.ids.tolist() == [[0, 1]]
    for k in (10**9, 2**62):  # no allocation for neighbours that cannot exist
        assert col.search(np.array([[0, 0]], np.float32), k=k).ids.tolist() == [[0, 1]]
    col.add(np.array([[5, 5], [6, 6]], np.float32), ids=[7, 8])
    col.build(vectree.IndexConfig(bucket_size=2))
    res = col.search(np.array([[0, 0]], np.float32), k=4, probes=1)  # one bucket of 2 rows probed
    assert res.ids[0, :2].tolist() == [0, 1] and res.ids[0, 2:].tolist() == [-1, -1]
    assert np.isinf(res.distances[0, 2:]).all()


def test_metadata_is_returned_on_request(tmp_path, arxiv_sample):
    col = vectree.create_collection(tmp_path / "meta", dim=384, metric="cosine", bucket_size=500)
    col.add(
        arxiv_sample["vectors"][:1000],
        ids=arxiv_sample["ids"][:1000],
        metadata=[{"title": t} for t in arxiv_sample["titles"][:1000]],
    )
    col.build()
    res = col.search(arxiv_sample["vectors"][:3], k=1, include_metadata=True)
    assert [m[0]["title"] for m in res.metadata] == arxiv_sample["titles"][:3]
    assert res.ids[:, 0].tolist() == arxiv_sample["ids"][:3]


def test_single_queries_equal_the_batch_scan_of_the_same_buckets(fmnist_col, fashion_mnist):
    q = fashion_mnist["queries"][:60]
    batch = fmnist_col.search(q, k=10, probes=3)  # a large batch: full-width matrix products
    singles = [fmnist_col.search(v, k=10, probes=3) for v in q]  # one at a time: the compiled scan
    np.testing.assert_array_equal(np.concatenate([s.ids for s in singles]), batch.ids)
    np.testing.assert_allclose(np.concatenate([s.distances for s in singles]), batch.distances, rtol=1e-4)
    assert sum(s.stats["rows_scanned"] for s in singles) == batch.stats["rows_scanned"]


def test_cosine_single_queries_equal_exact(tmp_path, arxiv_sample):
    x = arxiv_sample["vectors"]
    col = vectree.create_collection(tmp_path / "cos", dim=384, metric="cosine", bucket_size=400)
    col.add(x[:3500])
    col.build()
    q = x[3500:3540]
    exact = col.search(q, k=10, exact=True)
    singles = np.concatenate([col.search(v, k=10, exact=True).ids for v in q])
    assert recall_at_k(singles, exact.ids) == 1.0
