"""An int8-coded collection written before code spans (tests/data/collection-int8-before-code-spans, made by
tests/data/make_collection_int8_before_code_spans.py on main 1c67cf8) opens, answers as it did with whole
bucket reads even through a small cache, verifies clean, and its compacted buckets get code spans."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

import vectree
from vectree.format.codespans import CodeSpan

DATA = Path(__file__).resolve().parents[1] / "data"
OLD = DATA / "collection-int8-before-code-spans"


def test_an_old_int8_collection_answers_as_it_did(tmp_path):
    expected = np.load(DATA / "collection-int8-before-code-spans.expected.npz")
    root = tmp_path / "old"
    shutil.copytree(OLD, root)
    for cache_bytes in (1 << 30, 20_000):  # all resident, and a cache far smaller than the collection
        col = vectree.open_collection(root, cache_bytes=cache_bytes)
        assert col._snap.index.bucket_spans is not None and not col._snap.cache.code_spans
        got = col.search(expected["queries"], k=5, probes=3, method="quantized")
        assert "two_phase" not in got.stats  # read whole, as before
        np.testing.assert_array_equal(got.ids, expected["probe3_ids"])
        np.testing.assert_array_equal(got.distances, expected["probe3_distances"])
        exact = col.search(expected["queries"], k=5, exact=True, method="compiled")
        np.testing.assert_array_equal(exact.ids, expected["exact_ids"])
        np.testing.assert_allclose(exact.distances, expected["exact_distances"], rtol=1e-6)
    assert col.verify().ok
    col.delete(np.arange(0, 400, 2), missing_ok=True)  # (250 was deleted before)
    col.compact()  # rewritten buckets take the new layout
    spans = vectree.open_collection(root)._snap.index.bucket_spans
    assert any(isinstance(s, CodeSpan) for s in spans)
    small = vectree.open_collection(root, cache_bytes=20_000)
    got = small.search(expected["queries"], k=5, exact=True)
    want = vectree.open_collection(root).search(expected["queries"], k=5, exact=True, method="compiled")
    np.testing.assert_array_equal(got.ids, want.ids)
    assert small.verify().ok
