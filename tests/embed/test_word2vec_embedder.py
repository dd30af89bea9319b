"""Word2vec document embeddings: trained on real abstracts, normalised, saved and reloaded bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from vectree.embed import Word2VecEmbedder, from_bytes, tokenize
from vectree.errors import InvalidInputError


@pytest.fixture(scope="module")
def cbow(arxiv_texts):
    return Word2VecEmbedder(vector_size=32, epochs=3, min_count=2, workers=1).fit(arxiv_texts)


def test_tokenizer_rule():
    assert tokenize("Don't-stop: GPT-4o beats 3.5!") == ["don't-stop", "gpt-4o", "beats", "3", "5"]


def test_encodes_unit_rows_of_dim(cbow, arxiv_texts):
    x = cbow.encode(arxiv_texts[:50])
    assert x.shape == (50, 32) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)


def test_text_without_known_words_gets_a_unit_vector_not_zeros(cbow):
    x = cbow.encode(["", "qqqzzz xxyyz"])
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)


def test_one_worker_training_is_repeatable(cbow, arxiv_texts):
    again = Word2VecEmbedder(vector_size=32, epochs=3, min_count=2, workers=1).fit(arxiv_texts)
    assert again.config_hash() == cbow.config_hash()


def test_round_trip_keeps_params_vectors_and_fingerprint(cbow, arxiv_texts):
    again = from_bytes(cbow.to_bytes())
    assert isinstance(again, Word2VecEmbedder)
    assert again.get_params() == cbow.get_params()
    assert again.config_hash() == cbow.config_hash()
    np.testing.assert_array_equal(again.encode(arxiv_texts[:20]), cbow.encode(arxiv_texts[:20]))


def test_skipgram_and_mean_weighting_are_different_embedders(cbow, arxiv_texts):
    sg = Word2VecEmbedder(vector_size=32, epochs=1, min_count=2, sg=1, workers=1).fit(arxiv_texts[:100])
    assert sg.name.startswith("word2vec-sg") and sg.config_hash() != cbow.config_hash()
    mean = from_bytes(cbow.to_bytes())
    mean.weighting = "mean"  # a changed parameter changes the config hash, with no refit
    assert mean.config_hash() != cbow.config_hash()
    assert not np.allclose(mean.encode(arxiv_texts[:5]), cbow.encode(arxiv_texts[:5]))


def test_unfitted_and_bad_params_are_refused():
    with pytest.raises(InvalidInputError, match="not fitted"):
        Word2VecEmbedder().encode(["text"])
    with pytest.raises(InvalidInputError, match="weighting"):
        Word2VecEmbedder(weighting="max").fit(["a b c"])
    with pytest.raises(InvalidInputError, match="min_count"):
        Word2VecEmbedder(min_count=50).fit(["a b c"])
