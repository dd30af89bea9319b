"""The ``rerank`` knob of a search through codes: the default (None: every row the codes' error bound
cannot rule out is read in full) returns ``exact=True``'s answer when every bucket is probed, for every
metric and stored dtype, batch and single (the one-call path included); a cap reads at most that many
rows a query in full, and a cap as large as the collection changes nothing."""

import numpy as np
import pytest

import vectree
from vectree.collection.single import _one_call
from vectree.errors import InvalidInputError


def _build(url, x, metric, dtype, codes="int8"):
    col = vectree.create_collection(
        url, dim=x.shape[1], metric=metric, bucket_size=100, vector_dtype=dtype, codes=codes
    )
    col.add(x[:2000], ids=np.arange(2000) * 3)
    col.build()
    return col


def _rows(x, metric):
    if metric != "cosine":  # unnormalised rows, so the metrics differ
        return x * np.linspace(0.5, 2.0, len(x), dtype=np.float32)[:, None]
    return x


@pytest.mark.parametrize("metric", ["l2", "cosine", "dot"])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_every_bucket_probed_with_reranking_is_exact(arxiv_sample, metric, dtype):
    x = _rows(arxiv_sample["vectors"], metric)
    col = _build(f"memory://rerank-{metric}-{dtype}", x, metric, dtype)
    n_buckets = col.stats()["buckets"]
    queries = x[2000:2040]
    exact = col.search(queries, k=10, exact=True, method="compiled")
    for rerank in (None, 2000):  # the bound's list, and a cap no smaller than the collection
        got = col.search(queries, k=10, probes=n_buckets, method="quantized", rerank=rerank)
        assert got.stats["method"] == "quantized"
        np.testing.assert_array_equal(got.ids, exact.ids)
        np.testing.assert_array_equal(got.distances, exact.distances)
        for i in range(0, 40, 8):  # one at a time, as the planner picks it
            one = col.search(queries[i], k=10, probes=n_buckets, rerank=rerank)
            assert one.stats["method"] == "quantized"
            np.testing.assert_array_equal(one.ids[0], exact.ids[i])
            np.testing.assert_array_equal(one.distances[0], exact.distances[i])


@pytest.mark.parametrize("metric", ["l2", "cosine"])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_a_cap_bounds_the_rows_read_in_full_on_every_path(arxiv_sample, metric, dtype):
    x = _rows(arxiv_sample["vectors"], metric)
    col = _build(f"memory://rerank-cap-{metric}-{dtype}", x, metric, dtype)
    col.search(x[:2], k=1, exact=True)  # every bucket cached: the one-call path can answer
    queries = x[2000:2030]
    full = col.search(queries, k=10, probes=4, method="quantized")
    capped = col.search(queries, k=10, probes=4, method="quantized", rerank=10)
    assert capped.stats["rows_reranked"] <= 10 * len(queries) < full.stats["rows_reranked"], (capped.stats, full.stats)
    every = col.search(queries, k=2000, exact=True, method="compiled")  # each row's exact distance
    for ids, dist, all_ids, all_dist in zip(capped.ids, capped.distances, every.ids, every.distances):
        exact_of = dict(zip(all_ids.tolist(), all_dist.tolist()))
        assert dist.tolist() == [exact_of[i] for i in ids.tolist()]  # what comes back is re-ranked exactly
    hits = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(capped.ids, full.ids)])
    assert hits > 0.8, hits
    one = _one_call(col._snap)
    assert one is not None
    for i, q in enumerate(queries):
        single = col.search(q, k=10, probes=4, rerank=10)  # lean path, then the one-call path once filled
        again = col.search(q, k=10, probes=4, rerank=10)
        assert single.stats["rows_reranked"] <= 10 and again.stats["rows_reranked"] <= 10
        np.testing.assert_array_equal(single.ids[0], capped.ids[i])
        np.testing.assert_array_equal(again.ids[0], capped.ids[i])
        np.testing.assert_array_equal(again.distances[0], capped.distances[i])
        assert col.search(q, k=10, probes=4).stats["rows_reranked"] >= again.stats["rows_reranked"]


def test_exact_ignores_the_cap_and_bad_values_are_refused(arxiv_sample):
    x = arxiv_sample["vectors"]
    col = _build("memory://rerank-bad", x, "cosine", "float32")
    q = x[2000:2010]
    np.testing.assert_array_equal(
        col.search(q, k=10, exact=True, rerank=10).ids, col.search(q, k=10, exact=True, method="compiled").ids
    )
    for bad in (5, 0, -1, 2.5, "10", True):
        with pytest.raises(InvalidInputError, match="rerank"):
            col.search(q, k=10, probes=4, rerank=bad)
    plain = _build("memory://rerank-plain", x, "cosine", "float32", codes=None)  # no codes: nothing to cap
    np.testing.assert_array_equal(plain.search(q, k=10, probes=4, rerank=10).ids, plain.search(q, k=10, probes=4).ids)
