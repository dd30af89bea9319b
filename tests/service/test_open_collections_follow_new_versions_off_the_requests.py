"""A worker's open collections follow new versions in the background (service/registry.py): a request
naming the version its client reads costs no round trip to the store, a version committed through another
worker is served once the refresher (or a request naming it) has caught up, older versions keep answering
from a view on the same cache, and under threads every answer is its own version's (real SeaweedFS)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import vectree
from vectree.service.registry import Registry

DIM, BLOCK = 8, 50


def _rows(v: int) -> np.ndarray:
    """The rows version ``v`` adds: ids ``(v-1)*BLOCK ...``, far apart from other versions' rows."""
    rng = np.random.default_rng(v)
    return (rng.normal(size=(BLOCK, DIM)) + 40.0 * v).astype(np.float32)


@pytest.fixture()
def served(s3_server):
    registry = Registry(s3_server.new_url(), s3_server.storage_options(), cache_bytes=32 << 20)
    record, col = registry.create("papers", "alice", private=False, dim=DIM, bucket_size=25)
    col.add(_rows(1), ids=np.arange(BLOCK))
    other = vectree.open_collection(registry.url(record), storage_options=s3_server.storage_options())
    yield registry, record, other
    registry.close()
    other.close()


def _add_version(other) -> int:
    v = other.refresh(prepare=False).version + 1
    other.add(_rows(v), ids=np.arange((v - 1) * BLOCK, v * BLOCK))
    return other.version


def test_a_request_at_the_version_read_makes_no_round_trip(served):
    registry, record, _ = served
    col = registry.collection(record)
    q = _rows(1)[:3]
    registry.collection(record, col.version).search(q, k=3)  # reads the tail once
    col.store.reset_stats()
    res = registry.collection(record, col.version).search(q, k=3)
    assert res.ids[:, 0].tolist() == [0, 1, 2]
    assert col.store.stats()["requests"] == 0  # no pointer read: the refresher's job, not the request's


def test_the_refresher_moves_to_a_version_another_worker_committed_and_old_versions_keep_answering(served):
    registry, record, other = served
    first = registry.collection(record).version
    registry.collection(record, first).search(_rows(1)[:1], k=1)
    registry.start_refreshing(0.02)
    newer = _add_version(other)
    deadline = time.monotonic() + 20
    while registry.version_read(record) != newer and time.monotonic() < deadline:
        time.sleep(0.02)
    assert registry.version_read(record) == newer  # moved with no request asking for it
    q = _rows(newer)[:1]
    assert registry.collection(record, newer).search(q, k=1).ids.tolist() == [[(newer - 1) * BLOCK]]
    old = registry.collection(record, first)
    assert old.version == first and len(old) == BLOCK
    assert int(old.search(q, k=1).ids.max()) < BLOCK  # the old version has none of the new rows
    with pytest.raises(vectree.errors.InvalidInputError, match="open the latest version to write"):
        old.add(_rows(9)[:1], ids=[99_999])


def test_a_request_naming_a_version_newer_than_the_worker_has_seen_is_caught_up_at_once(served):
    registry, record, other = served
    registry.collection(record)
    newer = _add_version(other)  # no refresher running: only the request can find it
    got = registry.collection(record, newer)
    assert got.version == newer
    assert got.search(_rows(newer)[:1], k=1).ids.tolist() == [[(newer - 1) * BLOCK]]


def test_under_threads_every_answer_is_its_own_versions(served):
    """4 searching threads each pinned to a version it has seen (old and newest), a writer committing through
    another handle, the refresher every 5 ms and requests without a version (which refresh inline)."""
    registry, record, other = served
    registry.start_refreshing(0.005)
    seen = [registry.collection(record).version]
    errors: list[str] = []
    stop = threading.Event()
    answers = [0]

    def search() -> None:
        rng = np.random.default_rng(threading.get_ident() % 1000)
        while not stop.is_set():
            v = int(rng.choice(seen)) if rng.random() < 0.7 else None
            col = registry.collection(record, v)
            got_v = col.version
            if v is not None and got_v != v:
                errors.append(f"asked for version {v}, served {got_v}")
            newest_id = got_v * BLOCK - 1
            res = col.search(_rows(got_v)[-1:], k=5, exact=True)
            if res.ids[0, 0] != newest_id or int(res.ids.max()) > newest_id:
                errors.append(f"version {got_v}: answered {res.ids.tolist()}, its newest row is {newest_id}")
            answers[0] += 1

    def write() -> None:
        for _ in range(8):
            seen.append(_add_version(other))
            time.sleep(0.05)
        stop.set()

    threads = [threading.Thread(target=search) for _ in range(4)] + [threading.Thread(target=write)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    stop.set()
    assert not errors, errors[:5]
    assert answers[0] > 20
    assert registry.collection(record).version == seen[-1]
