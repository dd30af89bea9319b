"""The process's S3 clients (storage/s3_clients.py) on a real SeaweedFS: handles with the same settings share
one client, built once even when many threads open handles at the same moment; different settings get
different clients; a shared client caches no data (a fresh handle on it reads what the store holds now);
and many threads opening handles and reading and writing through them at once, under load, all see
exactly their own bytes."""

from __future__ import annotations

import threading

import numpy as np

import vectree
from vectree.storage import s3_clients
from vectree.storage.s3 import S3Store


def test_handles_with_the_same_settings_share_one_client_and_others_do_not(s3_server):
    url = s3_server.new_url("pool")
    a, b = s3_server.open_store(url), s3_server.open_store(url)
    assert a._store is b._store
    assert s3_server.open_store(url, timeout_s=7.0)._store is not a._store  # other options
    assert s3_server.open_store(url + "-other")._store is not a._store  # another prefix
    assert s3_server.open_store(url, share_client=False)._store is not a._store  # asked for its own
    a.put("k", b"one")
    assert b.get("k") == b"one"


def test_a_fresh_handle_on_a_shared_client_reads_what_is_stored_now(s3_server):
    url, opts = s3_server.new_url("pool-fresh"), s3_server.storage_options()
    x = np.random.default_rng(1).normal(size=(400, 4)).astype(np.float32)
    col = vectree.create_collection(url, dim=4, bucket_size=50, storage_options=opts)
    col.add(x, ids=np.arange(400))
    col.build()
    first = vectree.open_collection(url, storage_options=opts)
    assert first.search(x[5], k=1).ids.tolist() == [[5]]
    col.add(x[5:6] + 0.0001, ids=[999])
    col.delete([5])
    again = vectree.open_collection(url, storage_options=opts)  # same client: nothing of the first read is reused
    assert again.store._store is first.store._store
    assert again.search(x[5], k=1).ids.tolist() == [[999]]
    assert again.store.round_trips == 2 and again.store.requests > 2


def test_many_threads_opening_reading_and_writing_at_once_share_clients_and_see_their_own_bytes(s3_server):
    prefixes = [s3_server.new_url(f"pool-stress-{i}") for i in range(3)]
    s3_clients.clear()
    errors: list[BaseException] = []
    clients: dict[str, set[int]] = {p: set() for p in prefixes}
    lock = threading.Lock()
    start = threading.Barrier(24)

    def work(t: int) -> None:
        try:
            start.wait()
            rng = np.random.default_rng(t)
            for i in range(12):
                url = prefixes[(t + i) % len(prefixes)]
                store = s3_server.open_store(url)  # a new handle every time, as a function invocation makes
                with lock:
                    clients[url].add(id(store._store))
                key = f"t{t}/o{i}"
                data = rng.bytes(int(rng.integers(1, 300_000)))
                store.put(key, data)
                assert store.get(key) == data
                got = store.get_ranges([(key, 0, 10), (key, 5, len(data))])
                assert bytes(got[0]) == data[:10] and bytes(got[1]) == data[5:]
                if i % 3 == 0:
                    assert key in store.list(f"t{t}/")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert all(len(ids) == 1 for ids in clients.values()), clients  # one client per prefix, across 288 handles
    assert s3_clients.built == len(prefixes)  # each built once, though 24 threads asked at the same moment
    assert isinstance(s3_server.open_store(prefixes[0]), S3Store)
