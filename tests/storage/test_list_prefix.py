"""list(prefix) returns every key that starts with the prefix, sorted, across 'directories'."""

from __future__ import annotations


def test_list_filters_by_string_prefix_and_sorts(store):
    keys = ["manifests/00000002.json", "manifests/00000001.json", "manifests/00000010.json",
            "buckets/ff.arrow", "buckets/0a.arrow", "index.json", "manifestsX"]  # fmt: skip
    for k in keys:
        store.put(k, k.encode())
    assert store.list() == sorted(keys)
    assert store.list("manifests/") == ["manifests/00000001.json", "manifests/00000002.json", "manifests/00000010.json"]
    assert store.list("manifests/0000000") == ["manifests/00000001.json", "manifests/00000002.json"]
    assert store.list("manifests") == ["manifests/00000001.json", "manifests/00000002.json",
                                       "manifests/00000010.json", "manifestsX"]  # fmt: skip
    assert store.list("buckets/") == ["buckets/0a.arrow", "buckets/ff.arrow"]
    assert store.list("nothing/") == []


def test_list_of_an_empty_store_is_empty(store):
    assert store.list() == []
    assert store.list("a/") == []


def test_list_sees_nested_keys(store):
    store.put("a/b/c/d", b"1")
    store.put("a/b/e", b"2")
    assert store.list("a/") == ["a/b/c/d", "a/b/e"]
    assert store.list("a/b/c") == ["a/b/c/d"]
