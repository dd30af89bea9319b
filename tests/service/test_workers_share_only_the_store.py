"""Two worker processes behind one port share nothing but ROOT: writes through either are seen by both,
concurrent writers all land, a key made or revoked after start reaches both."""

from __future__ import annotations

import threading

import httpx
import numpy as np

from tests.serviceserver import ServiceServer


def test_two_workers_see_one_store(tmp_path):
    server = ServiceServer(
        tmp_path / "root", workers=2, args=["--rate", "100000", "--burst", "100000"], log=tmp_path / "service.log"
    )
    key = server.create_key("alice", "alice")
    server.start()
    try:
        assert len(server.worker_pids()) == 2
        h = {"authorization": f"Bearer {key}"}
        assert httpx.post(server.url + "/collections", json={"name": "c", "dim": 4}, headers=h).status_code == 201
        acked, lock = [], threading.Lock()

        def writer(w: int) -> None:
            rng = np.random.default_rng(w)
            with httpx.Client(
                base_url=server.url, headers=h, timeout=60
            ) as http:  # a new connection may reach either worker
                for i in range(15):
                    ids = [f"{w}-{i}-{j}" for j in range(5)]
                    r = http.post(
                        "/collections/c/add",
                        json={"vectors": rng.normal(size=(5, 4)).tolist(), "ids": ids},
                        headers={"connection": "close"},
                    )
                    assert r.status_code == 200, r.text
                    with lock:
                        acked.extend(ids)

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(acked) == 300
        versions = set()
        for _ in range(12):  # fresh connections: both workers answer
            r = httpx.post(server.url + "/collections/c/get", json={"ids": acked}, headers=h | {"connection": "close"})
            assert r.status_code == 200 and sorted(r.json()["ids"]) == sorted(acked)
            versions.add(httpx.get(server.url + "/collections/c", headers=h).json()["version"])
        assert versions == {60}  # 60 adds, each one commit, none lost to a race
        late = server.create_key("bob", "bob")  # made after the workers started
        assert all(
            httpx.get(
                server.url + "/whoami", headers={"authorization": f"Bearer {late}", "connection": "close"}
            ).status_code
            == 200
            for _ in range(8)
        )
    finally:
        server.stop()
