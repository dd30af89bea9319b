"""DocumentClassifier is a real scikit-learn estimator: sklearn's own estimator checks pass on vectors (under
l2 and under cosine, where an all-zero row is at distance 1 from every row, sklearn's convention), fit leaves its
constructor arguments untouched, and clone / get_params / grid search work on real data (the repo's demo
sample of arXiv MiniLM vectors)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import parametrize_with_checks

from vectree.apps import DocumentClassifier
from vectree.apps.classify.classifier import NotFittedClassifierError
from vectree.embed import Word2VecEmbedder
from vectree.errors import InvalidInputError


@parametrize_with_checks(
    [
        DocumentClassifier(n_neighbors=3, exact=True, metric="l2", head=None),
        DocumentClassifier(n_neighbors=3, exact=True, head=None),  # cosine: check_estimators_dtypes has zero rows
        DocumentClassifier(n_neighbors=3, exact=True),  # the default: cosine, vote + linear head
    ]
)
def test_sklearn_estimator_checks(estimator, check):
    # every check that applies runs; the only one sklearn skips itself is check_array_api_input
    # (it needs SCIPY_ARRAY_API=1 and array-api-strict, and the classifier works on numpy arrays)
    check(estimator)


@pytest.fixture(scope="module")
def demo(arxiv_sample):
    """The demo sample's three largest arXiv categories (2,900 rows, MiniLM vectors), in the file's order."""
    keep = [i for i, c in enumerate(arxiv_sample["categories"]) if c in ("cs.CV", "cs.CL", "astro-ph.GA")]
    return {
        "vectors": arxiv_sample["vectors"][keep],
        "labels": [arxiv_sample["categories"][i] for i in keep],
        "titles": [arxiv_sample["titles"][i] for i in keep],
    }


def test_an_all_zero_row_under_cosine_votes_the_class_frequencies_and_is_not_a_neighbour(demo):
    x, y = demo["vectors"][:1200].copy(), np.array(demo["labels"][:1200], dtype=object)
    x[:5] = 0.0  # five training rows with no direction, labelled astro-ph.GA
    y[:5] = "astro-ph.GA"
    clf = DocumentClassifier(n_neighbors=10, exact=True, head=None).fit(x, y)
    assert len(clf.collection_) == 1195 and list(clf.classes_) == ["astro-ph.GA", "cs.CL", "cs.CV"]
    freq = np.array([np.mean(y == c) for c in clf.classes_])
    assert np.allclose(clf.predict_proba(np.zeros((2, 384), np.float32)), freq)
    assert clf.predict(np.zeros((1, 384), np.float32))[0] == "cs.CV"  # the most frequent class
    queries = demo["vectors"][1200:1500]
    got = clf.collection_.search(queries, k=10, exact=True).ids
    assert not np.isin(got, np.arange(5)).any()
    assert float(np.mean(clf.predict(queries) == np.array(demo["labels"][1200:1500], dtype=object))) > 0.9
    with pytest.raises(InvalidInputError, match="every training row is all zeros"):
        DocumentClassifier().fit(np.zeros((4, 384), np.float32), ["a", "b", "a", "b"])
    assert DocumentClassifier(metric="l2", n_neighbors=1, head=None).fit(np.zeros((2, 3)), [0, 1]).predict(
        [[0.0, 0, 0]]
    ) == [0]


def test_fit_does_not_touch_the_unfitted_embedder_it_was_given(demo):
    w2v = Word2VecEmbedder(vector_size=32, epochs=2, min_count=2, workers=1)
    clf = DocumentClassifier(w2v, n_neighbors=5, exact=True)
    texts, labels = demo["titles"][:300], demo["labels"][:300]
    params = clf.get_params()
    clf.fit(texts, labels)
    assert not hasattr(w2v, "vectors_"), "the embedder passed in must stay unfitted"
    assert hasattr(clf.embedder_, "vectors_") and clf.embedder_ is not w2v
    assert clf.get_params() == params and clf.collection is None
    again = clone(clf)
    assert again.get_params()["embedder"] is not w2v and not hasattr(again, "classes_")


def test_grid_search_over_neighbours_on_real_vectors(demo):
    x, y = demo["vectors"][:900], np.array(demo["labels"][:900])
    search = GridSearchCV(DocumentClassifier(exact=True), {"n_neighbors": [1, 15]}, cv=3).fit(x, y)
    assert set(search.cv_results_["param_n_neighbors"]) == {1, 15}
    assert search.best_score_ > 0.85 and search.best_estimator_.n_features_in_ == 384


def test_errors_are_invalid_input_with_sklearn_types(demo):
    x, y = demo["vectors"][:50], demo["labels"][:50]
    with pytest.raises(NotFittedClassifierError, match="not fitted"):
        DocumentClassifier().predict(x)
    clf = DocumentClassifier(n_neighbors=3).fit(x, y)
    with pytest.raises(InvalidInputError, match="X has 10 features, but DocumentClassifier is expecting 384"):
        clf.predict(x[:, :10])
    with pytest.raises(InvalidInputError, match="requires y"):
        DocumentClassifier().fit(x, None)


def test_linear_head_mixed_with_the_vote_is_chosen_on_held_out_rows_and_reopens(demo, tmp_path):
    x, y = demo["vectors"], np.array(demo["labels"], dtype=object)
    url = str(tmp_path / "clf")
    clf = DocumentClassifier(n_neighbors=10, exact=True, head="logistic", collection=url).fit(x[:2000], y[:2000])
    assert 0.0 <= clf.blend_ <= 1.0 and len(clf.mixture_scores_) == 19  # (vote, head) weights, vote >= 0.10
    assert clf.mixture_["text"] == 0.0 and clf.text_head_ is None
    # the chosen weight is the best on the held-out rows, so it is never worse there than the vote alone
    chosen = (clf.mixture_["vote"], clf.mixture_["vectors"])
    assert clf.mixture_scores_[chosen] == max(clf.mixture_scores_.values()) >= clf.mixture_scores_[(1.0, 0.0)]
    proba = clf.predict_proba(x[2000:])
    assert np.allclose(proba.sum(1), 1.0) and (proba >= 0).all()
    acc = float(np.mean(clf.predict(x[2000:]) == y[2000:]))
    knn_only = DocumentClassifier(n_neighbors=10, exact=True, head=None).fit(x[:2000], y[:2000])
    assert acc >= float(np.mean(knn_only.predict(x[2000:]) == y[2000:])) - 0.01 and acc > 0.9
    again = DocumentClassifier.open(url)
    assert again.blend_ == clf.blend_ and np.allclose(again.predict_proba(x[2000:]), proba)
