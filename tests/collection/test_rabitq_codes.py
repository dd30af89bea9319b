"""RaBitQ codes (``codes="rabitq"``): the rotation keeps inner products, the estimate is unbiased and
within its error bound for nearly every row, re-ranking every candidate returns ``exact=True``'s
answer (l2, cosine, dot; float16 and float32; batch, lean and one-call paths; in memory and on
disk), and the default short list keeps recall high on the repo's arXiv sample."""

import threading

import numpy as np
import pytest

import vectree
from vectree.collection.plan import TUNING
from vectree.collection.single import _one_call
from vectree.format.codes import RABITQ_FACTORS, padded_dim, rabitq_codes, rotate


def _rows(x, metric):
    if metric != "cosine":  # unnormalised rows, so the metrics differ
        return x * np.linspace(0.5, 2.0, len(x), dtype=np.float32)[:, None]
    return x


def _build(url, x, metric="cosine", dtype="float32", **kw):
    col = vectree.create_collection(
        url, dim=x.shape[1], metric=metric, bucket_size=100, vector_dtype=dtype, codes="rabitq", **kw
    )
    col.add(x[:2000], ids=np.arange(2000) * 3)
    col.build()
    return col


def _recall(a, b):
    return np.mean([len(set(r) & set(s)) / len(s) for r, s in zip(a, b)])


def test_the_estimate_is_unbiased_and_within_its_bound(arxiv_sample):
    x = arxiv_sample["vectors"][:300].astype(np.float64)
    q = arxiv_sample["vectors"][3000:3040].astype(np.float64)
    r = rotate(x)
    np.testing.assert_allclose(r @ rotate(q).T, x @ q.T, atol=1e-9)  # orthogonal
    codes, center = rabitq_codes(x.astype(np.float32))
    d = padded_dim(x.shape[1])
    bits = np.unpackbits(codes[:, : d // 8], axis=1, bitorder="little").astype(np.float64)
    f = codes[:, d // 8 :].copy().view(np.float32).reshape(len(x), RABITQ_FACTORS).astype(np.float64)
    v = rotate(q) - center  # per query, R(q - c)
    y = v @ ((2 * bits - 1) / np.sqrt(d)).T  # (queries, rows)
    est = rotate(q) @ center.astype(np.float64)[:, None] + f[:, 1] + f[:, 0] * y
    err = est - q @ x.T
    width = np.linalg.norm(v, axis=1)[:, None] * f[:, 2]  # one standard deviation of the estimate
    assert abs(err.mean()) < 0.05 * width.mean()  # unbiased
    assert (np.abs(err) <= 1.9 * width + 1e-4).mean() > 0.9  # RaBitQ's bound at eps 1.9
    assert (np.abs(err) <= 4.0 * width + 1e-4).mean() > 0.999


@pytest.mark.parametrize("metric", ["l2", "cosine", "dot"])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_reranking_every_candidate_is_exact(arxiv_sample, metric, dtype):
    x = _rows(arxiv_sample["vectors"], metric)
    col = _build(f"memory://rabitq-{metric}-{dtype}", x, metric, dtype)
    n_buckets = col.stats()["buckets"]
    queries = x[2000:2040]
    exact = col.search(queries, k=10, exact=True, method="compiled")
    auto = col.search(queries, k=10, exact=True)
    assert auto.stats["method"] != "quantized"  # exact=True never relies on a bound that may fail
    np.testing.assert_array_equal(auto.ids, exact.ids)
    got = col.search(queries, k=10, probes=n_buckets, method="quantized", rerank=2000)
    assert got.stats["method"] == "quantized"
    np.testing.assert_array_equal(got.ids, exact.ids)
    np.testing.assert_array_equal(got.distances, exact.distances)
    for i in range(0, 40, 8):  # one at a time: lean path, then the one-call path
        for _ in range(2):
            one = col.search(queries[i], k=10, probes=n_buckets, rerank=2000)
            np.testing.assert_array_equal(one.ids[0], exact.ids[i])
            np.testing.assert_array_equal(one.distances[0], exact.distances[i])
    # the default short list: at most rabitq_rerank x k rows read in full, recall still high
    short = col.search(queries, k=10, probes=n_buckets, method="quantized")
    assert short.stats["rows_reranked"] <= TUNING.rabitq_rerank * 10 * len(queries)
    assert _recall(short.ids, exact.ids) > 0.9


def test_on_disk_the_same_answers(arxiv_sample, tmp_path):
    x = arxiv_sample["vectors"]
    mem = _build("memory://rabitq-mem", x)
    _build(tmp_path / "r", x)
    disk = vectree.open_collection(tmp_path / "r", cache_bytes=300_000)  # through a small cache
    queries = x[2000:2030]
    for probes in (2, 6):
        a = mem.search(queries, k=10, probes=probes, method="quantized")
        b = disk.search(queries, k=10, probes=probes, method="quantized")
        np.testing.assert_array_equal(a.ids, b.ids)
        np.testing.assert_array_equal(a.distances, b.distances)
        for i in (0, 7):
            one = disk.search(queries[i], k=10, probes=probes)
            np.testing.assert_array_equal(one.ids[0], a.ids[i])


def test_threads_with_evictions_give_single_thread_answers(arxiv_sample, tmp_path):
    x = arxiv_sample["vectors"]
    _build(tmp_path / "t", x)
    col = vectree.open_collection(tmp_path / "t", cache_bytes=600_000)  # evictions under three threads
    queries = x[2000:2090]
    want = [col.search(q, k=10, probes=5) for q in queries]
    errors = []

    def run(offset):
        try:
            for r in range(4):
                for i in range(offset, len(queries), 3):
                    got = col.search(queries[i], k=10, probes=5 if r % 2 else 3)
                    if r % 2:
                        np.testing.assert_array_equal(got.ids, want[i].ids)
                        np.testing.assert_array_equal(got.distances, want[i].distances)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(o,)) for o in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert _one_call(col._snap) is not None
