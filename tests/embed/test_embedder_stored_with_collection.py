"""A collection remembers its embedder; a different one at query time is a clear error."""

from __future__ import annotations

import json

import pytest

import vectree
from vectree.embed import (
    EmbedderMismatchError,
    StaticEmbedder,
    Word2VecEmbedder,
    attach_embedder,
    check_embedder,
    from_bytes,
    load_embedder,
)
from vectree.embed.base import pack, read_header
from vectree.errors import CorruptionError, InvalidInputError, NotFoundError


@pytest.fixture(scope="module")
def w2v(arxiv_texts):
    return Word2VecEmbedder(vector_size=16, epochs=1, min_count=2, workers=1).fit(arxiv_texts[:150])


def test_stored_embedder_comes_back_and_foreign_one_is_refused(tmp_path, w2v, arxiv_texts):
    col = vectree.create_collection(str(tmp_path / "c"), dim=16, metric="cosine")
    col.add(w2v.encode(arxiv_texts[:30]))
    attach_embedder(col, w2v)
    reopened = vectree.open_collection(str(tmp_path / "c"))
    assert load_embedder(reopened).config_hash() == w2v.config_hash()
    check_embedder(reopened, w2v)  # the same embedder passes
    other = Word2VecEmbedder(vector_size=16, epochs=1, min_count=2, workers=1, seed=7).fit(arxiv_texts[150:300])
    with pytest.raises(EmbedderMismatchError, match="same model"):
        check_embedder(reopened, other)


def test_dim_mismatch_and_missing_embedder(tmp_path, w2v):
    col = vectree.create_collection("memory://embed-dim-mismatch", dim=64, metric="cosine")
    with pytest.raises(InvalidInputError, match="16-d"):
        attach_embedder(col, w2v)
    with pytest.raises(NotFoundError, match="no stored embedder"):
        load_embedder(col)


def test_reference_to_other_weights_fails_to_load():
    emb = StaticEmbedder()
    header = read_header(emb.to_bytes())
    forged = pack(header["kind"], header["params"], "0" * 32)
    with pytest.raises(EmbedderMismatchError, match="weights or package version differ"):
        from_bytes(forged)
    with pytest.raises(CorruptionError):
        from_bytes(b"not a zip")
    assert json.loads(json.dumps(header))["kind"] == "static"
