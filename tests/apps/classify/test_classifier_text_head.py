"""Given texts, the default classifier adds a linear head on their sparse TF-IDF, mixes it with the neighbour vote
and the head on vectors (weights chosen on held-out training rows), and saves it pickle-free with the collection."""

from __future__ import annotations

import io

import numpy as np
import pytest

from vectree.apps import DocumentClassifier
from vectree.apps.classify.mixture import MIN_VOTE, TEXT_HEAD_ATTACHMENT
from vectree.embed import StaticEmbedder
from vectree.errors import InvalidInputError


@pytest.fixture(scope="module")
def news(newsgroups):
    def split(name):
        return [r["text"] for r in newsgroups[name]], [r["label"] for r in newsgroups[name]]

    return split("train"), split("test")


@pytest.fixture(scope="module")
def fitted(news, tmp_path_factory):
    (texts, labels), _ = news
    url = str(tmp_path_factory.mktemp("text-head") / "news")
    return DocumentClassifier(StaticEmbedder(), collection=url, bucket_size=50).fit(texts, labels)


def accuracy(clf, texts, labels):
    return float(np.mean(clf.predict(texts) == np.array(labels, dtype=object)))


def test_texts_give_a_tfidf_head_in_a_mixture_chosen_on_held_out_rows(fitted, news):
    (texts, labels), (test, test_labels) = news
    assert fitted.text_head_ is not None and len(fitted.mixture_scores_) == 190  # (vote, vectors, text) tuples
    w = fitted.mixture_
    assert w["vote"] >= MIN_VOTE  # the neighbours always count
    assert set(w) == {"vote", "vectors", "text"} and sum(w.values()) == pytest.approx(1.0)
    chosen = (w["vote"], w["vectors"], w["text"])
    assert fitted.mixture_scores_[chosen] == max(fitted.mixture_scores_.values())
    proba = fitted.predict_proba(test)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    # on these posts the 64-d static vectors lose much of the words: the text head is what carries the accuracy
    vote_alone = DocumentClassifier(StaticEmbedder(), head=None, bucket_size=50).fit(texts, labels)
    vectors_only = DocumentClassifier(StaticEmbedder(), text_head=None, bucket_size=50).fit(texts, labels)
    assert vectors_only.text_head_ is None and vectors_only.mixture_["text"] == 0.0
    acc = accuracy(fitted, test, test_labels)
    assert acc > accuracy(vectors_only, test, test_labels) and acc > accuracy(vote_alone, test, test_labels)
    assert acc > 0.85  # four groups: chance is 0.25


def test_the_text_head_reopens_from_a_pickle_free_attachment(fitted, news):
    _, (test, _) = news
    again = DocumentClassifier.open(fitted.collection_.url)
    assert again.mixture_ == fitted.mixture_ and again.text_head_ is not None
    np.testing.assert_allclose(again.predict_proba(test), fitted.predict_proba(test))
    with np.load(io.BytesIO(fitted.collection_.get_attachment(TEXT_HEAD_ATTACHMENT)), allow_pickle=False) as z:
        assert z["coef"].dtype == np.float16 and len(z["vocabulary"]) == z["coef"].shape[1]


def test_fitting_on_vectors_with_their_texts_is_fitting_on_the_texts(fitted, news):
    (texts, labels), (test, _) = news
    emb = StaticEmbedder()
    clf = DocumentClassifier(emb, bucket_size=50).fit_embeddings(emb.encode(texts), labels, texts=texts)
    assert clf.mixture_ == fitted.mixture_
    got = clf.predict_proba_embeddings(emb.encode(test), texts=test)
    np.testing.assert_allclose(got, fitted.predict_proba(test), atol=1e-4)  # the fitted temperatures: to ~1e-6


def test_vectors_without_their_texts_are_a_clear_error_when_the_text_head_votes(fitted, news):
    _, (test, _) = news
    if fitted.mixture_["text"] == 0:
        pytest.fail("the text head was given no weight: this test needs one")
    with pytest.raises(InvalidInputError, match="text head"):
        fitted.predict_proba_embeddings(StaticEmbedder().encode(test[:3]))
    with pytest.raises(InvalidInputError, match="3 texts for 2 vectors"):
        fitted.predict_proba_embeddings(StaticEmbedder().encode(test[:2]), texts=test[:3])
    # a filter keeps the heads out: the vote alone needs no text
    assert fitted.predict_proba(test[:3], where={"label": "sci.space"}).shape == (3, 4)


def test_a_blend_given_splits_the_heads_weight_evenly(news):
    (texts, labels), _ = news
    clf = DocumentClassifier(StaticEmbedder(), blend=0.6, bucket_size=50).fit(texts[:200], labels[:200])
    assert clf.mixture_ == pytest.approx({"vote": 0.4, "vectors": 0.3, "text": 0.3})
    assert not hasattr(clf, "mixture_scores_")
    with pytest.raises(InvalidInputError, match="text_head must be"):
        DocumentClassifier(StaticEmbedder(), text_head="bm25").fit(texts[:20], labels[:20])
