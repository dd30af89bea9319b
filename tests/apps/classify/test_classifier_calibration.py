"""predict_proba is calibrated by a temperature fitted out of fold: confidence moves toward accuracy, and no
prediction changes."""

from __future__ import annotations

import numpy as np
import pytest

from vectree.apps import DocumentClassifier
from vectree.apps.classify.calibrate import fit_temperature, log_loss, sharpened, softmax
from vectree.embed import StaticEmbedder
from vectree.errors import InvalidInputError


def ece(proba: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error: |accuracy - mean top probability| over equal-width bins of the top probability."""
    top, hit = proba.max(1), proba.argmax(1) == y
    b = np.minimum((top * bins).astype(int), bins - 1)
    return float(sum(abs(hit[b == i].mean() - top[b == i].mean()) * np.mean(b == i) for i in np.unique(b)))


def drawn(rng: np.random.Generator, n: int, temperature: float) -> tuple[np.ndarray, np.ndarray]:
    """Logits of 5 classes and labels drawn from softmax(logits / temperature)."""
    logits = rng.normal(0.0, 3.0, size=(n, 5))
    p = softmax(logits, temperature)
    return logits, (p.cumsum(1) > rng.random((n, 1))).argmax(1)


def test_the_fitted_temperature_is_the_one_labels_were_drawn_at_and_lowers_held_out_ece():
    rng = np.random.default_rng(0)
    logits, y = drawn(rng, 20_000, 2.5)  # softmax(logits) is over-confident: the truth is 2.5 times softer
    t = fit_temperature(logits, y)
    assert t == pytest.approx(2.5, rel=0.08)
    held, y_held = drawn(rng, 5_000, 2.5)
    before, after = softmax(held), softmax(held, t)
    assert ece(after, y_held) < 0.035 < 0.1 < ece(before, y_held)  # 5,000 rows in 15 bins: ~0.02 of noise
    assert log_loss(after, y_held) < log_loss(before, y_held)
    np.testing.assert_array_equal(after.argmax(1), before.argmax(1))
    # on probabilities: the log is taken first, and the order of each row's classes is kept
    mixed = 0.5 * softmax(held) + 0.5 / 5
    np.testing.assert_array_equal(sharpened(mixed, 0.3).argmax(1), mixed.argmax(1))
    np.testing.assert_allclose(sharpened(mixed, 0.3).sum(1), 1.0)
    with pytest.raises(InvalidInputError, match="logits"):
        fit_temperature(logits[:, 0], y)


@pytest.fixture(scope="module")
def news(newsgroups):
    def split(name):
        return [r["text"] for r in newsgroups[name]], [r["label"] for r in newsgroups[name]]

    return split("train"), split("test")


def test_the_classifier_temperature_keeps_predictions_lowers_log_loss_and_reopens(news, tmp_path):
    (texts, labels), (test, test_labels) = news
    url = str(tmp_path / "news")
    clf = DocumentClassifier(StaticEmbedder(), collection=url, bucket_size=50).fit(texts, labels)
    cal = clf.calibration_
    assert clf.temperature_ != 1.0 and cal["log_loss_calibrated"] <= cal["log_loss"]
    assert 0 < cal["text_temperature"] < 1  # the SVM's margins are small: their softmax is sharpened
    proba = clf.predict_proba(test)
    index = {c: i for i, c in enumerate(clf.classes_)}
    y = np.array([index[v] for v in test_labels])
    t, clf.temperature_ = clf.temperature_, 1.0
    raw = clf.predict_proba(test)
    clf.temperature_ = t
    np.testing.assert_array_equal(proba.argmax(1), raw.argmax(1))
    assert log_loss(proba, y) < log_loss(raw, y)  # on posts the temperature was not fitted on
    again = DocumentClassifier.open(url)
    assert again.temperature_ == pytest.approx(t)
    np.testing.assert_allclose(again.predict_proba(test), proba, atol=1e-6)
    # a filter leaves the heads out, and the temperature (fitted for the mixture) with them
    only = clf.predict_proba(test[:5], where={"label": "sci.space"})
    assert np.allclose(only.sum(1), 1.0)
    with pytest.raises(InvalidInputError, match="text_C must be a positive number"):
        DocumentClassifier(StaticEmbedder(), text_C=0).fit(texts[:20], labels[:20])
