"""Fit on the shared precomputed MiniLM vectors, then classify new text embedded live by the same model."""

from __future__ import annotations

from vectree.apps import DocumentClassifier
from vectree.embed import SentenceEncoder


def test_precomputed_vectors_and_live_queries_agree(arxiv_vectors):
    x, y, texts = arxiv_vectors["vectors"], arxiv_vectors["labels"], arxiv_vectors["texts"]
    clf = DocumentClassifier(SentenceEncoder(), n_neighbors=10, probes=5, bucket_size=200)
    clf.fit_embeddings(x[:2800], y[:2800])
    assert clf.score(texts[2800:2806], y[2800:2806]) >= 4 / 6  # live MiniLM encoding of held-out rows
    pred = clf.predict_embeddings(x[2800:])
    assert (pred == y[2800:]).mean() > 0.85
    assert list(
        clf.predict(
            ["Galaxy rotation curves in the outer halo", "A vision transformer for semantic segmentation of images"]
        )
    ) == ["astro-ph.GA", "cs.CV"]
