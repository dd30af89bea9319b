"""The writer of a tail segment records the bucket of each of its rows (:mod:`vectree.collection.routing`):
under the index of the version it wrote on, equal to what the index assigns; a compaction records it for
the rows it leaves in the tail under its new index; a reader grouping a large tail by bucket takes it
instead of routing the rows again, and routes them itself only when the routing is not for its index."""

import dataclasses

import numpy as np

import vectree
from vectree.collection.plan import TUNING
from vectree.collection.routing import tail_buckets
from vectree.format.id_keys import encode_keys
from vectree.format.object_keys import id_keys_key
from vectree.index.index import Index

DIM = 8
N_BUILT = 6_000
N_TAIL = TUNING.routed_tail_rows + 1_000


def _data(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=4, size=(40, DIM))
    return (centers[rng.integers(0, 40, n)] + rng.normal(size=(n, DIM))).astype(np.float32)


def _built_with_a_tail(tmp_path, built: int, tail: int):  # noqa: ANN001, ANN202
    """A collection of ``built`` indexed rows and a ``tail``-row segment added after its build."""
    x = _data(built + tail)
    col = vectree.create_collection(str(tmp_path / "c"), dim=DIM, bucket_size=200)
    col.add(x[:built], ids=np.arange(built))
    col.build()
    col.add(x[built:], ids=np.arange(built, len(x)))
    return col


def _segment_rows(col, seg) -> np.ndarray:  # noqa: ANN001
    return col._snap.cache.blocks([("segments", seg.fingerprint)])[0].rows.vectors


def _counting_assign(monkeypatch) -> list:  # noqa: ANN001
    """Count the rows Index.assign routes (the real method runs)."""
    routed: list[int] = []
    real = Index.assign

    def assign(self, vectors):  # noqa: ANN001, ANN202
        routed.append(len(vectors))
        return real(self, vectors)

    monkeypatch.setattr(Index, "assign", assign)
    return routed


def test_each_segment_records_the_buckets_its_index_assigns_and_a_reader_takes_them(tmp_path, monkeypatch):
    x = _data(N_BUILT + N_TAIL)
    col = vectree.create_collection(str(tmp_path / "c"), dim=DIM, bucket_size=200)
    col.add(x[:N_BUILT], ids=np.arange(N_BUILT))
    col.build()
    for s in range(N_BUILT, N_BUILT + N_TAIL, 5_000):
        e = min(s + 5_000, N_BUILT + N_TAIL)
        col.add(x[s:e], ids=np.arange(s, e))
    index = col._snap.index
    for seg in col.manifest.segments:
        routed_under, buckets = col._snap.segment_key_list(seg).routing
        assert routed_under == col.manifest.index
        assert np.array_equal(buckets, index.assign(_segment_rows(col, seg)))

    routed = _counting_assign(monkeypatch)
    reader = vectree.open_collection(str(tmp_path / "c"))
    q = _data(30, seed=2)
    got = reader.search(q, k=10, probes=3)
    assert got.stats["rows_scanned"] < len(q) * N_TAIL / 2  # the tail was read through its buckets
    assert sum(routed) == 0  # ... grouped by the writers' routings, not routed again
    monkeypatch.undo()
    exact = reader.search(q, k=10, probes=index.n_buckets)
    assert np.array_equal(exact.ids, reader.search(q, k=10, exact=True).ids)


def test_a_compaction_routes_the_rows_it_leaves_in_the_tail_under_its_new_index(tmp_path, monkeypatch):
    built = N_TAIL + 8_000  # (a tail larger than the indexed rows is rebuilt, not compacted)
    x = _data(built + N_TAIL + 3_000)
    col = vectree.create_collection(str(tmp_path / "c"), dim=DIM, bucket_size=200)
    col.add(x[:built], ids=np.arange(built))
    col.build()
    col.add(x[built:], ids=np.arange(built, len(x)))
    before = col.manifest.index
    col.compact(keep_tail_rows=N_TAIL)
    assert col.manifest.operation == "compact" and col.manifest.index != before
    assert 0 < col.stats()["tail_rows"] <= N_TAIL
    index = col._snap.index
    for seg in col.manifest.segments:
        routed_under, buckets = col._snap.segment_key_list(seg).routing
        assert routed_under == col.manifest.index
        assert np.array_equal(buckets, index.assign(_segment_rows(col, seg)))
    assert col.verify(all_versions=True).ok
    reader = vectree.open_collection(str(tmp_path / "c"))
    q = _data(30, seed=3)
    routed = _counting_assign(monkeypatch)
    reader.search(q, k=10, probes=3)
    assert sum(routed) == 0


def test_a_routing_made_under_another_index_is_not_taken(tmp_path, monkeypatch):
    col = _built_with_a_tail(tmp_path, N_BUILT, 2_000)
    seg = col.manifest.segments[0]
    vectors = _segment_rows(col, seg)
    old = col.manifest.index
    # a build replaces the index: the segment's routing (as a writer that had not seen the build would
    # commit it) is for the old one, so a version on the new index routes its rows itself
    col.build()
    assert col._snap.segment_key_list(seg).routing[0] == old != col.manifest.index
    routed = _counting_assign(monkeypatch)
    got = tail_buckets(col._snap, seg, vectors)
    assert routed == [len(vectors)]
    monkeypatch.undo()
    assert np.array_equal(got, col._snap.index.assign(vectors))


def test_a_routing_that_does_not_fit_its_segment_is_reported_and_not_taken(tmp_path, monkeypatch):
    col = _built_with_a_tail(tmp_path, N_BUILT, 2_000)
    assert col.verify().ok
    seg = col.manifest.segments[0]
    listed = col._snap.segment_key_list(seg)
    # a key list (valid as an object: its own fingerprint) whose routing lacks a row, committed in place
    data, fp = encode_keys(listed.keys, write_id=seg.write, routing=(col.manifest.index, listed.routing[1][:-1]))
    col.store.put(id_keys_key(fp, with_write=True), data)
    col._commit("add", lambda b: {"segments": (dataclasses.replace(seg, keys=fp),) + b.segments[1:]})
    problems = col.verify().problems
    assert any("routes 1999 rows" in p and "which holds 2000" in p for p in problems), problems
    routed = _counting_assign(monkeypatch)
    got = tail_buckets(col._snap, col.manifest.segments[0], _segment_rows(col, seg))
    assert routed == [2_000]  # routed again, not taken
    monkeypatch.undo()
    assert np.array_equal(got, col._snap.index.assign(_segment_rows(col, seg)))
