"""DocumentClassifier is a real scikit-learn estimator: sklearn's own estimator checks pass on vectors,
fit leaves its constructor arguments untouched, and clone / get_params / grid search work on real data."""

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


@parametrize_with_checks([DocumentClassifier(n_neighbors=3, exact=True, metric="l2")])
def test_sklearn_estimator_checks(estimator, check):
    # metric="l2": sklearn's checks feed all-zero rows, which have no direction under the cosine metric
    check(estimator)


def test_fit_does_not_touch_the_unfitted_embedder_it_was_given(newsgroups):
    w2v = Word2VecEmbedder(vector_size=32, epochs=2, min_count=2, workers=1)
    clf = DocumentClassifier(w2v, n_neighbors=5, exact=True)
    rows = newsgroups["train"][:300]
    texts, labels = [r["text"] for r in rows], [r["label"] for r in rows]
    params = clf.get_params()
    clf.fit(texts, labels)
    assert not hasattr(w2v, "vectors_"), "the embedder passed in must stay unfitted"
    assert hasattr(clf.embedder_, "vectors_") and clf.embedder_ is not w2v
    assert clf.get_params() == params and clf.collection is None
    again = clone(clf)
    assert again.get_params()["embedder"] is not w2v and not hasattr(again, "classes_")


def test_grid_search_over_neighbours_on_real_vectors(arxiv_vectors):
    x, y = arxiv_vectors["vectors"][:900], np.array(arxiv_vectors["labels"][:900])
    search = GridSearchCV(DocumentClassifier(exact=True), {"n_neighbors": [1, 15]}, cv=3).fit(x, y)
    assert set(search.cv_results_["param_n_neighbors"]) == {1, 15}
    assert search.best_score_ > 0.85 and search.best_estimator_.n_features_in_ == 384


def test_errors_are_invalid_input_with_sklearn_types(arxiv_vectors):
    x, y = arxiv_vectors["vectors"][:50], arxiv_vectors["labels"][:50]
    with pytest.raises(NotFittedClassifierError, match="not fitted"):
        DocumentClassifier().predict(x)
    clf = DocumentClassifier(n_neighbors=3).fit(x, y)
    with pytest.raises(InvalidInputError, match="X has 10 features, but DocumentClassifier is expecting 384"):
        clf.predict(x[:, :10])
    with pytest.raises(InvalidInputError, match="requires y"):
        DocumentClassifier().fit(x, None)


def test_linear_head_mixed_with_the_vote_is_chosen_on_held_out_rows_and_reopens(arxiv_vectors, tmp_path):
    x, y = arxiv_vectors["vectors"], np.array(arxiv_vectors["labels"], dtype=object)
    url = str(tmp_path / "clf")
    clf = DocumentClassifier(n_neighbors=10, exact=True, head="logistic", collection=url).fit(x[:2400], y[:2400])
    assert 0.0 <= clf.blend_ <= 1.0 and len(clf.blend_scores_) == 21
    # the chosen weight is the best on the held-out rows, so it is never worse there than the vote alone
    assert clf.blend_scores_[clf.blend_] >= clf.blend_scores_[0.0]
    proba = clf.predict_proba(x[2400:])
    assert np.allclose(proba.sum(1), 1.0) and (proba >= 0).all()
    acc = float(np.mean(clf.predict(x[2400:]) == y[2400:]))
    knn_only = DocumentClassifier(n_neighbors=10, exact=True).fit(x[:2400], y[:2400])
    assert acc >= float(np.mean(knn_only.predict(x[2400:]) == y[2400:])) - 0.01 and acc > 0.9
    again = DocumentClassifier.open(url)
    assert again.blend_ == clf.blend_ and np.allclose(again.predict_proba(x[2400:]), proba)
