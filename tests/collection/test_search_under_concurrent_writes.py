"""Eight threads search one collection through a cache far smaller than its buckets while another
thread adds, deletes, upserts and compacts on the same object and CPU hogs run beside them: no
exception, no crash, and every answer equals the single-threaded answer of the version it read.

``VECTREE_STRESS_SECONDS`` sets how long the load runs (default 20, split between the two
collections below; the sanitizer run and the 200-run loop in the closing note use shorter runs).
It runs on a plain collection (the compiled, streamed and matrix scans) and on one with int8 codes
(the quantized scan, and streamed through codes).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import defaultdict

import numpy as np
import pytest

import vectree

SECONDS = float(os.environ.get("VECTREE_STRESS_SECONDS", "20"))
PROBES = (1, 3, 6, 12)


def _writer(col: vectree.Collection, pool: np.ndarray, stop: threading.Event, errors: list, ops: list) -> None:
    rng = np.random.default_rng(1)
    live = set(range(3000)) - set(range(0, 3000, 3))
    next_id = 10_000
    try:
        first = ["add", "delete", "upsert", "compact"]  # every kind early, however slow the machine
        while not stop.is_set():
            op = (
                first.pop(0)
                if first
                else str(rng.choice(["add", "delete", "upsert", "compact"], p=[0.35, 0.3, 0.27, 0.08]))
            )
            if op == "add":
                ids = list(range(next_id, next_id + 5))
                next_id += 5
                col.add(pool[rng.integers(len(pool), size=5)], ids=ids)
                live.update(ids)
            elif op == "delete" and len(live) > 100:
                ids = rng.choice(sorted(live), size=3, replace=False).tolist()
                col.delete(ids)
                live.difference_update(ids)
            elif op == "upsert":
                ids = rng.choice(sorted(live), size=2, replace=False).tolist() + [next_id]
                next_id += 1
                col.upsert(pool[rng.integers(len(pool), size=3)], ids=ids)
                live.update(ids)
            elif op == "compact":
                col.compact()
            ops.append(op)
            time.sleep(0.005)
    except Exception as exc:  # noqa: BLE001 - reported by the test
        errors.append(("writer", repr(exc)))


def _searcher(
    col: vectree.Collection, queries: np.ndarray, seed: int, stop: threading.Event, errors: list, answers: list
) -> None:
    rng = np.random.default_rng(seed)
    try:
        while not stop.is_set():
            probes = int(rng.choice(PROBES))
            if rng.random() < 0.15:  # a small batch now and then (another method)
                qi = tuple(sorted(rng.choice(len(queries), size=8, replace=False).tolist()))
            else:
                qi = (int(rng.integers(len(queries))),)
            r = col.search(queries[list(qi)] if len(qi) > 1 else queries[qi[0]], k=10, probes=probes)
            answers.append((r.stats["version"], qi, probes, r.stats["method"], r.ids, r.distances))
    except Exception as exc:  # noqa: BLE001 - reported by the test
        errors.append(("searcher", repr(exc)))


def _hog(stop: threading.Event) -> None:
    while not stop.is_set():  # pure Python: takes the GIL in slices, as a busy server thread does
        sum(i * i for i in range(20_000))


def build_stress_collection(path, vectors: np.ndarray, codes: str | None = None) -> None:  # noqa: ANN001
    """3,000 real arXiv rows in ~90 cosine buckets of ~32, a third of them deleted (every bucket has a dead
    mask). Buckets of ~50 KB: small enough that the read cache keeps them in its arena's slabs and moves
    them between slabs as evictions thin them out (with codes, larger: each in an allocation of its own)."""
    col = vectree.create_collection(path, dim=384, metric="cosine", bucket_size=32, codes=codes)
    col.add(vectors[:3000], ids=np.arange(3000))
    col.build()
    col.delete(np.arange(0, 3000, 3))


def run_stress(path, vectors: np.ndarray, seconds: float) -> dict:  # noqa: ANN001
    """The load on the collection at ``path`` for ``seconds``, then every answer checked; returns counts."""
    # about 6 of the ~90 buckets, in slabs of 5: nearly every eviction leaves a slab sparse and moves blocks
    shared = vectree.open_collection(path, cache_bytes=300_000, cache_slab_bytes=256 << 10)
    queries = vectors[3000:3400]
    stop = threading.Event()
    errors: list = []
    answers: list = []
    ops: list = []
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])  # a process-wide CPU hog
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)  # switch threads 50x more often than by default
    threads = [threading.Thread(target=_searcher, args=(shared, queries, s, stop, errors, answers)) for s in range(8)]
    threads += [
        threading.Thread(target=_writer, args=(shared, vectors[3400:], stop, errors, ops)),
        threading.Thread(target=_hog, args=(stop,)),
    ]
    try:
        for t in threads:
            t.start()
        time.sleep(seconds)
        deadline = (
            time.time() + 60
        )  # and until every kind of write has committed (compaction is slow on a busy machine)
        while len(ops) < 4 and not errors and time.time() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=120)
        sys.setswitchinterval(before)
        burner.kill()
        burner.wait()
    assert not errors, errors[:5]
    assert not any(t.is_alive() for t in threads), "a thread did not stop"
    by_version = defaultdict(list)
    for a in answers:
        by_version[a[0]].append(a)
    wrong = []
    for version, group in sorted(by_version.items()):
        alone = vectree.open_collection(path, version=version)  # one thread, everything cached
        for _, qi, probes, method, ids, distances in group:  # the same method: the same arithmetic
            want = alone.search(
                queries[list(qi)] if len(qi) > 1 else queries[qi[0]], k=10, probes=probes, method=method
            )
            if not (np.array_equal(want.ids, ids) and np.array_equal(want.distances, distances)):
                wrong.append((version, qi, probes))
    assert not wrong, f"{len(wrong)} of {len(answers)} answers differ from one thread's: {wrong[:5]}"
    # then that the load was what it should be
    assert len(answers) > 50 and len(ops) >= 4, (len(answers), len(ops))
    assert {"add", "delete", "upsert", "compact"} <= set(ops)
    stats = shared.stats()["cache"]
    assert stats["evictions"] > 20, "the cache must be far smaller than the buckets the searches read"
    assert len(by_version) >= 3, "searches must have read several versions"
    return {
        "answers": len(answers),
        "versions": len(by_version),
        "writes": len(ops),
        "evictions": stats["evictions"],
        "moves": stats["moves"],
        "methods": sorted({a[3] for a in answers}),
    }


@pytest.mark.parametrize("codes", [None, "int8"])
def test_searches_during_writes_and_evictions_answer_as_one_thread(tmp_path, arxiv_sample, codes):
    build_stress_collection(tmp_path / "c", arxiv_sample["vectors"], codes)
    done = run_stress(tmp_path / "c", arxiv_sample["vectors"], SECONDS / 2)
    assert ("quantized" in done["methods"]) == (codes is not None), done
    if codes is None:  # blocks were moved out of sparse slabs while other threads read them
        assert done["moves"] > 0, done
