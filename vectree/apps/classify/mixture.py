"""The classifier's probability: a learned mixture of the neighbour vote with linear heads.

``p = w_vote * vote + w_vectors * head(vectors) + w_text * head(TF-IDF of the text)``, the weights on a
simplex grid (steps of 0.05, the vote's at least ``MIN_VOTE``) chosen on out-of-fold predictions of the
training rows (:func:`folds_of`: 3 folds of at most 5,000 held-out rows each): each fold's heads are fitted
without its rows and their vote comes from the full collection with each row's own entry left out (no row
votes for itself); then the heads are refitted on every row. The text head
(:mod:`vectree.apps.classify.text_head`) takes part only when the classifier was given texts.
``predict_proba`` is that mixture calibrated by a temperature fitted on the same out-of-fold rows
(:mod:`vectree.apps.classify.calibrate`: the predicted classes are the mixture's); ``w_vote = 1`` is the plain kNN
classifier.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from vectree.apps.classify.calibrate import LOG_FLOOR, fit_temperature, log_loss, sharpened, softmax
from vectree.apps.classify.head import LinearHead
from vectree.apps.classify.text_head import DEFAULT_TEMPERATURE, TextHead
from vectree.errors import InvalidInputError

log = logging.getLogger(__name__)

PARTS = ("vote", "vectors", "text")
STEP = 0.05
# the vote always counts: it is what lets the classifier learn from rows added to its collection without a
# refit, and explain a prediction by its neighbours (on 20NG, the only dataset where the out-of-fold choice
# gave it 0, a weight of 0.10 cost 0.13 points on the test split: 86.39% against 86.52%)
MIN_VOTE = 0.10


def grid(parts: int) -> list[tuple[float, ...]]:
    """Every weight tuple of ``parts`` non-negative multiples of 0.05 summing to 1 with the vote's weight (first)
    at least ``MIN_VOTE``, largest vote first (the order ties are broken in: more kNN).

    >>> len(grid(2)), len(grid(3)), grid(2)[:2], min(w[0] for w in grid(3))
    (19, 190, [(1.0, 0.0), (0.95, 0.05)], 0.1)
    """
    n = round(1 / STEP)
    least = round(MIN_VOTE / STEP)
    combos = [c for c in itertools.product(range(n, -1, -1), repeat=parts) if sum(c) == n and c[0] >= least]
    return [tuple(round(v * STEP, 2) for v in c) for c in combos]


def choose_weights(probas: list[np.ndarray], y: np.ndarray) -> tuple[tuple[float, ...], dict[tuple[float, ...], float]]:
    """The weights in :func:`grid` whose mixture of ``probas`` (vote first) is most accurate on held-out rows
    with classes ``y`` (ties: the first in grid order, i.e. the most weight on the vote); returns them and the
    accuracy of every weight tuple tried.

    >>> vote = np.array([[0.6, 0.4], [0.4, 0.6]]); head = np.array([[0.1, 0.9], [0.2, 0.8]])
    >>> choose_weights([vote, head], np.array([0, 1]))[0]
    (1.0, 0.0)
    """
    if len(y) == 0:
        raise InvalidInputError("choose_weights needs held-out rows")
    scores = {}
    for w in grid(len(probas)):
        mixed = sum(wi * p for wi, p in zip(w, probas) if wi > 0)
        scores[w] = float(np.mean(np.asarray(mixed).argmax(1) == y))
    best = max(scores.values())
    return next(w for w, s in scores.items() if s == best), scores


def mix(weights: dict[str, float], parts: dict[str, Callable[[], np.ndarray]]) -> np.ndarray:
    """``sum(weights[k] * parts[k]())`` over the parts with a weight (a part with weight 0 is not computed),
    renormalised over those present.

    >>> one, other = np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])
    >>> mix({"vote": 0.5, "text": 0.5}, {"vote": lambda: one, "text": lambda: other})
    array([[0.5, 0.5]])
    """
    used = {k: w for k, w in weights.items() if w > 0 and k in parts}
    if not used:
        used = {"vote": 1.0}
    total = sum(used.values())
    return sum((w / total) * parts[k]() for k, w in used.items())


def even_weights(blend: float, with_text: bool) -> dict[str, float]:
    """A fixed ``blend`` (the heads' total weight) split evenly between the heads.

    >>> even_weights(0.5, True)
    {'vote': 0.5, 'vectors': 0.25, 'text': 0.25}
    """
    if not with_text:
        return {"vote": 1.0 - blend, "vectors": blend, "text": 0.0}
    return {"vote": 1.0 - blend, "vectors": blend / 2, "text": blend / 2}


def rebalanced(weights: dict[str, float], blend: float, with_text: bool) -> dict[str, float]:
    """``weights`` with the heads' total weight set to ``blend``, the heads keeping their proportions (even
    shares when they had no weight).

    >>> rebalanced({"vote": 0.5, "vectors": 0.1, "text": 0.4}, 1.0, True)
    {'vote': 0.0, 'vectors': 0.2, 'text': 0.8}
    """
    heads = weights["vectors"] + weights["text"]
    if heads <= 0:
        return even_weights(blend, with_text)
    return {"vote": 1.0 - blend, "vectors": blend * weights["vectors"] / heads, "text": blend * weights["text"] / heads}


FOLDS = 3
"""Folds of the out-of-fold predictions the weights and temperatures are chosen on."""
MAX_HELD = 5000
"""Rows held out per fold at most (a large training set: the rest of each fold's rows always train)."""


def folds_of(n: int, seed: int = 0) -> list[np.ndarray]:
    """The held-out rows of each fold: a random permutation of ``range(n)`` cut in :data:`FOLDS` parts, each cut
    to at most :data:`MAX_HELD` rows.

    >>> [f.size for f in folds_of(30)], sum(f.size for f in folds_of(100_000))
    ([10, 10, 10], 15000)
    """
    return [f[:MAX_HELD] for f in np.array_split(np.random.default_rng(seed).permutation(n), FOLDS)]


class Fitted(NamedTuple):
    """What :func:`fit_heads` returns."""

    vectors: LinearHead
    text: TextHead | None
    weights: dict[str, float]
    scores: dict[tuple[float, ...], float] | None
    temperature: float
    held_out: dict[str, float] | None


def fit_heads(
    x: np.ndarray,
    texts: list[str] | None,
    y: np.ndarray,
    n_classes: int,
    C: float,  # noqa: N803
    blend: float | str,
    held_vote: Callable[[np.ndarray, np.ndarray], np.ndarray],
    text_C: float = 0.5,  # noqa: N803
) -> Fitted:
    """The heads fitted on all rows, the mixture weights, the held-out accuracy of every weight tuple tried (None
    unless ``blend="auto"``), the mixture's temperature and its held-out log loss before and after it.

    ``x``: the vectors; ``texts``: their texts (None: no text head); ``y``: class indices; ``C``: the vector head's
    and ``text_C`` the text head's inverse regularisation. ``blend="auto"`` (with 20 rows or more): out-of-fold
    predictions of the rows of :func:`folds_of` (each fold's heads fitted on every other row, warm-started from the
    previous fold's solution; ``held_vote(x[held], held)`` gives the held-out rows' vote without themselves) choose
    the text head's temperature, the weights (most accurate on those rows) and then the mixture's temperature
    (least log loss). (The text head's vocabulary and IDF are learned from every text: no label is involved.)"""
    vec_warm, text_warm, scores, temperature, held_out = None, None, None, 1.0, None
    text_t = DEFAULT_TEMPERATURE
    if blend == "auto" and len(y) >= 20:
        folds = folds_of(len(y))
        held = np.concatenate(folds)
        start = dict(zip(held.tolist(), range(held.size)))
        vec_p = np.zeros((held.size, n_classes))
        margins = np.zeros((held.size, n_classes)) if texts is not None else None
        for i, fold in enumerate(folds):
            rest = np.setdiff1d(np.arange(len(y)), fold)
            at = np.array([start[r] for r in fold.tolist()], dtype=np.int64)
            vec_warm = LinearHead(C=C).fit(x[rest], y[rest], n_classes, warm=vec_warm)
            vec_p[at] = vec_warm.predict_proba(x[fold])
            if margins is not None:
                fold_head = _text_head(texts, y[rest], n_classes, text_C, rows=rest, warm=text_warm)
                if fold_head is None:
                    margins = None
                else:
                    text_warm = fold_head
                    margins[at] = fold_head.margins(fold_head.matrix_[fold])
            log.info("fold %d/%d of the mixture's out-of-fold predictions fitted", i + 1, len(folds))
        probas = [held_vote(x[held], held), vec_p]
        if margins is not None:
            text_t = fit_temperature(margins, y[held])
            probas.append(softmax(margins, text_t))
        chosen, scores = choose_weights(probas, y[held])
        mixed = sum(w * p for w, p in zip(chosen, probas) if w > 0)
        temperature = fit_temperature(np.log(np.clip(mixed, LOG_FLOOR, 1.0)), y[held])
        held_out = {
            "log_loss": log_loss(mixed, y[held]),
            "log_loss_calibrated": log_loss(sharpened(mixed, temperature), y[held]),
            "text_temperature": float(text_t),
        }
        weights = dict(zip(PARTS, (*chosen, 0.0)))
        log.info("mixture %s, temperature %.3f, chosen on %d out-of-fold rows", weights, temperature, held.size)
    else:
        weights = even_weights(0.5 if blend == "auto" else float(blend), texts is not None)
    vectors = LinearHead(C=C).fit(x, y, n_classes, warm=vec_warm)
    vectors.model_ = None  # the sklearn model behind it: not kept
    text: TextHead | None = None
    if texts is not None and (text_warm is not None or blend != "auto" or len(y) < 20):
        text = _text_head(texts, y, n_classes, text_C, warm=text_warm)
    if text is None:
        weights["text"] = 0.0
    else:
        text.temperature = text_t
        text.release()
    return Fitted(vectors, text, weights, scores, temperature, held_out)


def _text_head(
    texts: list[str], y: np.ndarray, n_classes: int, C: float, rows: np.ndarray | None = None, warm: Any = None
) -> TextHead | None:  # noqa: N803
    """A text head on ``texts`` (``rows`` of them), or None when the texts have no term to learn from."""
    try:
        return TextHead(C=C).fit(texts, y, n_classes, warm=warm, rows=rows)
    except InvalidInputError as exc:
        log.info("no text head: %s", exc)
        return None


HEAD_ATTACHMENT = "classifier.head.npz"
TEXT_HEAD_ATTACHMENT = "classifier.text-head.npz"


def save_heads(collection: Any, vectors: LinearHead, text: TextHead | None) -> None:
    """Store the heads with the collection, as pickle-free ``.npz`` attachments."""
    collection.put_attachment(HEAD_ATTACHMENT, vectors.to_npz())
    if text is not None:
        collection.put_attachment(TEXT_HEAD_ATTACHMENT, text.to_npz())


def load_heads(collection: Any, config: dict[str, Any]) -> tuple[LinearHead | None, TextHead | None, dict[str, float]]:
    """The heads and mixture weights :func:`save_heads` and the classifier's config stored (a classifier saved
    before the text head recorded only ``blend``, the vector head's weight)."""
    if "mixture" not in config and "blend" not in config:
        return None, None, {"vote": 1.0, "vectors": 0.0, "text": 0.0}
    weights = config.get("mixture") or even_weights(float(config["blend"]), False)
    vectors = LinearHead.from_npz(collection.get_attachment(HEAD_ATTACHMENT))
    text = None
    if config.get("text_head"):
        text = TextHead.from_npz(collection.get_attachment(TEXT_HEAD_ATTACHMENT))
    return vectors, text, {k: float(weights.get(k, 0.0)) for k in PARTS}
