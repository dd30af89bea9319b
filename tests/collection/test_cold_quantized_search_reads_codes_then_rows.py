"""On disk with a small read cache, a quantized search reads the probed buckets' code spans, then only the
vector chunks of its short list (vectree/collection/coldcodes.py): the same answer as reading whole
buckets, exactly exact=True's with every bucket probed, fewer bytes than a plain collection's cold query,
and a damaged chunk is a CorruptionError naming its bucket."""

from __future__ import annotations

import numpy as np
import pytest

import vectree
from vectree.errors import CorruptionError
from vectree.format.codespans import chunk_range

N = 3000
SMALL = 200_000  # bytes of read cache: the collection is ~25x larger (two-phase reads)


def _build(root, x, metric="cosine", dtype="float32", codes="int8"):
    col = vectree.create_collection(
        root, dim=x.shape[1], metric=metric, bucket_size=100, vector_dtype=dtype, codes=codes
    )
    col.add(x[:N], ids=np.arange(N) * 3)
    col.build()
    return col


def _rows(x, metric):
    return x * np.linspace(0.5, 2.0, len(x), dtype=np.float32)[:, None] if metric == "l2" else x


@pytest.mark.parametrize("codes", ["int8", "rabitq"])
@pytest.mark.parametrize("metric,dtype", [("l2", "float32"), ("cosine", "float16"), ("dot", "float32")])
def test_every_bucket_probed_returns_exact_answer_through_codes_then_rows(arxiv_sample, tmp_path, codes, metric, dtype):
    x = _rows(arxiv_sample["vectors"], metric)
    _build(tmp_path / "c", x, metric, dtype, codes)
    queries = x[N : N + 24]
    exact = vectree.open_collection(tmp_path / "c").search(queries, k=10, exact=True, method="compiled")
    col = vectree.open_collection(tmp_path / "c", cache_bytes=SMALL)
    everything = col.stats()["buckets"]
    cap = 10 * N if codes == "rabitq" else None  # RaBitQ's bound holds with high probability: re-rank every row
    got = col.search(queries, k=10, probes=everything, rerank=cap)
    assert got.stats["two_phase"] and got.stats["method"] == "quantized"
    np.testing.assert_array_equal(got.ids, exact.ids)
    np.testing.assert_array_equal(got.distances, exact.distances)
    for i in (0, 7, 23):  # one query at a time
        one = vectree.open_collection(tmp_path / "c", cache_bytes=SMALL).search(
            queries[i], k=10, probes=everything, rerank=cap
        )
        assert one.stats["two_phase"]
        np.testing.assert_array_equal(one.ids[0], exact.ids[i])
        np.testing.assert_array_equal(one.distances[0], exact.distances[i])


@pytest.mark.parametrize("probes", [1, 4])
def test_few_probes_return_the_whole_bucket_reads_answer(arxiv_sample, tmp_path, probes):
    x = arxiv_sample["vectors"]
    col = _build(tmp_path / "c", x)
    col.delete(np.arange(0, 3 * N, 21))  # dead rows in every bucket
    queries = x[N : N + 30]
    whole = vectree.open_collection(tmp_path / "c")  # a cache that holds it all: whole buckets, as before
    want = whole.search(queries, k=10, probes=probes, method="quantized")
    assert "two_phase" not in want.stats
    got = vectree.open_collection(tmp_path / "c", cache_bytes=SMALL).search(queries, k=10, probes=probes)
    assert got.stats["two_phase"]
    np.testing.assert_array_equal(got.ids, want.ids)
    np.testing.assert_array_equal(got.distances, want.distances)
    assert not np.isin(got.ids, np.arange(0, 3 * N, 21)).any()


@pytest.mark.parametrize("codes", ["int8", "rabitq"])
def test_a_cold_query_reads_fewer_bytes_than_a_plain_collection(arxiv_sample, tmp_path, codes):
    x = arxiv_sample["vectors"]
    _build(tmp_path / "plain", x, codes=None)
    _build(tmp_path / "coded", x, codes=codes)

    def cold_bytes(root, cache_bytes):  # each query from a fresh reader: nothing cached
        total = 0
        for q in x[N : N + 8]:
            col = vectree.open_collection(root, cache_bytes=cache_bytes)
            before = col.stats()["cache"]["bytes_fetched"]  # the index
            col.search(q, k=10, probes=6)
            total += col.stats()["cache"]["bytes_fetched"] - before
        return total

    two_phase = cold_bytes(tmp_path / "coded", SMALL)
    plain = cold_bytes(tmp_path / "plain", SMALL)  # ids and vectors of each probed bucket
    whole = cold_bytes(tmp_path / "coded", 1 << 30)  # whole bucket files, codes included
    assert two_phase < plain < whole, (two_phase, plain, whole)


def test_a_damaged_chunk_or_code_span_is_a_corruption_error_naming_its_bucket(arxiv_sample, tmp_path):
    x = arxiv_sample["vectors"]
    col = _build(tmp_path / "c", x)
    snap = col._snap
    index = snap.index
    row_id = 3 * 1234  # a stored row: its own chunk is on any short list of its own vector
    located = col.get([row_id])
    assert len(located.ids) == 1
    bucket = next(
        b
        for b, fp in enumerate(index.bucket_fingerprints)
        if fp and row_id in vectree.open_collection(tmp_path / "c")._snap.cache.blocks([("buckets", fp)])[0].rows.ids
    )
    fp = index.bucket_fingerprints[bucket]
    span = index.bucket_spans[bucket]
    path = tmp_path / "c" / "buckets" / f"{fp}.arrow"
    whole = path.read_bytes()
    rows = vectree.open_collection(tmp_path / "c")._snap.cache.blocks([("buckets", fp)])[0].rows.ids
    row = int(np.flatnonzero(rows == row_id)[0])
    a, b = chunk_range(span, len(rows), x.shape[1], row // span.chunk_rows)
    for at in (a + (b - a) // 3, span.code_offset + 11):  # a vector chunk, then the codes
        bad = bytearray(whole)
        bad[at] ^= 0x40
        path.write_bytes(bytes(bad))
        reader = vectree.open_collection(tmp_path / "c", cache_bytes=SMALL)
        with pytest.raises(CorruptionError, match=f"bucket {fp} is corrupted"):
            reader.search(x[1234], k=10, probes=3)
        report = reader.verify()
        assert any(fp in p for p in report.problems), report.problems
        path.write_bytes(whole)
    assert vectree.open_collection(tmp_path / "c").verify().ok
