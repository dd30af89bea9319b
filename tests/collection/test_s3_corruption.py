"""A truncated or altered bucket object in S3 is caught by its fingerprint: verify lists it, a search
that touches it raises CorruptionError, and no search silently returns wrong neighbours."""

from __future__ import annotations

import numpy as np
import pytest

import vectree
from vectree.errors import CorruptionError


def test_damaged_buckets_are_reported_and_never_searched(s3_server):
    url, opts = s3_server.new_url(), s3_server.storage_options()
    x = np.random.default_rng(0).normal(size=(1500, 8)).astype(np.float32)
    col = vectree.create_collection(url, dim=8, bucket_size=100, storage_options=opts)
    col.add(x, ids=np.arange(1500))
    col.build()
    assert col.verify().ok

    store = col.store
    buckets = store.list("buckets/")
    assert len(buckets) > 4
    truncated, altered = buckets[1], buckets[3]
    data = store.get(truncated)
    store.put(truncated, data[: len(data) // 2])
    data = bytearray(store.get(altered))
    data[len(data) // 2] ^= 0x01  # one flipped bit
    store.put(altered, bytes(data))

    fresh = vectree.open_collection(url, storage_options=opts)  # nothing cached
    report = fresh.verify()
    assert not report.ok
    bad = "\n".join(report.problems)
    assert len(report.problems) == 2 and truncated in bad and altered in bad

    with pytest.raises(CorruptionError):
        fresh.search(x[:3], k=5, exact=True)  # touches every bucket

    # a search that happens to avoid the damaged buckets still answers, and answers right
    healthy = vectree.open_collection(url, storage_options=opts)
    ok_rows = []
    for i in range(0, 1500, 50):
        try:
            got = healthy.search(x[i], k=1, probes=1).ids[0, 0]
        except CorruptionError:
            continue
        ok_rows.append(i)
        assert got == i  # each stored vector is its own nearest neighbour
    assert 0 < len(ok_rows) < 30
