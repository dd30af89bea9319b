"""Local reads are memory-mapped views; a replaced file has a new identity."""

import os

from vectree.storage.local import LocalStore


def test_read_many_maps_files_and_matches_get(tmp_path):
    store = LocalStore(tmp_path)
    store.put("buckets/a", b"x" * 5000)
    store.put("buckets/empty", b"")
    a, empty = store.read_many(["buckets/a", "buckets/empty"])
    assert isinstance(a, memoryview) and a.readonly and bytes(a) == store.get("buckets/a")
    assert bytes(empty) == b""


def test_identity_changes_when_a_file_is_replaced(tmp_path):
    store = LocalStore(tmp_path)
    store.put("k", b"one")
    before = store.identity("k")
    assert store.identity("k") == before
    store.put("k", b"two")  # a new file renamed over the old one
    assert store.identity("k") != before
    assert store.identity("missing") is None
    os.remove(tmp_path / "k")
    assert store.identity("k") is None
