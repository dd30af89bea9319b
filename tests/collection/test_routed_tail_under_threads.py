"""Threads search a collection whose tail is large enough to be read through its buckets
(:mod:`vectree.collection.routed_tail`) while another thread adds, deletes, upserts and compacts while
keeping a large tail, through a cache far smaller than the rows: no exception, and every answer equals
the single-threaded answer of the version it read."""

from __future__ import annotations

import sys
import threading
import time
from collections import defaultdict

import numpy as np

import vectree
from tests.collection.test_search_under_concurrent_writes import SECONDS, _hog, _searcher
from vectree.collection.plan import TUNING

DIM = 32
TAIL = TUNING.routed_tail_rows + 2_000
BUILT = TAIL + 4_000  # compaction rebuilds a tail larger than the indexed rows


def _rows(rng: np.random.Generator, centers: np.ndarray, n: int) -> np.ndarray:
    return (centers[rng.integers(0, len(centers), n)] + rng.normal(size=(n, DIM))).astype(np.float32)


def _writer(col, pool: np.ndarray, stop: threading.Event, errors: list, ops: list) -> None:  # noqa: ANN001
    rng = np.random.default_rng(5)
    next_id = 100_000
    live = list(range(BUILT, BUILT + TAIL))  # tail rows: deletes and upserts hit the routed parts
    try:
        first = ["add", "delete", "upsert", "compact"]
        while not stop.is_set():
            op = (
                first.pop(0)
                if first
                else str(rng.choice(["add", "delete", "upsert", "compact"], p=[0.4, 0.3, 0.25, 0.05]))
            )
            if op == "add":
                col.add(pool[rng.integers(len(pool), size=20)], ids=np.arange(next_id, next_id + 20))
                live += list(range(next_id, next_id + 20))
                next_id += 20
            elif op == "delete":
                gone = [live.pop(int(rng.integers(len(live)))) for _ in range(3)]
                col.delete(gone)
            elif op == "upsert":
                ids = [live[int(rng.integers(len(live)))] for _ in range(2)]
                col.upsert(pool[rng.integers(len(pool), size=len(set(ids)))], ids=sorted(set(ids)))
            else:  # fold a little, keep the tail past the routing bound
                col.compact(keep_tail_rows=TAIL - 500)
            ops.append(op)
            time.sleep(0.005)
    except Exception as exc:  # noqa: BLE001 - reported by the test
        errors.append(("writer", repr(exc)))


def _collection(tmp_path) -> tuple:  # noqa: ANN001
    rng = np.random.default_rng(4)
    centers = rng.normal(scale=5, size=(60, DIM))
    path = tmp_path / "c"
    col = vectree.create_collection(path, dim=DIM, bucket_size=50)
    col.add(_rows(rng, centers, BUILT), ids=np.arange(BUILT))
    col.build()
    col.add(_rows(rng, centers, TAIL), ids=np.arange(BUILT, BUILT + TAIL))
    return path, _rows(rng, centers, 300), _rows(rng, centers, 2_000)


def _run(threads: list, ops: list, errors: list, stop: threading.Event) -> None:
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    try:
        for t in threads:
            t.start()
        time.sleep(max(3.0, SECONDS / 4))
        deadline = time.time() + 60
        while len(ops) < 4 and not errors and time.time() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=120)
        sys.setswitchinterval(before)


def _check(path, queries: np.ndarray, answers: list) -> dict:  # noqa: ANN001
    """Every answer equals the single-threaded answer of the version it read; the answers by version."""
    by_version = defaultdict(list)
    for a in answers:
        by_version[a[0]].append(a)
    wrong = []
    for version, group in sorted(by_version.items()):
        alone = vectree.open_collection(path, version=version)
        assert alone.manifest.tail_rows >= TUNING.routed_tail_rows  # every version read was routed
        for _, qi, probes, method, ids, distances in group:
            want = alone.search(
                queries[list(qi)] if len(qi) > 1 else queries[qi[0]], k=10, probes=probes, method=method
            )
            if not (np.array_equal(want.ids, ids) and np.array_equal(want.distances, distances)):
                wrong.append((version, qi, probes))
    assert not wrong, f"{len(wrong)} of {len(answers)} answers differ from one thread's: {wrong[:5]}"
    return by_version


def _load(reader, writer, queries: np.ndarray, pool: np.ndarray, searchers: int, extra=None) -> tuple:  # noqa: ANN001
    """``searchers`` threads search ``reader`` while ``writer`` writes (a GIL hog beside them, and ``extra``:
    a target taking (stop, errors)); returns the answers and the writer's ops, once no thread failed."""
    stop = threading.Event()
    errors: list = []
    answers: list = []
    ops: list = []
    threads = [
        threading.Thread(target=_searcher, args=(reader, queries, s, stop, errors, answers)) for s in range(searchers)
    ]
    threads += [
        threading.Thread(target=_writer, args=(writer, pool, stop, errors, ops)),
        threading.Thread(target=_hog, args=(stop,)),
    ]
    if extra is not None:
        threads.append(threading.Thread(target=extra, args=(stop, errors)))
    _run(threads, ops, errors, stop)
    assert not errors, errors[:5]
    return answers, ops


def test_routed_tail_searches_during_writes_answer_as_one_thread(tmp_path):
    path, queries, pool = _collection(tmp_path)
    shared = vectree.open_collection(path, cache_bytes=400_000, cache_slab_bytes=128 << 10)
    answers, ops = _load(shared, shared, queries, pool, searchers=6)
    by_version = _check(path, queries, answers)
    assert len(answers) > 50 and {"add", "delete", "upsert", "compact"} <= set(ops)
    assert len(by_version) >= 3


def _refresher(col, moves: list):  # noqa: ANN001, ANN202
    def refresh(stop: threading.Event, errors: list) -> None:
        try:
            while not stop.is_set():
                before = col.version
                if col.refresh().version != before:  # prepared: index, tail and its grouping made here
                    moves.append(col.version)
                time.sleep(0.002)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(("refresher", repr(exc)))

    return refresh


def test_searches_answer_as_one_thread_while_another_thread_refreshes_and_prepares(tmp_path):
    """A server's shape: one thread moves the reader to each new version (preparing it first) while others
    search the same reader, and a writer of its own commits."""
    path, queries, pool = _collection(tmp_path)
    reader = vectree.open_collection(path, cache_bytes=400_000, cache_slab_bytes=128 << 10)
    writer = vectree.open_collection(path)
    moves: list = []
    answers, ops = _load(reader, writer, queries, pool, searchers=4, extra=_refresher(reader, moves))
    by_version = _check(path, queries, answers)
    assert len(answers) > 50 and {"add", "delete", "upsert", "compact"} <= set(ops)
    assert len(moves) >= 3 and len(by_version) >= 3  # the reader moved, and searches answered from several versions
