"""A bucket read again after eviction (same file) is read at its recorded offsets, without Arrow or a hash.

A replaced file is decoded and checked again: ``test_corruption_is_detected.py``.
"""

import numpy as np
import pytest

import vectree
import vectree.collection.snapshot as snapshot


@pytest.fixture()
def root(tmp_path, arxiv_sample):
    col = vectree.create_collection(tmp_path / "c", dim=384, metric="cosine", bucket_size=200)
    col.add(arxiv_sample["vectors"][:3000], ids=np.arange(3000) * 7)
    col.build()
    return tmp_path / "c"


def test_rereads_give_the_same_answer_without_decoding(root, arxiv_sample, monkeypatch):
    col = vectree.open_collection(root, cache_bytes=1)  # nothing stays cached: every search reads the files
    q = arxiv_sample["vectors"][3000:3020]
    first = col.search(q, k=10, probes=6)
    assert first.ids.max() > 0 and (first.ids % 7 == 0).all()

    def refuse(*args, **kwargs):  # noqa: ANN002, ANN003
        raise AssertionError("a bucket already read was decoded with Arrow again")

    monkeypatch.setattr(snapshot, "decode_rows_with_layout", refuse)
    again = col.search(q, k=10, probes=6)
    np.testing.assert_array_equal(again.ids, first.ids)
    np.testing.assert_array_equal(again.distances, first.distances)

