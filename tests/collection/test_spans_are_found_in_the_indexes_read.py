"""A cache finds each bucket's span in the indexes it has read, made when a query first asks for it, and
holds those indexes weakly: a reader moving through many versions does not keep every old index alive."""

from __future__ import annotations

import gc

import numpy as np

import vectree
from vectree.collection.spanmap import SpanMap
from vectree.format.codespans import StoredSpans
from vectree.format.object_keys import index_key
from vectree.index.index import Index


def _collection(
    root: str, n: int = 3000, dim: int = 8, codes: str | None = None
) -> tuple[vectree.Collection, np.ndarray]:
    x = np.random.default_rng(5).normal(size=(n, dim)).astype(np.float32)
    col = vectree.create_collection(root, dim=dim, bucket_size=60, codes=codes)
    col.add(x, ids=np.arange(n))
    col.build()
    return col, x


def _index(col: vectree.Collection) -> Index:
    return Index.from_bytes(col.store.get(index_key(col.manifest.index)))


def test_every_bucket_span_is_found_and_equals_the_index_record(tmp_path) -> None:
    col, _ = _collection(str(tmp_path / "c"))
    index = _index(col)
    columns, codes = SpanMap(StoredSpans.COLUMN), SpanMap(StoredSpans.CODE)
    columns.add(index, dim=8)
    codes.add(index, dim=8)
    assert columns and not codes  # no codes in this collection: the code map stays empty
    for b, fp in enumerate(index.bucket_fingerprints):
        if fp:
            assert columns[fp] == (index.bucket_spans[b], int(index.bucket_rows[b]), 8)
            assert fp not in codes
    assert "0" * 64 not in columns


def test_code_spans_are_found_in_a_coded_collection(tmp_path) -> None:
    col, _ = _collection(str(tmp_path / "c"), codes="int8")
    index = _index(col)
    codes = SpanMap(StoredSpans.CODE)
    codes.add(index, dim=8)
    fps = [fp for fp in index.bucket_fingerprints if fp]
    assert fps and all(codes[fp][0].code_width == 8 for fp in fps)


def test_an_index_no_one_holds_is_let_go_and_the_spans_asked_for_stay(tmp_path) -> None:
    col, x = _collection(str(tmp_path / "c"))
    old = _index(col)
    columns = SpanMap(StoredSpans.COLUMN)
    columns.add(old, dim=8)
    asked, unasked = [fp for fp in old.bucket_fingerprints if fp][:2]
    assert asked in columns
    col.add(x[:500] + 0.01, ids=np.arange(10_000, 10_500))
    col.compact()  # a new version: new buckets beside most of the old ones
    new = _index(col)
    columns.add(new, dim=8)
    fresh = [fp for fp in new.bucket_fingerprints if fp and fp not in set(old.bucket_fingerprints)]
    assert fresh and all(fp in columns for fp in fresh)
    del old, new
    gc.collect()
    assert asked in columns  # made while its index lived: fingerprints name immutable files
    assert unasked not in columns and not columns._sources  # both indexes let go
    # a reader through the same versions answers as a fresh one, its spans found as it goes
    reader = vectree.open_collection(str(tmp_path / "c"))
    got = reader.search(x[:20], k=5, probes=4)
    np.testing.assert_array_equal(
        got.ids, vectree.open_collection(str(tmp_path / "c")).search(x[:20], k=5, probes=4).ids
    )
