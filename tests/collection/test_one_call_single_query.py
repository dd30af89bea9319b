"""One warm query in one C call (``OneCall`` in ``vectree.collection.single``, ``_scan.Resident``):
the same ids, distances and stats as the general path for l2 and cosine (dot routes through its
tree: the lean path), every stored dtype and code; the table holds only blocks the cache holds;
threads, evictions and slab moves change no answer."""

import threading

import numpy as np
import pytest

import vectree
from vectree.collection.plan import TUNING
from vectree.collection.results import SearchResult
from vectree.collection.single import _one_call
from vectree.collection.validate import as_vectors


def _build(url, x, metric, dtype, codes, **kw):
    col = vectree.create_collection(url, dim=x.shape[1], metric=metric, bucket_size=60, vector_dtype=dtype, codes=codes)
    col.add(x[:1500], ids=np.arange(1500) * 7 + 3, **kw)
    col.build()
    col.search(x[:2], k=1, exact=True)  # every bucket cached
    return col


@pytest.mark.parametrize("metric", ["l2", "cosine"])
@pytest.mark.parametrize(
    "dtype,codes",
    [
        ("float32", None),
        ("float16", None),
        ("float32", "int8"),
        ("float16", "int8"),
        ("float32", "rabitq"),
        ("float16", "rabitq"),
    ],
)
def test_one_call_answers_as_the_general_path(arxiv_sample, metric, dtype, codes):
    x = arxiv_sample["vectors"]
    if metric != "cosine":  # unnormalised rows, so the metrics differ
        x = x * np.linspace(0.5, 2.0, len(x), dtype=np.float32)[:, None]
    col = _build(f"memory://one-{metric}-{dtype}-{codes}", x, metric, dtype, codes)
    one = _one_call(col._snap)
    assert one is not None
    method = "quantized" if codes else "compiled"
    for q in x[2400:2430]:
        for k in (1, 10):
            first = col.search(q, k=k, probes=3)  # (the first fills the table through the lean path)
            cap = TUNING.rabitq_rerank * k if codes == "rabitq" else 0  # what search() asks for
            direct = one.search(as_vectors(q, col.dim, metric, allow_1d=True), k, 3, cap)
            assert isinstance(direct, SearchResult), "every probed bucket is held after the first query"
            general = col.search(q, k=k, probes=3, method=method)
            for got in (first, direct):
                np.testing.assert_array_equal(got.ids, general.ids)
                np.testing.assert_array_equal(got.distances, general.distances)
                assert got.labels is None and general.labels is None
                assert got.stats == general.stats
    assert one.table.resident  # it held buckets


def test_more_k_than_probed_rows_pads_as_the_general_path(arxiv_sample):
    x = arxiv_sample["vectors"]
    col = _build("memory://one-pad", x, "cosine", "float32", None)
    q = x[2400]
    col.search(q, k=200, probes=1)
    got = _one_call(col._snap).search(as_vectors(q, col.dim, "cosine", allow_1d=True), 200, 1)
    general = col.search(q, k=200, probes=1, method="compiled")
    assert isinstance(got, SearchResult) and (got.ids[0] == -1).any()  # fewer rows than k in one bucket
    np.testing.assert_array_equal(got.ids, general.ids)
    np.testing.assert_array_equal(got.distances, general.distances)


def test_not_the_plain_case_has_no_table(arxiv_sample, tmp_path):
    x = arxiv_sample["vectors"]
    labelled = _build(tmp_path / "a", x, "cosine", "float32", None, labels=np.arange(1500) % 5)
    assert _one_call(labelled._snap) is None  # labels: the lean path assembles them
    strs = vectree.create_collection(tmp_path / "b", dim=x.shape[1], metric="cosine", bucket_size=60)
    strs.add(x[:600], ids=[f"p{i}" for i in range(600)])
    strs.build()
    assert _one_call(strs._snap) is None
    plain = _build(tmp_path / "c", x, "cosine", "float32", None)
    assert _one_call(plain._snap) is not None
    dot = _build(tmp_path / "d", x, "dot", "float32", None)
    assert _one_call(dot._snap) is None  # dot routes through its tree (augmented), not by centers: the lean path
    plain.delete([3, 10])
    assert _one_call(plain._snap) is None  # deletes: dead masks
    assert 3 not in plain.search(x[0], k=10, probes=3).ids


def test_the_table_holds_only_what_the_cache_holds(arxiv_sample, tmp_path):
    x = arxiv_sample["vectors"]
    _build(tmp_path / "c", x, "cosine", "float32", "int8")
    col = vectree.open_collection(tmp_path / "c", cache_bytes=1_000_000)  # under half the buckets
    lru = col._snap.cache.lru
    for q in x[2400:2600]:
        col.search(q, k=10, probes=3)
        one = _one_call(col._snap)
        fps = one.fps
        for b in one.table.resident:  # every block held is the one the cache holds now
            held = lru.peek(fps[b])
            assert held is not None
    assert col.stats()["cache"]["evictions"] > 0


def run_one_call_stress(path, x: np.ndarray, rounds: int = 400) -> dict:  # noqa: ANN001
    """Three threads ask ``rounds`` single queries each (mostly through the one-call path) while a
    fourth scans many buckets, so the small cache evicts and moves blocks out of sparse slabs all along;
    asserts every answer is the one-thread answer and returns counts (also run by ``stress_loop.py``)."""
    _build(path, x, "l2", "float16", "int8")
    alone = vectree.open_collection(path)
    queries = x[2400:2460]
    want = [alone.search(q, k=10, probes=3, method="quantized") for q in queries]
    col = vectree.open_collection(path, cache_bytes=1_000_000, cache_slab_bytes=320 << 10)
    served, errors, stop = [0], [], threading.Event()

    def ask(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            for i in rng.integers(0, len(queries), rounds).tolist():
                q = as_vectors(queries[i], col.dim, "l2", allow_1d=True)
                got = _one_call(col._snap).search(q, 10, 3)
                if isinstance(got, SearchResult):
                    served[0] += 1
                else:
                    got = col.search(queries[i], k=10, probes=3)
                if not (np.array_equal(got.ids, want[i].ids) and np.array_equal(got.distances, want[i].distances)):
                    errors.append(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def churn() -> None:
        rng = np.random.default_rng(9)
        while not stop.is_set():
            col.search(x[rng.integers(0, 1500, 4)], k=5, probes=6)
            stop.wait(0.002)  # (now and then: the others' probed buckets mostly stay cached)

    threads = [threading.Thread(target=ask, args=(s,)) for s in range(3)]
    other = threading.Thread(target=churn)
    other.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    other.join()
    assert not errors, f"answers differ from one thread's: {errors[:3]}"
    stats = col.stats()["cache"]
    return {"served": served[0], "asked": 3 * rounds, "evictions": stats["evictions"], "moves": stats["moves"]}


def test_one_call_under_threads_evictions_and_moves(arxiv_sample, tmp_path):
    done = run_one_call_stress(tmp_path / "c", arxiv_sample["vectors"])
    assert done["served"] > 30, done  # many answers came through the one call (86-124 of 1,200 in 12 loop runs)
    assert done["evictions"] > 0 and done["moves"] > 0, done  # blocks left and moved while others read
