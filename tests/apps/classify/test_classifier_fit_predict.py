"""DocumentClassifier: fit streams texts into a collection, predicts like a scikit-learn estimator."""

from __future__ import annotations

import numpy as np
import pytest

import vectree
from vectree.apps import DocumentClassifier
from vectree.embed import StaticEmbedder
from vectree.errors import InvalidInputError


@pytest.fixture(scope="module")
def fitted(newsgroups, tmp_path_factory):
    url = str(tmp_path_factory.mktemp("clf") / "news")
    train = newsgroups["train"]
    clf = DocumentClassifier(StaticEmbedder(), collection=url, n_neighbors=10, probes=4, bucket_size=50, batch_size=128)
    # lazy iterables: the training set is never materialised by fit
    return clf.fit((r["text"] for r in train), (r["label"] for r in train))


def test_fit_streams_every_row_into_an_indexed_collection(fitted, newsgroups):
    col = vectree.open_collection(fitted.collection_.url)
    assert len(col) == 600
    assert col.stats()["buckets"] >= 8 and col.stats()["tail_rows"] == 0
    assert list(fitted.classes_) == sorted({r["label"] for r in newsgroups["train"]})


def test_predict_proba_predict_and_score_agree(fitted, newsgroups):
    texts = [r["text"] for r in newsgroups["test"]]
    labels = [r["label"] for r in newsgroups["test"]]
    proba = fitted.predict_proba(texts)
    assert proba.shape == (200, 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    pred = fitted.predict(texts)
    assert list(pred) == list(fitted.classes_[proba.argmax(axis=1)])
    acc = fitted.score(texts, labels)
    assert acc == pytest.approx(np.mean(pred == np.array(labels, dtype=object)))
    assert acc > 0.55  # four balanced groups: chance is 0.25
    assert fitted.timings_["n"] == 200 and fitted.timings_["embed_s"] > 0


def test_probing_every_bucket_equals_exact_search(fitted, newsgroups):
    texts = [r["text"] for r in newsgroups["test"][:50]]
    n_buckets = fitted.collection_.stats()["buckets"]
    fitted.probes = n_buckets
    all_buckets = fitted.predict_proba(texts)
    fitted.set_params(probes=4, exact=True)
    exact = fitted.predict_proba(texts)
    fitted.exact = False
    np.testing.assert_allclose(all_buckets, exact)


def test_probes_exact_is_refused_with_the_one_spelling(fitted, newsgroups):
    """Exact search is ``exact=True``; ``probes="exact"`` (the old spelling) says so, at fit and at predict."""
    with pytest.raises(InvalidInputError, match="pass exact=True"):
        DocumentClassifier(probes="exact").fit(np.eye(3, dtype=np.float32), ["a", "b", "c"])
    fitted.probes = "exact"
    try:
        with pytest.raises(InvalidInputError, match="pass exact=True"):
            fitted.predict_proba([r["text"] for r in newsgroups["test"][:2]])
    finally:
        fitted.probes = 4


def test_uniform_weights_count_votes(newsgroups):
    train = newsgroups["train"][:100]
    clf = DocumentClassifier(StaticEmbedder(), n_neighbors=5, weights="uniform", exact=True, head=None)
    clf.fit([r["text"] for r in train], [r["label"] for r in train])
    proba = clf.predict_proba([r["text"] for r in newsgroups["test"][:20]])
    assert set(np.round(proba.ravel() * 5, 6)) <= {0.0, 1.0, 2.0, 3.0, 4.0, 5.0}


def test_bad_inputs_are_refused(newsgroups):
    with pytest.raises(InvalidInputError, match="different lengths"):
        DocumentClassifier(StaticEmbedder()).fit(["a", "b", "c"], ["x", "y"])
    with pytest.raises(InvalidInputError, match="n_neighbors"):
        DocumentClassifier(StaticEmbedder(), n_neighbors=0).fit(["a"], ["x"])
    with pytest.raises(InvalidInputError, match="not fitted"):
        DocumentClassifier(StaticEmbedder()).predict(["a"])
    with pytest.raises(InvalidInputError, match="must not be None"):
        DocumentClassifier(StaticEmbedder()).fit(["a", "b"], ["x", None])


def test_where_restricts_the_voting_neighbours(fitted, newsgroups):
    texts = [r["text"] for r in newsgroups["test"][:40]]
    two = list(fitted.classes_[:2])
    proba = fitted.predict_proba(texts, where={"label": {"$in": two}})
    assert np.all(proba[:, 2:] == 0)  # only neighbours labelled with the two classes voted
    assert set(fitted.predict(texts, where={"label": two[0]})) == {two[0]}
    with pytest.raises(InvalidInputError, match="unknown operator"):
        fitted.predict(texts[:1], where={"label": {"$regex": "x"}})
