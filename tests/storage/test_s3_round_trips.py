"""The S3 store counts HTTP requests, sequential round trips and bytes, so callers can report them."""

from __future__ import annotations


def test_get_many_is_one_round_trip_of_n_requests(s3_server):
    store = s3_server.open_store()
    items = [(f"buckets/{i:03d}.arrow", bytes([i]) * (100 + i)) for i in range(24)]
    store.put_many(items)
    assert store.bytes_written == sum(len(d) for _, d in items)
    store.reset_stats()
    got = store.get_many([k for k, _ in items])
    assert got == [d for _, d in items]
    assert store.stats() == {
        "requests": 24,
        "round_trips": 1,
        "retries": 0,
        "bytes_read": sum(len(d) for _, d in items),
        "bytes_written": 0,
    }


def test_single_operations_count_one_round_trip_each(s3_server):
    store = s3_server.open_store()
    store.put("index.json", b"{}")
    store.get("index.json")
    store.get_range("index.json", 0, 1)
    store.exists("index.json")
    store.list("")
    assert store.requests == 5 and store.round_trips == 5
    assert store.bytes_read == 3
