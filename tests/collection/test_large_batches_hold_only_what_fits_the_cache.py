"""A batch whose probed buckets do not fit the cache runs in groups of queries whose buckets do, with the
same answers as one pass over a cache that holds everything."""

import numpy as np

import vectree


def test_a_batch_larger_than_the_cache_runs_in_groups_with_the_same_answers(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(20_000, 32)).astype(np.float32)
    big = vectree.create_collection(str(tmp_path / "c"), dim=32, bucket_size=100)
    big.add(x, ids=np.arange(len(x)))
    big.build()
    q = rng.normal(size=(60, 32)).astype(np.float32)
    want = big.search(q, k=10, probes=12)
    assert "query_groups" not in want.stats  # it fits: one pass

    small = vectree.open_collection(str(tmp_path / "c"), cache_bytes=400_000)  # ~30 buckets of 12.8 KB
    got = small.search(q, k=10, probes=12)
    assert got.stats["method"] == "streamed"
    assert got.stats["query_groups"] > 1
    assert np.array_equal(got.ids, want.ids)
    np.testing.assert_allclose(got.distances, want.distances, rtol=1e-5)
    # with codes: the groups scan through them and still return the same rows
    coded = vectree.create_collection(str(tmp_path / "q"), dim=32, bucket_size=100, codes="int8", cache_bytes=400_000)
    coded.add(x, ids=np.arange(len(x)))
    coded.build()
    got = coded.search(q, k=10, probes=12)
    assert got.stats["query_groups"] > 1 and got.stats["two_phase"]  # codes first, in groups that fit
    assert np.array_equal(got.ids, want.ids)
