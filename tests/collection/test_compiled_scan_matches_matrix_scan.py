"""The compiled per-query scan and the per-bucket matrix products return the same neighbours."""

import numpy as np
import pytest

import vectree


@pytest.mark.parametrize("metric", ["l2", "cosine", "dot"])
def test_both_scans_agree_for_every_metric(tmp_path, fashion_mnist, metric):
    x = fashion_mnist["train"][:6000]
    col = vectree.create_collection(tmp_path / metric, dim=784, metric=metric, bucket_size=200)
    col.add(x)
    col.build()
    q = fashion_mnist["queries"][:200]
    compiled = col.search(q, k=10, probes=4, method="compiled")
    blas = col.search(q, k=10, probes=4, method="matrix")
    assert (compiled.stats["method"], blas.stats["method"]) == ("compiled", "matrix")
    assert compiled.stats["buckets_scanned"] == blas.stats["buckets_scanned"]
    assert compiled.stats["rows_scanned"] == blas.stats["rows_scanned"]
    # float32 sums in a different order can swap two rows at equal distance, nothing more
    assert (compiled.ids == blas.ids).mean() > 0.999
    np.testing.assert_allclose(compiled.distances, blas.distances, rtol=1e-4, atol=1e-3)


def test_deleted_rows_are_never_returned_by_any_scan(fashion_mnist, tmp_path):
    col = vectree.create_collection(tmp_path / "d", dim=784, metric="l2", bucket_size=200)
    col.add(fashion_mnist["train"][:5000])
    col.build()
    q = fashion_mnist["train"][:20]  # each query's own row is its nearest neighbour ...
    col.delete(np.arange(20))  # ... until it is deleted
    for method in ("compiled", "matrix"):
        res = col.search(q, k=5, probes=6, method=method)
        assert not np.isin(res.ids, np.arange(20)).any()
    for v in q:  # one query at a time, also a few buckets at a time
        assert not np.isin(col.search(v, k=5, probes=6, method="streamed").ids, np.arange(20)).any()


def test_the_default_bucket_holds_about_160_kib_and_at_least_80_rows():
    from vectree.index.build import default_bucket_size

    assert [default_bucket_size(d) for d in (784, 384, 50, 1, 100_000)] == [80, 106, 819, 4096, 80]


def test_small_dimensions_are_split_in_full():
    from vectree.index.build import default_n_components

    assert [default_n_components(d) for d in (2, 50, 64, 65, 784)] == [2, 50, 64, 32, 32]


def test_a_query_larger_than_the_cache_is_scanned_in_groups_with_the_same_answer(tmp_path, fashion_mnist):
    col = vectree.create_collection(tmp_path / "s", dim=784, metric="l2", bucket_size=100)
    x = fashion_mnist["train"][:8000]
    col.add(x, labels=np.arange(len(x)) % 10)
    col.build()
    q = fashion_mnist["queries"][:30]
    roomy = vectree.open_collection(tmp_path / "s")
    tight = vectree.open_collection(tmp_path / "s", cache_bytes=200_000)  # less than one query's 24 buckets
    for v in q:
        a, b = roomy.search(v, k=10, probes=24), tight.search(v, k=10, probes=24)
        np.testing.assert_array_equal(a.ids, b.ids)
        np.testing.assert_array_equal(a.labels, b.labels)
        np.testing.assert_allclose(a.distances, b.distances, rtol=1e-5)
        assert a.stats["rows_scanned"] == b.stats["rows_scanned"]
    col.add(fashion_mnist["queries"][50:150], labels=np.zeros(100, int))  # an unindexed tail joins the answer
    tight.refresh()
    roomy.refresh()
    np.testing.assert_array_equal(roomy.search(q[0], k=10, probes=24).ids, tight.search(q[0], k=10, probes=24).ids)


def test_a_batch_split_over_threads_equals_one_thread(tmp_path, fashion_mnist, monkeypatch):
    col = vectree.create_collection(tmp_path / "t", dim=784, metric="l2", bucket_size=100)
    col.add(fashion_mnist["train"], labels=fashion_mnist["labels"])
    col.build()
    q = np.concatenate([fashion_mnist["queries"], fashion_mnist["train"][:400]])  # 600 queries
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    one = col.search(q, k=10, probes=40, method="matrix")
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    two = col.search(q, k=10, probes=40, method="matrix")  # two halves, each with its own matrix products
    np.testing.assert_array_equal(two.ids, one.ids)
    np.testing.assert_array_equal(two.labels, one.labels)
    np.testing.assert_allclose(two.distances, one.distances, rtol=1e-5)
    assert two.stats["rows_scanned"] == one.stats["rows_scanned"]
    assert one.stats.get("threads", 1) == 1 and two.stats["threads"] == 2  # the batch really was split in two
    assert (two.ids[200:, 0] == np.arange(400)).mean() > 0.99  # stored rows find themselves


def test_a_split_batch_whose_halves_are_small_finishes(tmp_path, fashion_mnist, monkeypatch):
    import threading

    col = vectree.create_collection(tmp_path / "h", dim=784, metric="l2", bucket_size=100)
    col.add(fashion_mnist["train"])
    col.build()
    n_buckets = col.stats()["buckets"]
    q = np.concatenate([fashion_mnist["queries"], fashion_mnist["train"][:400]])
    probes = max(1, (4 * n_buckets) // len(q) + 1)  # the whole batch takes products; a half alone would not
    assert len(q) * probes >= 4 * n_buckets > (len(q) // 2) * probes
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    out = []
    worker = threading.Thread(
        target=lambda: out.append(col.search(q, k=5, probes=probes, method="matrix")), daemon=True
    )
    worker.start()
    worker.join(timeout=60)
    assert out, "the split batch did not finish (threads waiting on each other)"
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    np.testing.assert_array_equal(out[0].ids, col.search(q, k=5, probes=probes, method="matrix").ids)


def test_a_batch_on_two_threads_takes_the_compiled_scan_when_its_buckets_fit(tmp_path, fashion_mnist, monkeypatch):
    # the matrix path holds the GIL between per-bucket products, so two slices of it ran slower than one;
    # the compiled kernel releases the GIL for a whole slice
    col = vectree.create_collection(tmp_path / "c", dim=784, metric="l2", bucket_size=100)
    col.add(fashion_mnist["train"])
    col.build()
    q = np.concatenate([fashion_mnist["queries"], fashion_mnist["train"][:400]])
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    one = col.search(q, k=10, probes=40)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    two = col.search(q, k=10, probes=40)
    assert (one.stats["method"], two.stats["method"]) == ("matrix", "compiled")
    assert two.stats["rows_scanned"] == one.stats["rows_scanned"]
    assert (two.ids == one.ids).mean() > 0.999  # (float32 sums in another order may swap equal distances)
    # |x|^2 - 2<q,x> + |q|^2 in float32 loses ~|q|^2 * 1e-7 to cancellation (pixel norms reach 1e7: a row's
    # distance to itself came out 0 from one path and 4.0 from the other's BLAS)
    scale = np.einsum("ij,ij->i", q, q)[:, None]
    bound = 1e-4 * np.abs(one.distances) + 1e-6 * scale + 1e-3
    np.testing.assert_array_less(np.abs(two.distances - one.distances), bound)
    assert (two.ids[200:, 0] == np.arange(400)).mean() > 0.99
