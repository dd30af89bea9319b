"""Buckets written as float16 stay float16 in the cache (half the memory) and are scanned as stored,
by the compiled scan and the matrix products alike: the answer is the exact one over the stored values."""

import numpy as np
import pytest

import vectree


def _exact(stored: np.ndarray, queries: np.ndarray, metric: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    x, q = stored.astype(np.float64), queries.astype(np.float64)
    if metric == "l2":
        d = (q * q).sum(1)[:, None] - 2 * q @ x.T + (x * x).sum(1)[None, :]
    else:
        d = 1.0 - q @ x.T
    order = np.argsort(d, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(d, order, axis=1)


@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_float16_buckets_give_the_exact_answer_over_the_stored_values(tmp_path, fashion_mnist, arxiv_sample, metric):
    if metric == "l2":  # pixel values 0..255: exactly representable in float16
        x, q = fashion_mnist["train"][:3000], fashion_mnist["queries"][:40]
        stored = x.astype(np.float16)
    else:
        x, q = arxiv_sample["vectors"][:3000], arxiv_sample["vectors"][3000:3040]
        stored = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float16)
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
    col = vectree.create_collection(
        tmp_path / metric, dim=x.shape[1], metric=metric, bucket_size=150, vector_dtype="float16"
    )
    col.add(x)
    col.build()
    want_ids, want_d = _exact(stored, q, metric, 10)
    for method in ("compiled", "matrix"):
        got = col.search(q, k=10, exact=True, method=method)
        assert (got.ids == want_ids).mean() > 0.995, method
        np.testing.assert_allclose(got.distances, want_d, rtol=1e-4, atol=1e-3 if metric == "l2" else 1e-5)
    assert col.stats()["cache"]["block_dtypes"] == ["float16"], "cached as stored: 2 bytes a value"
    np.testing.assert_array_equal(col.get([5, 17]).vectors, stored[[5, 17]].astype(np.float32))


def test_float16_buckets_read_again_after_eviction_give_the_same_answer(tmp_path, arxiv_sample):
    col = vectree.create_collection(tmp_path / "c", dim=384, metric="cosine", bucket_size=150, vector_dtype="float16")
    col.add(arxiv_sample["vectors"][:3000])
    col.build()
    q = arxiv_sample["vectors"][3000:3020]
    roomy = vectree.open_collection(tmp_path / "c")
    tight = vectree.open_collection(tmp_path / "c", cache_bytes=1)  # every search reads the files again
    first = roomy.search(q, k=10, probes=5, method="compiled")
    for _ in range(2):  # the second pass re-reads at the recorded array offsets
        again = tight.search(q, k=10, probes=5, method="compiled")
        np.testing.assert_array_equal(again.ids, first.ids)
        np.testing.assert_array_equal(again.distances, first.distances)
    assert tight.stats()["cache"]["known_layouts"] > 0, (
        "float16 buckets are views of their files, so their layout is recorded"
    )
