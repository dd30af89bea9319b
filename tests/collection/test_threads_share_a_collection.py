"""Threads share one collection: warm answers equal cold ones, a bucket is fetched once however many
threads miss it at once, and only the cache keeps decoded blocks alive."""

import gc
import threading

import numpy as np
import pytest

import vectree
from vectree.collection.cache import Block


def test_warm_queries_answer_as_cold_ones_and_fetch_nothing(arxiv_root, arxiv_sample):
    queries = arxiv_sample["vectors"][3000:3030]
    cold = vectree.open_collection(arxiv_root, cache_bytes=1)  # nothing stays cached: every query fetches
    warm = vectree.open_collection(arxiv_root)
    expected = [cold.search(q, k=10, probes=6) for q in queries]
    for q in queries:
        warm.search(q, k=10, probes=6)
    fetched = warm.stats()["cache"]["fetches"]
    for q, want in zip(queries, expected):
        got = warm.search(q, k=10, probes=6)
        np.testing.assert_array_equal(got.ids, want.ids)
        np.testing.assert_array_equal(got.distances, want.distances)
        assert got.stats["buckets_scanned"] == want.stats["buckets_scanned"] == 6
        assert got.stats["rows_scanned"] == want.stats["rows_scanned"]
    assert warm.stats()["cache"]["fetches"] == fetched, "a warm query fetched a bucket again"
    assert cold.stats()["cache"]["fetches"] >= 6 * len(queries)


def test_deleted_rows_leave_warm_answers(arxiv_root, arxiv_sample):
    col = vectree.open_collection(arxiv_root)
    q = arxiv_sample["vectors"][3000]
    first = col.search(q, k=10, probes=6)
    col.search(q, k=10, probes=6)  # warm
    col.delete(first.ids[0, :3].tolist())
    again = col.search(q, k=10, probes=6)
    assert not set(first.ids[0, :3]) & set(again.ids[0])
    np.testing.assert_array_equal(again.ids[0, :7], first.ids[0, 3:])


def _live_blocks() -> int:
    gc.collect()
    return sum(isinstance(o, Block) for o in gc.get_objects())


def test_only_the_cache_keeps_blocks_alive(arxiv_root, arxiv_sample):
    col = vectree.open_collection(arxiv_root, cache_bytes=300_000)  # about 2 of the 40 buckets
    for q in arxiv_sample["vectors"][3000:3060]:
        col.search(q, k=10, probes=3)  # more than the cache holds: the fetch itself evicts
        cache = col.stats()["cache"]
        assert _live_blocks() <= cache["objects"], "a block the cache let go is still alive"
    cache = col.stats()["cache"]
    assert cache["evictions"] > 0 and cache["size_bytes"] <= cache["capacity_bytes"]


def test_concurrent_misses_of_one_bucket_fetch_it_once(arxiv_root, arxiv_sample):
    col = vectree.open_collection(arxiv_root)
    q = arxiv_sample["vectors"][3001]
    start = threading.Barrier(8)
    out = []

    def one() -> None:
        start.wait()
        out.append(col.search(q, k=10, probes=12))

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(out) == 8 and all((r.ids == out[0].ids).all() for r in out)
    buckets = col.stats()["cache"]["fetches"]
    assert buckets == 12, f"12 probed buckets were fetched {buckets} times by 8 threads"
    assert _live_blocks() == 12, "the cache holds one decoded copy of each"


@pytest.mark.parametrize("cache_bytes", [1 << 30, 400_000])  # everything cached; evictions on most queries
def test_threads_sharing_a_collection_get_the_answers_of_one_thread(arxiv_root, arxiv_sample, cache_bytes):
    from concurrent.futures import ThreadPoolExecutor

    queries = arxiv_sample["vectors"][3000:3200]
    alone = vectree.open_collection(arxiv_root)
    want = [alone.search(q, k=10, probes=4) for q in queries]
    shared = vectree.open_collection(arxiv_root, cache_bytes=cache_bytes)
    with ThreadPoolExecutor(4) as pool:  # the kernel releases the GIL: the threads really overlap
        for _ in range(3):
            got = list(pool.map(lambda q: shared.search(q, k=10, probes=4), queries))
            for g, w in zip(got, want):
                np.testing.assert_array_equal(g.ids, w.ids)
                np.testing.assert_array_equal(g.distances, w.distances)
