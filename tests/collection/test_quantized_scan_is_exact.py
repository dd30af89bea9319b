"""The quantized scan (int8 codes, then exact distances for the rows the codes cannot rule out)
returns what the full-width scan returns: the same ids and the same distances, for every metric and
stored dtype, batch and single, in memory and on disk, after deletes and compaction; and it reads
far fewer rows in full than it scans."""

import numpy as np
import pytest

import vectree
from vectree.errors import InvalidInputError


def _build(url, x, metric, dtype, codes="int8"):
    col = vectree.create_collection(
        url, dim=x.shape[1], metric=metric, bucket_size=100, vector_dtype=dtype, codes=codes
    )
    col.add(x[:2000], ids=np.arange(2000) * 3)
    col.build()
    return col


@pytest.mark.parametrize("metric", ["l2", "cosine", "dot"])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_every_bucket_probed_returns_the_exact_answer(arxiv_sample, metric, dtype):
    x = arxiv_sample["vectors"]
    if metric == "l2":  # unnormalised rows, so l2 differs from cosine
        x = x * np.linspace(0.5, 2.0, len(x), dtype=np.float32)[:, None]
    col = _build(f"memory://quantized-{metric}-{dtype}", x, metric, dtype)
    queries = x[2000:2060]
    exact = col.search(queries, k=10, exact=True, method="compiled")
    got = col.search(queries, k=10, exact=True, method="quantized")
    assert got.stats["method"] == "quantized"
    np.testing.assert_array_equal(got.ids, exact.ids)
    np.testing.assert_array_equal(got.distances, exact.distances)
    # the codes rule out most rows: few are read in full
    assert got.stats["rows_reranked"] < got.stats["rows_scanned"] / 20, got.stats
    for i in range(0, 60, 12):  # one at a time, as the planner picks it
        one = col.search(queries[i], k=10, probes=col.stats()["buckets"])
        assert one.stats["method"] == "quantized"
        np.testing.assert_array_equal(one.ids[0], exact.ids[i])
        np.testing.assert_array_equal(one.distances[0], exact.distances[i])


@pytest.mark.parametrize("probes", [1, 3, 8])
def test_few_probes_return_the_compiled_scans_answer(arxiv_sample, tmp_path, probes):
    x = arxiv_sample["vectors"]
    col = _build(tmp_path / "q", x, "cosine", "float32")
    col.delete(np.arange(0, 6000, 9))  # a dead mask in every bucket
    col = vectree.open_collection(tmp_path / "q", cache_bytes=200_000)  # on disk, through a small cache
    queries = x[2000:2040]
    want = col.search(queries, k=10, probes=probes, method="compiled")
    got = col.search(queries, k=10, probes=probes, method="quantized")
    np.testing.assert_array_equal(got.ids, want.ids)
    np.testing.assert_array_equal(got.distances, want.distances)
    assert not np.isin(got.ids, np.arange(0, 6000, 9)).any()
    one = col.search(queries[5], k=10, probes=probes)
    assert one.stats["method"] in ("quantized", "streamed")
    np.testing.assert_array_equal(one.ids[0], want.ids[5])


def test_compaction_writes_codes_and_the_answer_stays_exact(arxiv_sample):
    x = arxiv_sample["vectors"]
    col = _build("memory://quantized-compact", x, "cosine", "float16")
    col.add(x[2100:2300], ids=np.arange(100_000, 100_200))
    col.delete(np.arange(0, 600, 3))
    col.compact()
    queries = x[2000:2030]
    want = col.search(queries, k=10, exact=True, method="compiled")
    got = col.search(queries, k=10, exact=True, method="quantized")
    np.testing.assert_array_equal(got.ids, want.ids)
    np.testing.assert_array_equal(got.distances, want.distances)
    assert np.isin(got.ids, np.arange(100_000, 100_200)).any(), "the compacted rows are found"


