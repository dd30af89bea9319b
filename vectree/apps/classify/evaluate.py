"""The seed's table: accuracy, macro-F1 and time per document of a fitted classifier at several probe settings.

Test texts are embedded once (embedding time is reported on its own), then searched at each
``probes`` setting, so the search columns compare settings on identical query vectors.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from vectree.apps.classify.classifier import DocumentClassifier

PROBE_SWEEP: tuple[int | str, ...] = (1, 3, 5, 10, 20, "exact")  # rows of the table; "exact": exact=True


def macro_f1(y_true: Sequence[Any], y_pred: Sequence[Any]) -> float:
    """Unweighted mean over the classes present in ``y_true`` or ``y_pred`` of per-class F1."""
    t = np.asarray(list(y_true), dtype=object)
    p = np.asarray(list(y_pred), dtype=object)
    scores = []
    for c in set(t.tolist()) | set(p.tolist()):
        tp = float(np.sum((t == c) & (p == c)))
        fp = float(np.sum((t != c) & (p == c)))
        fn = float(np.sum((t == c) & (p != c)))
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores)) if scores else 0.0


@dataclass
class EvalRow:
    """One line of the table: a probe setting and its quality and per-document costs."""

    probes: str
    accuracy: float
    macro_f1: float
    embed_ms_per_doc: float
    search_ms_per_doc: float
    buckets: int

    @property
    def total_ms_per_doc(self) -> float:
        return self.embed_ms_per_doc + self.search_ms_per_doc

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "total_ms_per_doc": self.total_ms_per_doc}


def evaluate_probes(
    clf: DocumentClassifier,
    test_vectors: np.ndarray,
    test_labels: Sequence[Any],
    probes: Sequence[int | str] = PROBE_SWEEP,
    embed_s: float = 0.0,
    texts: Sequence[str] | None = None,
) -> list[EvalRow]:
    """Score ``clf`` on already-embedded test documents at each probe setting (``texts``: those documents' texts,
    for a classifier with a text head).

    Each setting is a number of probes, or the row label ``"exact"``: the classifier searched with ``exact=True``.
    """
    y = np.asarray([v.item() if isinstance(v, np.generic) else v for v in test_labels], dtype=object)
    n = max(len(y), 1)
    buckets = int(clf.collection_.stats().get("buckets", 0))
    saved = clf.probes, clf.exact
    rows = []
    try:
        for p in probes:
            exact = p == "exact"
            clf.set_params(exact=exact, probes=clf.probes if exact else int(p))
            t0 = time.perf_counter()
            pred = clf.predict_embeddings(test_vectors, texts=texts)
            search_s = time.perf_counter() - t0
            pred = pred.astype(object)
            rows.append(
                EvalRow(
                    probes="exact" if exact else str(clf.probes),
                    accuracy=float(np.mean(pred == y)),
                    macro_f1=macro_f1(y, pred),
                    embed_ms_per_doc=1000 * embed_s / n,
                    search_ms_per_doc=1000 * search_s / n,
                    buckets=buckets,
                )
            )
    finally:
        clf.probes, clf.exact = saved
    return rows


def embed_timed(clf: DocumentClassifier, texts: Sequence[str]) -> tuple[np.ndarray, float]:
    """Embed ``texts`` with the classifier's embedder; returns (vectors, seconds)."""
    t0 = time.perf_counter()
    vectors = clf.embedder_.encode(list(texts), show_progress=clf.show_progress)
    return vectors, time.perf_counter() - t0
