"""A tail past ``routed_tail_rows`` is searched through its rows' buckets: a query finds exactly what it would
find with the tail compacted into the buckets it probes, deleted rows stay hidden, filters still apply, and
probing every bucket is still the exact answer."""

import numpy as np
import pytest

import vectree
from vectree.collection.plan import TUNING

N_BUILT = 6_000
N_TAIL = TUNING.routed_tail_rows + 1_000
DIM = 8


def _reference(col, x: np.ndarray, ids: np.ndarray, q: np.ndarray, probes: int, k: int, metric: str) -> np.ndarray:
    """Exact top k over the rows whose bucket (the index's rule, as the build and compaction store them)
    is among each query's probed buckets."""
    index = col._snap.index
    xs, qs = x, q
    if metric == "cosine":
        xs = x / np.linalg.norm(x, axis=1, keepdims=True)
        qs = q / np.linalg.norm(q, axis=1, keepdims=True)
    bucket = index.assign(xs.astype(np.float32))
    probed = index.probe(qs.astype(np.float32), probes)
    out = []
    for qi in range(len(q)):
        cand = np.flatnonzero(np.isin(bucket, probed[qi]))
        if metric == "l2":
            d = ((xs[cand] - qs[qi]) ** 2).sum(1)
        else:
            d = -(xs[cand] @ qs[qi])
        out.append(ids[cand[np.argsort(d, kind="stable")[:k]]])
    return np.array(out)


@pytest.mark.parametrize("metric", ["l2", "cosine", "dot"])
def test_a_large_tail_is_searched_through_the_probed_buckets(tmp_path, metric):
    rng = np.random.default_rng(1)
    centers = rng.normal(scale=4, size=(40, DIM))
    x = (centers[rng.integers(0, 40, N_BUILT + N_TAIL)] + rng.normal(size=(N_BUILT + N_TAIL, DIM))).astype(np.float32)
    ids = np.arange(len(x))
    col = vectree.create_collection(str(tmp_path / "c"), dim=DIM, metric=metric, bucket_size=200)
    col.add(x[:N_BUILT], ids=ids[:N_BUILT])
    col.build()
    col.add(x[N_BUILT:], ids=ids[N_BUILT:])
    q = (centers[rng.integers(0, 40, 40)] + rng.normal(size=(40, DIM))).astype(np.float32)
    n_buckets = col._snap.index.n_buckets
    assert n_buckets > 8
    probes = 3

    got = col.search(q, k=10, probes=probes)
    assert np.array_equal(got.ids, _reference(col, x, ids, q, probes, 10, metric))
    # the tail is read through its buckets: far fewer rows than the flat tail scan would read
    assert got.stats["rows_scanned"] < len(q) * N_TAIL / 2
    one = col.search(q[:1], k=10, probes=probes)  # the single-query path gives the tail to the general one
    assert np.array_equal(one.ids[0], got.ids[0])

    # every bucket probed: the exact answer over every row, tail included
    exact = col.search(q, k=10, exact=True)
    assert np.array_equal(col.search(q, k=10, probes=n_buckets).ids, exact.ids)

    # a deleted tail row is never returned
    gone = np.unique(got.ids[:, :3].ravel())
    gone = gone[gone >= N_BUILT][:20]
    assert len(gone)
    col.delete(gone.tolist())
    again = col.search(q, k=10, probes=probes)
    assert not np.isin(again.ids, gone).any()
    keep = ~np.isin(ids, gone)
    assert np.array_equal(again.ids, _reference(col, x[keep], ids[keep], q, probes, 10, metric))


def test_a_filter_applies_to_the_routed_tail(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(N_BUILT + N_TAIL, DIM)).astype(np.float32)
    ids = np.arange(len(x))
    col = vectree.create_collection(str(tmp_path / "c"), dim=DIM, bucket_size=200)
    col.add(x[:N_BUILT], ids=ids[:N_BUILT], metadata=[{"even": bool(i % 2 == 0)} for i in range(N_BUILT)])
    col.build()
    col.add(x[N_BUILT:], ids=ids[N_BUILT:], metadata=[{"even": bool(i % 2 == 0)} for i in ids[N_BUILT:]])
    q = rng.normal(size=(20, DIM)).astype(np.float32)
    got = col.search(q, k=10, probes=4, where={"even": True})
    found = got.ids[got.ids >= 0]
    assert len(found) and (found % 2 == 0).all()
    assert (found >= N_BUILT).any()  # tail rows are among the answers
