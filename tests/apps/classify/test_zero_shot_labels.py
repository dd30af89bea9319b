"""Classifiers for free: label propagation from a few labelled rows, and class descriptions with no labels."""

from __future__ import annotations

import numpy as np
import pytest

import vectree
from vectree.apps import ZeroShotClassifier, propagate_labels
from vectree.embed import SentenceEncoder
from vectree.errors import InvalidInputError


def test_five_percent_labels_propagate_to_the_rest(arxiv_vectors):
    x, y = arxiv_vectors["vectors"], np.array(arxiv_vectors["labels"], dtype=object)
    rng = np.random.default_rng(0)
    known = rng.random(len(y)) < 0.05
    col = vectree.create_collection("memory://zero-shot-propagation", dim=384, metric="cosine", bucket_size=300)
    col.add(x, ids=np.arange(len(y)), labels=[v if k else None for v, k in zip(y, known)])
    col.build()
    res = propagate_labels(col, n_neighbors=10, probes=4)
    order = np.argsort(res.ids)
    pred, labelled = res.labels[order], res.labelled[order]
    assert (labelled == known).all() and (pred[known] == y[known]).all()
    assert np.mean(pred[~known] == y[~known]) > 0.85
    np.testing.assert_allclose(res.proba.sum(axis=1), 1.0)


def test_propagation_needs_some_labels():
    col = vectree.create_collection("memory://zero-shot-nolabels", dim=2, metric="l2")
    col.add(np.eye(2, dtype=np.float32))
    with pytest.raises(InvalidInputError, match="no row"):
        propagate_labels(col)


def test_class_descriptions_classify_without_labels(arxiv_vectors):
    zs = ZeroShotClassifier(
        SentenceEncoder(),
        {
            "cs.CV": "computer vision: images, video, object detection, segmentation",
            "cs.CL": "natural language processing: text, language models, translation",
            "astro-ph.GA": "astrophysics of galaxies: stars, dark matter, galaxy formation",
        },
        template="A research paper about {}.",
    ).fit()
    y = np.array(arxiv_vectors["labels"], dtype=object)
    pred = zs.predict_embeddings(arxiv_vectors["vectors"])
    assert np.mean(pred == y) > 0.7  # chance is about 0.33
    assert zs.predict_proba_embeddings(arxiv_vectors["vectors"][:5]).shape == (5, 3)
