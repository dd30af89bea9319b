"""A warm query takes its buckets' kernel rows from the snapshot's table (``collection/resident.py``),
not from a cache walk; the answer is the same, and only the cache keeps blocks alive."""

import gc

import numpy as np
import pytest

import vectree
import vectree.collection.search as search
from vectree.collection.snapshot import ObjectCache


def test_warm_queries_answer_as_cold_ones_without_walking_the_cache(arxiv_root, arxiv_sample, monkeypatch):
    queries = arxiv_sample["vectors"][3000:3030]
    cold = vectree.open_collection(arxiv_root, cache_bytes=1)  # nothing stays cached: every query walks the cache
    warm = vectree.open_collection(arxiv_root)
    expected = [cold.search(q, k=10, probes=6) for q in queries]
    for q in queries:
        warm.search(q, k=10, probes=6)

    def refuse(self, refs):  # noqa: ANN001, ANN202
        raise AssertionError("a warm query walked the cache")

    monkeypatch.setattr(ObjectCache, "blocks", refuse)
    for q, want in zip(queries, expected):
        got = warm.search(q, k=10, probes=6)
        np.testing.assert_array_equal(got.ids, want.ids)
        np.testing.assert_array_equal(got.distances, want.distances)
        assert got.stats["buckets_scanned"] == want.stats["buckets_scanned"] == 6
        assert got.stats["rows_scanned"] == want.stats["rows_scanned"]


def test_deleted_rows_leave_warm_answers(arxiv_root, arxiv_sample):
    col = vectree.open_collection(arxiv_root)
    q = arxiv_sample["vectors"][3000]
    first = col.search(q, k=10, probes=6)
    col.search(q, k=10, probes=6)  # warm
    col.delete(first.ids[0, :3].tolist())
    again = col.search(q, k=10, probes=6)
    assert not set(first.ids[0, :3]) & set(again.ids[0])
    np.testing.assert_array_equal(again.ids[0, :7], first.ids[0, 3:])


def test_only_the_cache_keeps_blocks_alive(arxiv_root, arxiv_sample):
    col = vectree.open_collection(arxiv_root, cache_bytes=300_000)  # about 2 of the 40 buckets
    lru = col._cache.lru
    for q in arxiv_sample["vectors"][3000:3100]:
        # more than the cache holds, so the fetch itself evicts; few enough buckets not to be streamed
        col.search(q, k=10, probes=search._STREAM_GROUP)
        gc.collect()
        table = col._snap.resident
        alive = [ref() for ref in table._refs if ref is not None and ref() is not None]
        assert alive, "the last query's blocks are described"
        assert all(block.fingerprint in lru for block in alive), "a block the cache let go is still alive"
        del alive  # (the test's own references would keep them alive through the next query)
    assert lru.stats.evictions > 0
    assert lru.size_bytes <= lru.capacity_bytes


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
