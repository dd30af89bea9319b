"""The classifier's probability: a learned mixture of the neighbour vote with linear heads.

``p = w_vote * vote + w_vectors * head(vectors) + w_text * head(TF-IDF of the text)``, the weights on a simplex
grid (steps of 0.05) chosen on held-out training rows: the heads are fitted without those rows and their vote
comes from the full collection with each row's own entry left out (no row votes for itself); then the heads
are refitted on every row, starting from the held-out fit's solution. The text head
(:mod:`vectree.apps.classify.text_head`) takes part only when the classifier was given texts. A mixture of
probability estimates is the calibrated ``predict_proba``; ``w_vote = 1`` is the plain kNN classifier.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from vectree.apps.classify.head import LinearHead
from vectree.apps.classify.text_head import TextHead
from vectree.errors import InvalidInputError

log = logging.getLogger(__name__)

PARTS = ("vote", "vectors", "text")
STEP = 0.05


def grid(parts: int) -> list[tuple[float, ...]]:
    """Every weight tuple of ``parts`` non-negative multiples of 0.05 summing to 1, the vote's weight first and
    largest first (the order ties are broken in: more kNN).

    >>> len(grid(2)), len(grid(3)), grid(2)[:2]
    (21, 231, [(1.0, 0.0), (0.95, 0.05)])
    """
    n = round(1 / STEP)
    combos = [c for c in itertools.product(range(n, -1, -1), repeat=parts) if sum(c) == n]
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


def fit_heads(
    x: np.ndarray,
    texts: list[str] | None,
    y: np.ndarray,
    n_classes: int,
    C: float,  # noqa: N803
    blend: float | str,
    held_vote: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> tuple[LinearHead, TextHead | None, dict[str, float], dict[tuple[float, ...], float] | None]:
    """The heads fitted on all rows, the mixture weights, and the held-out accuracy of every weight tuple tried
    (None unless ``blend="auto"``).

    ``x``: the vectors; ``texts``: their texts (None: no text head); ``y``: class indices. ``blend="auto"`` (with
    20 rows or more): 10% of the rows (at most 5,000) are held out, heads fitted on the others, and
    ``held_vote(x[held], held)`` gives the held-out rows' vote without themselves. (The text head's vocabulary and
    IDF are learned from every text, held-out ones included: no label is involved.)"""
    vec_warm, text_warm, scores = None, None, None
    if blend == "auto" and len(y) >= 20:
        held = np.random.default_rng(0).permutation(len(y))[: max(2, min(5000, len(y) // 10))]
        rest = np.setdiff1d(np.arange(len(y)), held)
        vec_warm = LinearHead(C=C).fit(x[rest], y[rest], n_classes)
        probas = [held_vote(x[held], held), vec_warm.predict_proba(x[held])]
        if texts is not None:
            text_warm = _text_head(texts, y[rest], n_classes, C, rows=rest)
            if text_warm is not None:
                probas.append(text_warm.predict_proba([texts[i] for i in held]))
        chosen, scores = choose_weights(probas, y[held])
        weights = dict(zip(PARTS, (*chosen, 0.0)))
        log.info("mixture %s chosen on %d held-out rows", weights, held.size)
    else:
        weights = even_weights(0.5 if blend == "auto" else float(blend), texts is not None)
    vectors = LinearHead(C=C).fit(x, y, n_classes, warm=vec_warm)
    vectors.model_ = None  # the sklearn model behind it: not kept
    text: TextHead | None = None
    if texts is not None and (text_warm is not None or blend != "auto" or len(y) < 20):
        text = _text_head(texts, y, n_classes, C, warm=text_warm)
    if text is None:
        weights["text"] = 0.0
    return vectors, text, weights, scores


def _text_head(
    texts: list[str], y: np.ndarray, n_classes: int, C: float, rows: np.ndarray | None = None, warm: Any = None
) -> TextHead | None:  # noqa: N803
    """A text head on ``texts`` (``rows`` of them), or None when the texts have no term to learn from."""
    try:
        head = TextHead(C=C).fit(texts, y, n_classes, warm=warm, rows=rows)
    except InvalidInputError as exc:
        log.info("no text head: %s", exc)
        return None
    if warm is not None or rows is None:
        head.release()
    return head


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
