"""Temperature scaling: one positive number fitted on held-out predictions so that probabilities match accuracy.

``softmax(logits / T)`` keeps the order of each row's classes, so the predicted class never changes; only how
sure the probabilities are. :func:`fit_temperature` picks ``T`` by the log loss of held-out rows (Guo et al.
2017, "On calibration of modern neural networks"). The classifier uses it twice: to turn the text head's margins
into probabilities (:mod:`vectree.apps.classify.text_head`), and on the log of the final mixture
(:mod:`vectree.apps.classify.mixture`), both fitted on out-of-fold predictions of the training rows.

>>> logits = np.array([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0], [2.0, 0.0]])
>>> t = fit_temperature(logits, np.array([0, 1, 0, 1]))  # 3 of 4 right: softer than softmax(logits)
>>> t > 1, softmax(logits, t).argmax(1).tolist() == logits.argmax(1).tolist()
(True, True)
"""

from __future__ import annotations

import numpy as np

from vectree.errors import InvalidInputError

LOG_FLOOR = 1e-12
"""Probabilities are clipped to this before their log is taken (a mixture part may give a class exactly 0)."""


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise ``softmax(logits / temperature)`` (float64).

    >>> softmax(np.array([[0.0, np.log(3.0)]])).round(2).tolist()
    [[0.25, 0.75]]
    """
    z = np.asarray(logits, np.float64) / float(temperature)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def log_loss(proba: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log probability of the true classes ``y`` (class indices).

    >>> round(log_loss(np.array([[0.5, 0.5]]), np.array([0])), 4)
    0.6931
    """
    p = np.asarray(proba)[np.arange(len(y)), np.asarray(y)]
    return float(-np.mean(np.log(np.clip(p, LOG_FLOOR, 1.0))))


def fit_temperature(logits: np.ndarray, y: np.ndarray, lo: float = 1e-3, hi: float = 1e3) -> float:
    """The temperature in ``[lo, hi]`` minimising the log loss of ``softmax(logits / T)`` on rows of classes ``y``.

    A golden-section search over ``log T`` (the loss is unimodal in ``T``); 1.0 when there are no rows."""
    logits, y = np.asarray(logits, np.float64), np.asarray(y)
    if logits.ndim != 2 or len(logits) != len(y):
        raise InvalidInputError(
            f"fit_temperature needs (n, classes) logits and n classes, got {logits.shape}, {y.shape}"
        )
    if len(y) == 0:
        return 1.0

    def loss(log_t: float) -> float:
        return log_loss(softmax(logits, float(np.exp(log_t))), y)

    a, b = float(np.log(lo)), float(np.log(hi))
    g = (np.sqrt(5.0) - 1.0) / 2.0
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = loss(c), loss(d)
    for _ in range(60):  # the interval shrinks by 0.618 each step: 60 steps reach ~1e-12 of log(1e6)
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = loss(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = loss(d)
    return float(np.exp((a + b) / 2.0))


def sharpened(proba: np.ndarray, temperature: float) -> np.ndarray:
    """``proba`` rescaled as ``softmax(log(proba) / temperature)``: same argmax per row, calibrated confidence.

    >>> sharpened(np.array([[0.25, 0.75]]), 0.5).round(2).tolist()
    [[0.1, 0.9]]
    """
    if temperature == 1.0:
        return np.asarray(proba, np.float64)
    return softmax(np.log(np.clip(proba, LOG_FLOOR, 1.0)), temperature)
