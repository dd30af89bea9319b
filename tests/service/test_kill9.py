"""kill -9 the server in the middle of writes, 20 times: every write answered 2xx survives, verify stays clean."""

from __future__ import annotations

import random
import threading
import time

import httpx
import numpy as np
import pytest

from tests.serviceserver import ServiceServer

TRIALS = 20


def _writer(url: str, key: str, name: str, seed: int, stop: threading.Event, acked: dict, lock: threading.Lock) -> None:
    """Adds of 20 new rows and deletes of acknowledged ones, until the server dies; records each 2xx.

    ``acked[id]``: True once its add was answered 2xx, False once its delete was, None while a delete
    of it is unanswered (it may or may not have committed).
    """
    rng = np.random.default_rng(seed)
    h = {"authorization": f"Bearer {key}"}
    n = 0
    with httpx.Client(base_url=url, headers=h, timeout=10) as http:
        while not stop.is_set():
            n += 1
            try:
                with lock:
                    live = [i for i, alive in acked.items() if alive is True]
                if live and rng.random() < 0.2:
                    gone = [str(g) for g in rng.choice(live, size=min(3, len(live)), replace=False)]
                    with lock:  # from here on unknown: the delete may commit even if its answer never comes
                        acked.update(dict.fromkeys(gone, None))
                    r = http.post(f"/collections/{name}/delete", json={"ids": gone, "missing_ok": True})
                    if r.status_code == 200:
                        with lock:
                            acked.update(dict.fromkeys(gone, False))
                    continue
                ids = [f"w{seed}-{n}-{j}" for j in range(20)]
                r = http.post(
                    f"/collections/{name}/add", json={"vectors": rng.normal(size=(20, 8)).tolist(), "ids": ids}
                )
                if r.status_code == 200:
                    with lock:
                        acked.update(dict.fromkeys(ids, True))
            except httpx.HTTPError:
                time.sleep(0.01)  # the server is down: wait for the test to stop us


@pytest.mark.slow
def test_every_acknowledged_write_survives_kill_9(tmp_path):
    server = ServiceServer(
        tmp_path / "root", args=["--rate", "100000", "--burst", "100000"], log=tmp_path / "service.log"
    )
    key = server.create_key("alice", "alice")
    server.start()
    h = {"authorization": f"Bearer {key}"}
    assert httpx.post(server.url + "/collections", json={"name": "c", "dim": 8}, headers=h).status_code == 201
    acked: dict[str, bool] = {}
    lock = threading.Lock()
    rnd = random.Random(0)
    try:
        for trial in range(TRIALS):
            stop = threading.Event()
            threads = [
                threading.Thread(target=_writer, args=(server.url, key, "c", trial * 10 + w, stop, acked, lock))
                for w in range(2)
            ]
            for t in threads:
                t.start()
            with lock:
                before = len(acked)
            deadline = time.monotonic() + 30
            while len(acked) == before and time.monotonic() < deadline:  # writes are flowing
                time.sleep(0.01)
            time.sleep(rnd.uniform(0.0, 0.3))
            server.stop(kill=True)  # SIGKILL, mid-write
            stop.set()
            for t in threads:
                t.join()
            server.start()
            with lock:
                present = [i for i, alive in acked.items() if alive is True]
                deleted = [i for i, alive in acked.items() if alive is False]
            if present:
                r = httpx.post(server.url + "/collections/c/get", json={"ids": present}, headers=h, timeout=30)
                assert r.status_code == 200, f"trial {trial}: acknowledged rows missing after kill -9: {r.text[:300]}"
                assert sorted(r.json()["ids"]) == sorted(present)
            for gone in deleted[-5:]:
                r = httpx.post(server.url + "/collections/c/get", json={"ids": [gone]}, headers=h)
                assert r.status_code == 404, f"trial {trial}: an acknowledged delete came back"
            report = httpx.post(server.url + "/collections/c/verify", json={}, headers=h, timeout=60).json()
            assert report["ok"], report["problems"]
        assert len(acked) >= TRIALS * 20  # every trial wrote before it was killed
    finally:
        server.stop()
