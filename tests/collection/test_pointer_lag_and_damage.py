"""The _latest pointer (manifest and index inlined) is only a shortcut: a pointer that lags behind a
commit (its writer died between the manifest and the pointer), a torn or damaged one, or one written
before it carried anything, still opens the newest committed version, whole (real SeaweedFS)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import vectree
from vectree.format.object_keys import LATEST


@pytest.fixture()
def col(s3_server):
    url, opts = s3_server.new_url(), s3_server.storage_options()
    x = np.random.default_rng(5).normal(size=(1500, 8)).astype(np.float32)
    c = vectree.create_collection(url, dim=8, bucket_size=100, storage_options=opts)
    c.add(x, ids=np.arange(1500))
    c.build()
    return c, url, opts, x


def _added(c, far: float = 50.0) -> np.ndarray:
    new = np.full((1, 8), far, np.float32)
    c.add(new, ids=[10_000])
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


def test_a_damaged_inlined_index_is_read_from_its_own_object(col):
    c, url, opts, x = col
    data = bytearray(c.store.get(LATEST))
    data[-100] ^= 0xFF  # inside the inlined index
    c.store.put(LATEST, bytes(data))
    reader = vectree.open_collection(url, storage_options=opts)
    expected = vectree.open_collection(url, storage_options=opts).search(x[:5], k=3, exact=True)
    np.testing.assert_array_equal(reader.search(x[:5], k=3, probes=100).ids, expected.ids)


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