def test_a_collection_without_codes_refuses_the_quantized_method(arxiv_root, arxiv_sample):
    col = vectree.open_collection(arxiv_root)
    assert col.index_config.codes is None  # (collections made before codes read the same way)
    with pytest.raises(InvalidInputError, match="codes='int8'"):
        col.search(arxiv_sample["vectors"][0], k=5, method="quantized")
    assert col.search(arxiv_sample["vectors"][0], k=5).stats["method"] == "compiled"
    with pytest.raises(InvalidInputError, match="codes must be one of"):
        vectree.create_collection("memory://bad-codes", dim=4, codes="int3")


def test_on_s3_the_quantized_scan_answers_as_the_full_width_scan(s3_server, arxiv_sample):
    url, opts = s3_server.new_url(), s3_server.storage_options()
    x = arxiv_sample["vectors"]
    col = vectree.create_collection(
        url, dim=384, metric="cosine", bucket_size=100, vector_dtype="float16", codes="int8", storage_options=opts
    )
    col.add(x[:1500], ids=np.arange(1500))
    col.build()
    reader = vectree.open_collection(url, storage_options=opts, cache_bytes=150_000)  # fresh, a small cache
    queries = x[2000:2010]
    for q in queries:  # one at a time, cold buckets fetched from the server
        got = reader.search(q, k=10, probes=4)
        want = reader.search(q, k=10, probes=4, method="compiled")
        assert got.stats["method"] in ("quantized", "streamed")
        np.testing.assert_array_equal(got.ids, want.ids)
        np.testing.assert_array_equal(got.distances, want.distances)


def test_filtered_searches_through_codes_answer_as_the_full_width_scan(arxiv_sample):
    x = arxiv_sample["vectors"]
    col = _build("memory://quantized-filtered", x, "cosine", "float32")
    queries = x[2000:2020]
    kw = {"exclude_ids": np.arange(0, 6000, 2)}  # every even id: a filter mask beside the dead mask
    want = col.search(queries, k=10, probes=6, method="compiled", **kw)
    got = col.search(queries, k=10, probes=6, method="quantized", **kw)
    np.testing.assert_array_equal(got.ids, want.ids)
    np.testing.assert_array_equal(got.distances, want.distances)
    one = col.search(queries[3], k=10, probes=6, **kw)
    assert one.stats["method"] == "quantized"
    np.testing.assert_array_equal(one.ids[0], want.ids[3])
    assert not np.isin(got.ids, kw["exclude_ids"]).any()


@pytest.mark.parametrize("dim", [2, 5, 17, 50, 100])
@pytest.mark.parametrize("metric", ["l2", "dot"])
def test_dims_off_the_kernels_stride_return_the_compiled_scans_answer(dim, metric):
    # the code scan reads rows eight at a time in steps of 16 dims: dims that are not a multiple of 16,
    # dims below 16 and buckets whose rows do not split into eights take the same answer as the full scan
    rng = np.random.default_rng(dim)
    centers = rng.normal(0, 3, (12, dim)).astype(np.float32)
    x = (centers[rng.integers(0, 12, 1500)] + rng.normal(0, 1, (1500, dim))).astype(np.float32)
    col = vectree.create_collection(
        f"memory://quantized-dim-{dim}-{metric}", dim=dim, metric=metric, bucket_size=37, codes="int8"
    )
    col.add(x[:1400])
    col.build()
    col.delete(np.arange(0, 1400, 7))  # dead rows inside and outside the groups of eight
    queries = x[1400:]
    for probes in (1, 4, col.stats()["buckets"]):
        want = col.search(queries, k=10, probes=probes, method="compiled")
        got = col.search(queries, k=10, probes=probes, method="quantized")
        assert got.stats["method"] == "quantized"
        np.testing.assert_array_equal(got.ids, want.ids)
        np.testing.assert_array_equal(got.distances, want.distances)
        assert not np.isin(got.ids, np.arange(0, 1400, 7)).any()
        for i in (0, 33, 99):
            one = col.search(queries[i], k=10, probes=probes, method="quantized")
            np.testing.assert_array_equal(one.ids[0], want.ids[i])
            np.testing.assert_array_equal(one.distances[0], want.distances[i])
