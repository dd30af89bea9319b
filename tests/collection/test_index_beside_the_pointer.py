"""The index rides in the first round trip at any size (real SeaweedFS): writers put it in _latest.index
(only when a commit changes it) and the pointer carries the manifest alone, so a cold reader's first
round trip is two GETs sent together, and an index far larger than the 8 MiB the pointer used to inline
costs no third round trip. A stale _latest.index (a build committed between a reader's two GETs) and a
pointer of the older writers (the index inlined, no _latest.index) still give the same answers."""

from __future__ import annotations

import numpy as np
import pytest

import vectree
from vectree.format.object_keys import LATEST, LATEST_INDEX
from vectree.format.pointer import decode_pointer, encode_pointer

ROWS, DIM = 6000, 4


@pytest.fixture(scope="module")
def many_buckets(s3_server):
    """An index of 1,200 buckets of small vectors: its fingerprints and spans outweigh the manifest 100x."""
    url, opts = s3_server.new_url(), s3_server.storage_options()
    x = np.random.default_rng(11).normal(size=(ROWS, DIM)).astype(np.float32)
    col = vectree.create_collection(url, dim=DIM, bucket_size=5, storage_options=opts)
    col.add(x, ids=np.arange(ROWS))
    col.build()
    return col, url, opts, x


def test_an_index_beside_the_pointer_costs_no_third_round_trip(many_buckets):
    col, url, opts, x = many_buckets
    pointer = decode_pointer(col.store.get(LATEST))
    index = col.store.get(LATEST_INDEX)
    assert pointer.index is None and len(index) > 100 * len(pointer.manifest)
    reader = vectree.open_collection(url, storage_options=opts)
    found = reader.search(x[3], k=5, probes=3)
    assert reader.store.round_trips == 2
    assert reader.store.requests == 2 + 2 + 3  # pointer + index; the pointer's two checks; 3 buckets
    assert found.ids[0][0] == 3


def test_an_add_writes_the_manifest_not_the_index_again(many_buckets):
    col, url, opts, x = many_buckets
    index = col.store.get(LATEST_INDEX)
    col.store.reset_stats()
    col.add(x[:1] + 100.0, ids=[ROWS + 1])
    assert col.store.stats()["bytes_written"] < len(index) / 4  # a segment, its keys, the manifest, the pointer
    assert col.store.get(LATEST_INDEX) == index
    reader = vectree.open_collection(url, storage_options=opts)
    assert reader.search(x[:1] + 100.0, k=1).ids.tolist() == [[ROWS + 1]]
    assert reader.store.round_trips == 2


def test_a_stale_index_beside_the_pointer_costs_one_round_trip_not_a_wrong_answer(many_buckets):
    col, url, opts, x = many_buckets
    current = col.store.get(LATEST_INDEX)
    col.store.put(LATEST_INDEX, current[:-1] + bytes([current[-1] ^ 1]))  # not the manifest's index
    try:
        reader = vectree.open_collection(url, storage_options=opts)
        expected = reader.search(x[:4], k=5, probes=3).ids
        cold = vectree.open_collection(url, storage_options=opts)
        np.testing.assert_array_equal(cold.search(x[:4], k=5, probes=3).ids, expected)
        assert cold.store.round_trips == 3  # index/<fp> after the pointer
    finally:
        col.store.put(LATEST_INDEX, current)


def test_a_pointer_with_the_index_inlined_and_nothing_beside_it_still_opens_in_one_round_trip(s3_server):
    url, opts = s3_server.new_url(), s3_server.storage_options()
    x = np.random.default_rng(12).normal(size=(800, DIM)).astype(np.float32)
    col = vectree.create_collection(url, dim=DIM, bucket_size=50, storage_options=opts)
    col.add(x, ids=np.arange(800))
    col.build()
    store = col.store
    pointer = decode_pointer(store.get(LATEST))
    store.put(LATEST, encode_pointer(pointer.version, pointer.manifest, store.get(LATEST_INDEX)))  # as before
    store.delete(LATEST_INDEX)
    reader = vectree.open_collection(url, storage_options=opts)
    assert reader.search(x[9], k=1, probes=2).ids.tolist() == [[9]]
    assert reader.store.round_trips == 2
