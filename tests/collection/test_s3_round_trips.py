"""A search on S3 fetches the small index once and then its buckets in parallel: once the index is
cached, one query batch costs at most two sequential round trips (counted on the store)."""

from __future__ import annotations

import numpy as np

import vectree


def test_round_trips_per_query_batch(s3_server):
    url, opts = s3_server.new_url(), s3_server.storage_options()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 16)).astype(np.float32)
    col = vectree.create_collection(url, dim=16, bucket_size=100, storage_options=opts)
    col.add(x, ids=np.arange(4000))
    col.build()

    reader = vectree.open_collection(url, storage_options=opts)
    store = reader.store
    store.reset_stats()
    reader.search(x[:1], k=10, probes=4)  # cold: index, then buckets
    cold = store.stats()
    assert cold["round_trips"] <= 3
    assert cold["requests"] > cold["round_trips"]  # buckets came in parallel

    fetched = 0
    for batch in (x[1:2], x[100:164], x[2000:2100]):  # index cached, buckets mostly new
        store.reset_stats()
        reader.search(batch, k=10, probes=8)
        assert store.round_trips <= 2
        fetched += store.requests
    assert fetched > 0

    store.reset_stats()
    reader.search(x[2000:2100], k=10, probes=8)  # everything cached: no requests at all
    assert store.requests == 0 and store.round_trips == 0

    stats = reader.stats()
    assert stats["store"]["requests"] == 0 and stats["cache"]["hits"] > 0 and stats["cache"]["bytes_fetched"] > 0
