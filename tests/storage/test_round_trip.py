"""Every backend stores and returns bytes exactly, whole or by range, one at a time or in batches."""

from __future__ import annotations

import pytest

from vectree.errors import NotFoundError, StorageError


def test_put_then_get_returns_the_same_bytes(store):
    data = bytes(range(256)) * 40
    store.put("buckets/ab12.arrow", data)
    assert store.get("buckets/ab12.arrow") == data
    assert store.exists("buckets/ab12.arrow")


def test_put_overwrites(store):
    store.put("index.json", b"old")
    store.put("index.json", b"new")
    assert store.get("index.json") == b"new"


def test_empty_object_round_trips(store):
    store.put("empty", b"")
    assert store.get("empty") == b""


def test_get_range_returns_the_slice(store):
    data = bytes(range(200))
    store.put("r", data)
    assert store.get_range("r", 10, 20) == data[10:20]
    assert store.get_range("r", 0, 1) == data[:1]
    assert store.get_range("r", 190, 400) == data[190:]  # past the end: truncated like a file read
    assert store.get_range("r", 5, 5) == b""


def test_missing_key_raises_not_found(store):
    with pytest.raises(NotFoundError, match="nope"):
        store.get("nope/x")
    with pytest.raises(NotFoundError):
        store.get_range("nope/x", 0, 10)
    assert not store.exists("nope/x")


def test_delete_removes_and_tolerates_missing(store):
    store.put("d", b"1")
    store.delete("d")
    assert not store.exists("d")
    store.delete("d")  # no error


def test_get_many_keeps_order_and_put_many_stores_all(store):
    items = [(f"buckets/{i:04d}", bytes([i]) * (i + 1)) for i in range(30)]
    store.put_many(items)
    keys = [k for k, _ in reversed(items)]
    assert store.get_many(keys) == [d for _, d in reversed(items)]
    assert store.get_many([]) == []


def test_get_many_raises_not_found_for_a_missing_key(store):
    store.put("a", b"1")
    with pytest.raises(NotFoundError):
        store.get_many(["a", "missing"])


@pytest.mark.parametrize("key", ["/abs", "a/../b", ""])
def test_bad_keys_are_rejected(store, key):
    with pytest.raises(StorageError, match="invalid object key"):
        store.put(key, b"x")
