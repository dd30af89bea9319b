"""Learning curves: quality against training-set size, as a table and a PNG, with a "more data?" verdict."""

import pytest
from sklearn.datasets import load_digits
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

from vectree.errors import InvalidInputError
from vectree.experiments.data import learning_curve


def test_cv_curve_on_digits(tmp_path):
    X, y = load_digits(return_X_y=True)
    lc = learning_curve(LogisticRegression(max_iter=300), X / 16.0, y, train_sizes=(0.05, 0.1, 0.3, 1.0), cv=3)
    assert lc.method == "cv" and len(lc.sizes) == 4 and lc.sizes == sorted(lc.sizes)
    assert lc.val_mean[-1] > lc.val_mean[0] + 0.05  # more data helped a lot at the start
    assert 0.9 < lc.val_mean[-1] <= 1.0
    text = lc.to_markdown()
    assert "| training rows |" in text and f"{lc.sizes[-1]:,}" in text
    png = lc.plot(tmp_path / "lc.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_holdout_curve_and_flat_verdict():
    X, y = load_digits(return_X_y=True)
    lc = learning_curve(
        DummyClassifier(strategy="prior"),
        X[:1200],
        y[:1200],
        validation=(X[1200:], y[1200:]),
        train_sizes=(100, 400, 1200),
        repeats=2,
    )
    assert lc.method == "holdout" and lc.sizes == [100, 400, 1200]
    assert not lc.more_data_helps and "flattened" in lc.verdict
    growing = learning_curve(
        LogisticRegression(max_iter=300),
        X[:1200] / 16.0,
        y[:1200],
        validation=(X[1200:] / 16.0, y[1200:]),
        train_sizes=(30, 60),
        repeats=2,
    )
    assert growing.more_data_helps and growing.verdict.startswith("more data still helps")
    assert growing.as_dict()["more_data_helps"] is True


def test_bad_arguments_raise():
    X, y = load_digits(return_X_y=True)
    with pytest.raises(InvalidInputError):
        learning_curve(DummyClassifier(), X[:3], y[:3])
    with pytest.raises(InvalidInputError):
        learning_curve(DummyClassifier(), X, y, scoring="not-a-metric")
