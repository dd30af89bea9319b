"""A fitted classifier is reopened from its collection URL alone, with the embedder that built it."""

from __future__ import annotations

import numpy as np
import pytest

from vectree.apps import DocumentClassifier
from vectree.collection.plan import DEFAULT_PROBES
from vectree.embed import EmbedderMismatchError, StaticEmbedder, Word2VecEmbedder


def test_reopened_classifier_predicts_the_same(newsgroups, tmp_path):
    train, test = newsgroups["train"][:300], [r["text"] for r in newsgroups["test"][:60]]
    url = str(tmp_path / "c")
    clf = DocumentClassifier(StaticEmbedder(), collection=url, n_neighbors=7, probes=3, bucket_size=40)
    clf.fit([r["text"] for r in train], [r["label"] for r in train])
    again = DocumentClassifier.open(url)
    assert again.n_neighbors == 7 and again.probes == 3 and isinstance(again.embedder, StaticEmbedder)
    assert list(again.classes_) == list(clf.classes_)
    np.testing.assert_allclose(again.predict_proba(test), clf.predict_proba(test))
    assert DocumentClassifier.open(url, exact=True).exact and not again.exact


def test_other_embedder_at_query_time_is_a_clear_error(newsgroups, tmp_path):
    texts = [r["text"] for r in newsgroups["train"][:200]]
    labels = [r["label"] for r in newsgroups["train"][:200]]
    url = str(tmp_path / "w2v")
    DocumentClassifier(Word2VecEmbedder(vector_size=64, epochs=1, min_count=2, workers=1), collection=url).fit(
        texts, labels
    )
    assert isinstance(DocumentClassifier.open(url).embedder, Word2VecEmbedder)
    with pytest.raises(EmbedderMismatchError, match="config hash"):
        DocumentClassifier.open(url, embedder=StaticEmbedder())


def test_a_classifier_saved_with_probes_exact_reopens_as_exact_search(newsgroups, tmp_path):
    """Classifiers fitted before ``exact=`` recorded exact search as ``"probes": "exact"``: they reopen exact."""
    import json

    from vectree.apps.classify.classifier import CONFIG_ATTACHMENT

    train = newsgroups["train"][:120]
    url = str(tmp_path / "c")
    clf = DocumentClassifier(StaticEmbedder(), collection=url, n_neighbors=3, exact=True, bucket_size=20)
    clf.fit([r["text"] for r in train], [r["label"] for r in train])
    col = clf.collection_
    config = json.loads(col.get_attachment(CONFIG_ATTACHMENT))
    del config["exact"]
    config["probes"] = "exact"
    col.put_attachment(CONFIG_ATTACHMENT, json.dumps(config).encode())
    again = DocumentClassifier.open(url)
    assert again.exact and again.probes == DEFAULT_PROBES
    texts = [r["text"] for r in newsgroups["test"][:20]]
    np.testing.assert_allclose(again.predict_proba(texts), clf.predict_proba(texts))
