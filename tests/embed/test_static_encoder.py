"""The static 64-d encoder: unit rows, deterministic, saved by reference."""

from __future__ import annotations

import numpy as np

from vectree.embed import StaticEmbedder, from_bytes


def test_unit_rows_deterministic_and_reloadable(arxiv_texts):
    emb = StaticEmbedder()
    x = emb.encode(arxiv_texts[:100] + [""])
    assert x.shape == (101, 64) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    again = from_bytes(emb.to_bytes())
    assert again.fingerprint() == emb.fingerprint()
    np.testing.assert_array_equal(again.encode(arxiv_texts[:100]), x[:100])
