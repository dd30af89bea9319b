"""The index file a cold reader fetches first: 32 bytes a bucket fingerprint, statistics as UTF-8 JSON
decoded only when a filtered search or a compaction reads them, and indexes written in format 1 (numpy
unicode, 4 bytes a character) read back to the same index."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

import vectree
from vectree.errors import CorruptionError
from vectree.format.object_keys import index_key
from vectree.index.index import Index

N, DIM = 6000, 16


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[vectree.Collection, Index, bytes, np.ndarray]:
    rng = np.random.default_rng(3)
    cluster = rng.integers(0, 60, N)
    x = (rng.normal(size=(60, DIM))[cluster] * 4 + rng.normal(size=(N, DIM)) * 0.3).astype(np.float32)
    col = vectree.create_collection(str(tmp_path_factory.mktemp("c")), dim=DIM, bucket_size=50)
    # a cluster's rows share a year: most buckets hold one or two years, which their statistics say
    col.add(x, ids=np.arange(N), metadata=[{"year": 2000 + int(c % 20), "tag": "t" + str(c % 3)} for c in cluster])
    col.build()
    data = col.store.get(index_key(col.manifest.index))
    return col, Index.from_bytes(data), data, x


def _as_format_1(data: bytes) -> bytes:
    """The same index as format 1 wrote it: fingerprints, settings and statistics as numpy unicode."""
    z = np.load(io.BytesIO(data), allow_pickle=False)
    arrays = {name: z[name] for name in z.files}
    arrays["format"] = np.array(1)
    fps = arrays["bucket_fingerprints"]
    arrays["bucket_fingerprints"] = np.array(["" if not row.any() else row.tobytes().hex() for row in fps], dtype="U64")
    for name in ("settings", "bucket_stats"):
        arrays[name] = np.array(arrays[name].tobytes().decode())
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def test_fingerprints_take_32_bytes_a_bucket_and_texts_one_byte_a_character(built) -> None:  # noqa: ANN001
    _, index, data, _ = built
    z = np.load(io.BytesIO(data), allow_pickle=False)
    assert index.n_buckets > 100
    assert z["bucket_fingerprints"].nbytes == 32 * index.n_buckets
    stats = json.loads(z["bucket_stats"].tobytes())  # UTF-8 bytes, not a 4-byte-a-character numpy string
    assert len(stats["buckets"]) == index.n_buckets
    older = _as_format_1(data)
    # the same content in format 1: every per-bucket text 4-8x larger
    assert len(data) < 0.6 * len(older), (len(data), len(older))


def test_a_format_1_index_reads_as_the_same_index(built) -> None:  # noqa: ANN001
    _, index, data, _ = built
    old = Index.from_bytes(_as_format_1(data))
    assert old.bucket_fingerprints == index.bucket_fingerprints
    assert "" not in index.bucket_fingerprints[:1] and all(len(f) in (0, 64) for f in index.bucket_fingerprints)
    assert old.settings == index.settings
    assert list(old.bucket_stats) == list(index.bucket_stats)
    assert old.bucket_spans == index.bucket_spans
    q = np.random.default_rng(0).normal(size=(5, DIM)).astype(np.float32)
    assert np.array_equal(old.probe(q, 4), index.probe(q, 4))


def test_statistics_are_decoded_only_when_read(built) -> None:  # noqa: ANN001
    """Damaged statistics leave routing and unfiltered reads working and fail only what reads them."""
    _, index, data, _ = built
    z = np.load(io.BytesIO(data), allow_pickle=False)
    arrays = {name: z[name] for name in z.files}
    text = arrays["bucket_stats"].tobytes()
    arrays["bucket_stats"] = np.frombuffer(text[: len(text) // 2], np.uint8)  # cut mid-JSON
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    damaged = Index.from_bytes(buf.getvalue())
    q = np.random.default_rng(1).normal(size=(3, DIM)).astype(np.float32)
    assert np.array_equal(damaged.probe(q, 3), index.probe(q, 3))
    assert len(damaged.bucket_stats) == index.n_buckets
    with pytest.raises(CorruptionError, match="statistics"):
        damaged.bucket_stats[0]


def test_filtered_search_and_compaction_read_the_stored_statistics(built) -> None:  # noqa: ANN001
    col, index, _, x = built
    q = x[:4]
    fresh = vectree.open_collection(col.url)  # a fresh cache: every fetch is counted
    exact = fresh.search(q, k=5, exact=True, where={"year": 2003}, include_metadata=True)
    assert (exact.ids >= 0).all() and all(m["year"] == 2003 for per in exact.metadata for m in per)
    # the statistics rule out the buckets without a 2003 row: a fraction of them fetched
    assert 0 < fresh._snap.cache.fetches < 0.3 * sum(1 for fp in index.bucket_fingerprints if fp)
    # a compaction keeps the statistics of the buckets it does not rewrite, from the stored text
    col.add(x[:200] + 0.01, ids=np.arange(N, N + 200), metadata=[{"year": 1990, "tag": "new"}] * 200)
    col.compact()
    after = Index.from_bytes(col.store.get(index_key(col.manifest.index)))
    kept = {fp: st for fp, st in zip(index.bucket_fingerprints, index.bucket_stats) if fp}
    same = [fp for fp in after.bucket_fingerprints if fp in kept]
    assert same, "the compaction rewrote every bucket"
    for fp, st in zip(after.bucket_fingerprints, after.bucket_stats):
        if fp in kept:
            assert st == kept[fp]
    assert set(col.search(x[:3], k=3, exact=True, where={"year": 1990}).ids.ravel()) <= set(range(N, N + 200))
