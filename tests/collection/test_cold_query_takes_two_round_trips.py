"""A stateless reader (a fresh open_collection, nothing cached) answers its first query in two sequential
round trips on a real S3 server: the _latest pointer (the manifest) and _latest.index together, then the probed
buckets in parallel, each read as the span of its id and vector columns only (the metadata column
never crosses the wire), with the answers of a reader that reads the files whole."""

from __future__ import annotations

import numpy as np
import pytest

import vectree
from vectree.format.object_keys import LATEST, LATEST_INDEX, bucket_key


@pytest.fixture(scope="module")
def built(s3_server):
    url, opts = s3_server.new_url(), s3_server.storage_options()
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3000, 16)).astype(np.float32)
    meta = [{"title": f"row {i} " + "x" * 200} for i in range(3000)]  # more bytes than the vectors
    col = vectree.create_collection(url, dim=16, bucket_size=100, storage_options=opts)
    col.add(x, ids=np.arange(3000), metadata=meta)
    col.build()
    return url, opts, x, meta


def test_first_query_is_two_round_trips_of_id_and_vector_spans(built):
    url, opts, x, _ = built
    reader = vectree.open_collection(url, storage_options=opts)
    found = reader.search(x[7], k=10, probes=4)
    stats = reader.store.stats()
    assert stats["round_trips"] == 2
    # the pointer and the index; the two checks of the pointer; one ranged GET per probed bucket
    assert stats["requests"] == 2 + 2 + 4

    index = reader.index
    probed = index.probe(x[7][None, :], 4)[0]
    spans = [index.bucket_spans[b] for b in probed]
    assert all(s is not None for s in spans)
    probe_store = vectree.open_collection(url, storage_options=opts).store
    pointer = len(probe_store.get(LATEST))
    assert pointer < 2 * len(reader.manifest.to_bytes())  # the index is not inlined in it
    index_bytes = len(probe_store.get(LATEST_INDEX))
    assert index_bytes == len(reader.index.raw)
    manifest = len(reader.manifest.to_bytes())
    whole = sum(len(probe_store.get(bucket_key(index.bucket_fingerprints[b]))) for b in probed)
    assert stats["bytes_read"] == pointer + index_bytes + manifest + sum(s.nbytes for s in spans)
    assert sum(s.nbytes for s in spans) < whole / 3  # the metadata stayed on the server

    whole_reader = vectree.open_collection(url, storage_options=opts)
    expected = whole_reader.search(x[7], k=10, probes=4, include_metadata=True)
    np.testing.assert_array_equal(found.ids, expected.ids)
    np.testing.assert_allclose(found.distances, expected.distances, rtol=1e-6)


def test_metadata_and_rows_after_a_vectors_only_read_are_whole(built):
    url, opts, x, meta = built
    reader = vectree.open_collection(url, storage_options=opts)
    first = reader.search(x[11], k=5, probes=4)
    with_meta = reader.search(x[11], k=5, probes=4, include_metadata=True)  # the same buckets, now whole
    np.testing.assert_array_equal(first.ids, with_meta.ids)
    assert [m["title"] for m in with_meta.metadata[0]] == [meta[i]["title"] for i in with_meta.ids[0]]
    rows = reader.get(first.ids[0])
    np.testing.assert_array_equal(rows.vectors, x[first.ids[0]])
    assert rows.metadata is not None and all(m is not None for m in rows.metadata)


def test_a_warm_reader_makes_no_requests(built):
    url, opts, x, _ = built
    reader = vectree.open_collection(url, storage_options=opts)
    reader.search(x[:3], k=5, probes=4)
    reader.store.reset_stats()
    reader.search(x[:3], k=5, probes=4)
    assert reader.store.stats()["requests"] == 0


def test_the_tail_and_the_tombstones_come_with_the_buckets(s3_server):
    url, opts = s3_server.new_url(), s3_server.storage_options()
    x = np.random.default_rng(4).normal(size=(1000, 8)).astype(np.float32)
    col = vectree.create_collection(url, dim=8, bucket_size=100, storage_options=opts)
    col.add(x, ids=np.arange(1000))
    col.build()
    col.add(x[:1] + 0.001, ids=[5000])  # a tail segment
    col.delete([0])  # a tombstone
    reader = vectree.open_collection(url, storage_options=opts)
    assert reader.search(x[0], k=1, probes=3).ids.tolist() == [[5000]]
    assert reader.store.round_trips == 2


def test_an_index_larger_than_the_read_cache_is_not_read_again(built):
    url, opts, x, _ = built
    probe = vectree.open_collection(url, storage_options=opts)
    index_bytes = len(probe.store.get(LATEST_INDEX))
    # a read cache smaller than the index: the index read with the pointer is held by the reader itself
    reader = vectree.open_collection(url, storage_options=opts, cache_bytes=index_bytes // 2)
    found = reader.search(x[7], k=10, probes=4)
    first = reader.store.stats()
    assert first["round_trips"] == 2
    assert first["bytes_read"] < index_bytes * 2  # the index crossed the wire once
    reader.store.reset_stats()
    again = reader.search(x[7], k=10, probes=4)
    assert reader.store.stats()["bytes_read"] < index_bytes  # buckets again (the cache is small), not the index
    np.testing.assert_array_equal(found.ids, again.ids)
    np.testing.assert_array_equal(found.ids, probe.search(x[7], k=10, probes=4).ids)


def test_a_commit_that_keeps_the_index_does_not_read_it_again(built):
    url, opts, x, _ = built
    probe = vectree.open_collection(url, storage_options=opts)
    index_bytes = len(probe.store.get(LATEST_INDEX))

    def commit_and_search(cache_bytes: int) -> int:
        """Bytes read by one add (the tail grows, the index stays) and a search of the new version."""
        writer = vectree.open_collection(url, storage_options=opts, cache_bytes=cache_bytes)
        writer.search(x[7], k=10, probes=4)
        writer.store.reset_stats()
        writer.add(x[:1] + 100.0, ids=np.array([10_000]))
        found = writer.search(x[0] + 100.0, k=1, probes=4)
        assert found.ids[0, 0] == 10_000
        read = writer.store.stats()["bytes_read"]
        writer.delete(np.array([10_000]))
        return read

    # what the commit reads besides the index (manifest, tail) with a cache that holds everything ...
    baseline = commit_and_search(64 << 20)
    # ... is all a cache smaller than the index reads too: the new version shares the index read with the pointer
    assert commit_and_search(index_bytes // 2) < baseline + index_bytes // 2, (baseline, index_bytes)
