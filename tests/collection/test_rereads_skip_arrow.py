"""A bucket read again after eviction (same file) is read at its recorded offsets, without Arrow or a hash.

A replaced file is decoded and checked again: ``test_corruption_is_detected.py``.
"""

import numpy as np

import vectree
import vectree.collection.cache as cache


def test_rereads_give_the_same_answer_without_decoding(arxiv_root, arxiv_sample, monkeypatch):
    col = vectree.open_collection(arxiv_root, cache_bytes=1)  # nothing stays cached: every search reads the files
    q = arxiv_sample["vectors"][3000:3020]
    first = col.search(q, k=10, probes=6)
    assert first.ids.max() > 0 and (first.ids % 7 == 0).all()

    def refuse(*args, **kwargs):  # noqa: ANN002, ANN003
        raise AssertionError("a bucket already read was decoded with Arrow again")

    monkeypatch.setattr(cache, "decode_rows_with_layout", refuse)
    again = col.search(q, k=10, probes=6)
    np.testing.assert_array_equal(again.ids, first.ids)
    np.testing.assert_array_equal(again.distances, first.distances)
