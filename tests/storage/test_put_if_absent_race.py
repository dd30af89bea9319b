"""put_if_absent is the commit primitive: under a race exactly one writer wins, and nobody overwrites."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from vectree.storage import LocalStore, ObjectStore

REPO = Path(__file__).resolve().parents[2]


def test_put_if_absent_does_not_overwrite(store):
    assert store.put_if_absent("manifests/00000001.json", b"first") is True
    assert store.put_if_absent("manifests/00000001.json", b"second") is False
    assert store.get("manifests/00000001.json") == b"first"


def test_threads_racing_for_one_key_have_exactly_one_winner(store):
    n_threads, n_keys = 8, 10
    barrier = threading.Barrier(n_threads)
    wins: dict[str, list[int]] = {f"m/{k:04d}": [] for k in range(n_keys)}
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            barrier.wait()
            for key in wins:
                if store.put_if_absent(key, f"writer-{i}".encode()):
                    wins[key].append(i)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for key, winners in wins.items():
        assert len(winners) == 1, (key, winners)
        assert store.get(key) == f"writer-{winners[0]}".encode()


_RACER = """
import json, os, sys, time
from vectree.storage.url import open_store
url, go, who, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
opts = json.loads(os.environ.get("RACE_OPTS", "{}"))
store = open_store(url, **opts)
store.exists("warm-up") if url.startswith("s3") else None
while not os.path.exists(go):
    time.sleep(0.001)
won = [k for k in range(n) if store.put_if_absent(f"m/{k:04d}", who.encode())]
print(json.dumps(won))
"""


def _race(url: str, opts: dict, tmp_path: Path, n_keys: int = 25) -> tuple[list[int], list[int]]:
    go = tmp_path / "go"
    env = os.environ | {"RACE_OPTS": json.dumps(opts), "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, url, str(go), who, str(n_keys)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        for who in ("a", "b")
    ]
    time.sleep(1.5)  # both interpreters up and waiting
    go.touch()
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=120)
        assert p.returncode == 0, stderr.decode()
        out.append(json.loads(stdout))
    return out[0], out[1]


def _check_one_winner(store: ObjectStore, a: list[int], b: list[int], n_keys: int = 25) -> None:
    assert sorted(a + b) == list(range(n_keys)), "every key won by exactly one process"
    for k in range(n_keys):
        assert store.get(f"m/{k:04d}") == (b"a" if k in a else b"b")


def test_two_processes_racing_on_local_disk_have_one_winner_per_key(tmp_path):
    root = tmp_path / "store"
    a, b = _race(str(root), {}, tmp_path)
    _check_one_winner(LocalStore(root), a, b)


def test_two_processes_racing_on_s3_have_one_winner_per_key(s3_server, tmp_path):
    url = s3_server.new_url("race")
    a, b = _race(url, s3_server.storage_options(), tmp_path)
    _check_one_winner(s3_server.open_store(url), a, b)


@pytest.mark.parametrize("same_bytes", [True, False])
def test_s3_conditional_put_with_lost_answer_is_resolved_by_reading_back(s3_server, same_bytes):
    """If an attempt's answer was lost and a retry finds the key taken, the stored bytes decide."""
    store = s3_server.open_store()
    store.put("m/0001", b"ours")
    # what the retry path does after a transient failure of a create-if-absent put
    assert store.stored_bytes_equal("m/0001", b"ours" if same_bytes else b"theirs") is same_bytes
