"""The _latest pointer (the manifest, its index beside it in _latest.index) is only a shortcut: a pointer
that lags behind a commit (its writer died between the manifest and the pointer), a torn or damaged one,
or one written before it carried anything, still opens the newest committed version, whole; refresh()
and writers find the newest version through it with the same checks (real SeaweedFS)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import vectree
from vectree.collection.manifest import newest_manifest
from vectree.format.object_keys import LATEST, LATEST_INDEX, manifest_key


@pytest.fixture()
def col(s3_server):
    url, opts = s3_server.new_url(), s3_server.storage_options()
    x = np.random.default_rng(5).normal(size=(1500, 8)).astype(np.float32)
    c = vectree.create_collection(url, dim=8, bucket_size=100, storage_options=opts)
    c.add(x, ids=np.arange(1500))
    c.build()
    return c, url, opts, x


def _added(c, id_: int = 10_000, far: float = 50.0) -> np.ndarray:
    new = np.full((1, 8), far + id_ - 10_000, np.float32)
    c.add(new, ids=[id_])
    return new


def test_a_pointer_lagging_behind_a_commit_still_opens_the_commit(col):
    c, url, opts, _ = col
    before = c.store.get(LATEST)
    new = _added(c)
    c.store.put(LATEST, before)  # as if the writer died after its manifest, before its pointer
    reader = vectree.open_collection(url, storage_options=opts)
    assert reader.search(new, k=1).ids.tolist() == [[10_000]]  # answered from the newest version
    assert reader.version == c.version


def test_a_torn_pointer_is_not_used(col):
    c, url, opts, _ = col
    new = _added(c)
    whole = c.store.get(LATEST)
    c.store.put(LATEST, whole[: len(whole) // 2])
    reader = vectree.open_collection(url, storage_options=opts)
    assert reader.version == c.version and reader.search(new, k=1).ids.tolist() == [[10_000]]


def test_a_damaged_index_beside_the_pointer_is_read_from_its_own_object(col):
    c, url, opts, x = col
    data = bytearray(c.store.get(LATEST_INDEX))
    data[-100] ^= 0xFF
    c.store.put(LATEST_INDEX, bytes(data))
    reader = vectree.open_collection(url, storage_options=opts)
    expected = vectree.open_collection(url, storage_options=opts).search(x[:5], k=3, exact=True)
    np.testing.assert_array_equal(reader.search(x[:5], k=3, probes=100).ids, expected.ids)
    assert reader.store.round_trips == 3  # the index came from index/<fp>, after the pointer


def test_refresh_finds_a_new_version_in_two_round_trips_and_no_change_in_one(col):
    c, url, opts, _ = col
    reader = vectree.open_collection(url, storage_options=opts)
    reader.search(np.zeros(8, np.float32), k=1)
    reader.store.reset_stats()
    assert reader.refresh().version == c.version
    assert reader.store.stats()["round_trips"] == 1 and reader.store.stats()["requests"] == 2
    prepared = vectree.open_collection(url, storage_options=opts)
    prepared.search(np.zeros(8, np.float32), k=1)
    new = _added(c)
    reader.store.reset_stats()
    assert reader.refresh(prepare=False).version == c.version
    assert reader.store.stats()["round_trips"] == 2  # the pointer and the new manifest
    assert prepared.refresh().version == c.version  # prepared: it also reads what a search of it needs
    reader.store.reset_stats()
    prepared.store.reset_stats()
    assert reader.search(new, k=1).ids.tolist() == prepared.search(new, k=1).ids.tolist() == [[10_000]]
    assert prepared.store.stats()["requests"] < reader.store.stats()["requests"]  # the new segment: read already


def test_refresh_and_writers_past_a_lagging_or_damaged_pointer_find_the_newest_version(col):
    c, url, opts, _ = col
    reader = vectree.open_collection(url, storage_options=opts)
    before = c.store.get(LATEST)
    new = _added(c)
    c.store.put(LATEST, before)  # lagging: names the version before the add
    assert reader.refresh().version == c.version
    assert reader.search(new, k=1).ids.tolist() == [[10_000]]
    c.store.put(LATEST, b"vectree-pointer 2\n{broken")  # damaged
    assert newest_manifest(c.store).version == c.version
    stale = vectree.open_collection(url, version=c.version - 1, storage_options=opts).manifest
    assert newest_manifest(c.store, stale).version == c.version
    other = vectree.open_collection(url, storage_options=opts)
    v = other.add(new + 1, ids=[10_001])  # a writer past the damaged pointer commits the next version
    assert v == c.version + 1 and c.store.exists(manifest_key(v))
    assert vectree.open_collection(url, storage_options=opts).version == v  # and the pointer is whole again


def test_a_pointer_of_the_old_format_opens_the_newest_version(col):
    c, url, opts, _ = col
    new = _added(c)
    c.store.put(LATEST, str(c.version - 1).encode())  # a number only, and one behind
    reader = vectree.open_collection(url, storage_options=opts)
    assert reader.version == c.version and reader.search(new, k=1).ids.tolist() == [[10_000]]
    reader.add(new + 1, ids=[10_001])  # the next commit writes the new format again
    fresh = vectree.open_collection(url, storage_options=opts)
    fresh.search(new, k=1)
    assert fresh.store.round_trips == 2 and fresh.version == reader.version


def test_readers_opening_while_a_writer_commits_see_whole_versions(col):
    c, url, opts, _ = col
    errors: list[BaseException] = []
    seen: list[int] = []

    def read() -> None:
        try:
            for _ in range(8):
                reader = vectree.open_collection(url, storage_options=opts)
                v = reader.version
                rows = len(reader)
                # every version this writer commits holds its base rows plus one row per add before it
                assert rows == 1500 + (v - start), (v, rows)
                hits = reader.search(np.full((1, 8), 50.0 + v, np.float32), k=1, probes=100)
                assert len(hits.ids[0]) == 1
                seen.append(v)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    start = c.version
    threads = [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    for i in range(6):
        c.add(np.full((1, 8), 60.0 + i, np.float32), ids=[20_000 + i])
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert all(start <= v <= start + 6 for v in seen)


def test_threads_sharing_a_reader_whose_pointer_lagged_all_answer_from_the_newest_version(col):
    c, url, opts, _ = col
    before = c.store.get(LATEST)
    new = _added(c)
    c.store.put(LATEST, before)
    reader = vectree.open_collection(url, storage_options=opts)
    answers: list[list[list[int]]] = []
    errors: list[BaseException] = []

    def search() -> None:
        try:
            answers.append(reader.search(new, k=1, probes=2).ids.tolist())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=search) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert answers == [[[10_000]]] * 8 and reader.version == c.version
