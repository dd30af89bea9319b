"""Round trips on the S3 store are the depth of the requests' dependencies, not a count of calls: a
parallel batch of ranged GETs is one, a request sent in the background overlaps what the caller does
until it waits for it, and a chain of single requests is as deep as it is long (real SeaweedFS)."""

from __future__ import annotations


def test_ranged_reads_in_parallel_are_one_round_trip(s3_server):
    store = s3_server.open_store()
    items = [(f"buckets/{i:02d}.arrow", bytes(range(100)) * 3) for i in range(12)]
    store.put_many(items)
    store.reset_stats()
    got = store.get_ranges([(k, 10 + i, 40 + i) for i, (k, _) in enumerate(items)])
    assert got == [d[10 + i : 40 + i] for i, (_, d) in enumerate(items)]
    assert store.stats()["requests"] == 12 and store.stats()["round_trips"] == 1
    assert store.stats()["bytes_read"] == 12 * 30  # only the ranges crossed the wire


def test_a_background_request_overlaps_the_next_batch(s3_server):
    store = s3_server.open_store()
    store.put_many([(f"k/{i}", b"x" * 10) for i in range(4)])
    store.reset_stats()
    store.get("k/0")  # depth 1
    pending = store.submit(lambda: store.exists("k/9"))  # sent at depth 1, answered at depth 2
    store.get_many(["k/1", "k/2", "k/3"])  # depth 2
    assert pending.result() is False
    assert store.requests == 5 and store.round_trips == 2
    store.get("k/0")  # waited for after everything above: depth 3
    assert store.round_trips == 3


def test_waiting_on_a_background_request_carries_its_depth(s3_server):
    store = s3_server.open_store()
    store.put("a", b"1")
    store.reset_stats()
    pending = store.submit(lambda: [store.get("a"), store.get("a")])  # two in sequence: depth 2
    assert pending.result() == [b"1", b"1"]
    store.get("a")  # after them: depth 3
    assert store.round_trips == 3 and store.requests == 3
