"""A reader's refresh to a version a compaction wrote reads the buckets it rewrote, of those the reader held,
so the queries after the move find them cached (no query pays a cold read for a compaction), within half
the cache; the answers are those of a fresh reader."""

from __future__ import annotations

import numpy as np

import vectree

N, DIM = 4000, 16


def _build(root: str) -> np.ndarray:
    rng = np.random.default_rng(11)
    x = (rng.normal(size=(40, DIM))[rng.integers(0, 40, N)] * 3 + rng.normal(size=(N, DIM))).astype(np.float32)
    col = vectree.create_collection(root, dim=DIM, bucket_size=100)
    col.add(x, ids=np.arange(N))
    col.build()
    return x


def test_after_a_compaction_the_next_queries_read_nothing(tmp_path) -> None:
    root = str(tmp_path / "c")
    x = _build(root)
    reader = vectree.open_collection(root, cache_bytes=64 << 20)
    n_buckets = reader.index.n_buckets
    reader.search(x[:50], k=10, probes=n_buckets)  # every bucket held
    writer = vectree.open_collection(root)
    writer.add(x[:300] + 0.05, ids=np.arange(N, N + 300))
    writer.compact()
    rewritten = set(writer.index.bucket_fingerprints) - set(reader.index.bucket_fingerprints) - {""}
    assert rewritten
    reader.refresh()
    assert reader.manifest.version == writer.manifest.version
    fetched = reader._snap.cache.fetches
    got = reader.search(x[:50] + 0.05, k=10, probes=n_buckets)
    assert reader._snap.cache.fetches == fetched  # every rewritten bucket was read by the refresh
    fresh = vectree.open_collection(root).search(x[:50] + 0.05, k=10, probes=n_buckets)
    np.testing.assert_array_equal(got.ids, fresh.ids)
    np.testing.assert_array_equal(got.distances, fresh.distances)


def test_a_small_cache_reads_at_most_half_of_itself(tmp_path) -> None:
    root = str(tmp_path / "c")
    x = _build(root)
    row = DIM * 4 + 8
    cache_bytes = 8 * 100 * row  # room for about 8 buckets
    reader = vectree.open_collection(root, cache_bytes=cache_bytes)
    reader.search(x[:200], k=10, probes=reader.index.n_buckets)  # the cache ends full of some buckets
    writer = vectree.open_collection(root)
    writer.add(x + 0.05, ids=np.arange(N, 2 * N))  # every bucket gains rows: all rewritten
    writer.compact()
    before = reader._snap.cache.fetches
    reader.refresh()
    read = reader._snap.cache.fetches - before
    # the refresh's own unit query reads one bucket; the warm-up at most half the cache (~4 buckets)
    assert read <= 1 + 5, read
    got = reader.search(x[:20] + 0.05, k=10, probes=6)
    np.testing.assert_array_equal(got.ids, vectree.open_collection(root).search(x[:20] + 0.05, k=10, probes=6).ids)


def test_a_refresh_without_prepare_reads_no_bucket(tmp_path) -> None:
    root = str(tmp_path / "c")
    x = _build(root)
    reader = vectree.open_collection(root, cache_bytes=64 << 20)
    reader.search(x[:50], k=10, probes=reader.index.n_buckets)
    writer = vectree.open_collection(root)
    writer.add(x[:300] + 0.05, ids=np.arange(N, N + 300))
    writer.compact()
    before = reader._snap.cache.fetches
    reader.refresh(prepare=False)
    assert reader._snap.cache.fetches == before
