"""On a real S3 server, a fresh reader of a collection with int8 codes and a small read cache answers its
first query in three sequential round trips (the pointer and index, the probed buckets' code spans, then
the short list's vector chunks), reading fewer bytes than a plain collection's two (pointer and index,
then each probed bucket's id and vector span); with every bucket probed the answer is exact=True's."""

from __future__ import annotations

import numpy as np
import pytest

import vectree

N = 2000


@pytest.fixture(scope="module")
def built(s3_server, arxiv_sample):
    x = arxiv_sample["vectors"][: N + 20]
    urls = {}
    for codes in ("int8", None):
        url = s3_server.new_url()
        col = vectree.create_collection(
            url,
            dim=x.shape[1],
            metric="cosine",
            bucket_size=100,
            codes=codes,
            storage_options=s3_server.storage_options(),
        )
        col.add(x[:N], ids=np.arange(N))
        col.build()
        urls[codes] = url
    return urls, s3_server.storage_options(), x


def test_a_cold_query_reads_codes_then_rows_in_three_round_trips(built):
    urls, opts, x = built
    # (read caches far smaller than the ~3 MB collection, large enough that neither streams its probed buckets)
    coded = vectree.open_collection(urls["int8"], storage_options=opts, cache_bytes=600_000)
    got = coded.search(x[N + 3], k=10, probes=4)
    stats = coded.store.stats()
    assert got.stats["two_phase"] and stats["round_trips"] == 3, stats
    plain = vectree.open_collection(urls[None], storage_options=opts, cache_bytes=1_000_000)
    want = plain.search(x[N + 3], k=10, probes=4)
    plain_stats = plain.store.stats()
    assert plain_stats["round_trips"] == 2  # a plain collection keeps issue 18's two
    np.testing.assert_array_equal(got.ids, want.ids)  # int8's bound is exact: the same rows over the same buckets
    index_bytes = len(coded.index.raw)
    assert stats["bytes_read"] - index_bytes < (plain_stats["bytes_read"] - len(plain.index.raw)) / 2, (
        stats,
        plain_stats,
    )
    coded.store.reset_stats()  # index cached: codes, then rows
    coded.search(x[N + 11], k=10, probes=4)
    assert coded.store.round_trips == 2


def test_every_bucket_probed_through_codes_then_rows_is_exact(built):
    urls, opts, x = built
    exact = vectree.open_collection(urls["int8"], storage_options=opts).search(
        x[N:], k=10, exact=True, method="compiled"
    )
    reader = vectree.open_collection(urls["int8"], storage_options=opts, cache_bytes=600_000)
    got = reader.search(x[N:], k=10, probes=reader.stats()["buckets"])
    assert got.stats["two_phase"]
    np.testing.assert_array_equal(got.ids, exact.ids)
    np.testing.assert_array_equal(got.distances, exact.distances)
