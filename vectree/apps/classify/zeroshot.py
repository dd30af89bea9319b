"""Classifiers for free (the seed's zero-shot claim), in two forms.

- Few labels: :func:`propagate_labels` spreads the labels of the few labelled rows of a
  collection over its k-nearest-neighbour graph (built with the collection's own search), the
  label-spreading iteration of Zhou et al. (2004): ``F <- alpha * S F + (1 - alpha) * Y``.
- No labels: :class:`ZeroShotClassifier` embeds a name or description of each class with the
  same embedder as the documents and assigns each document to the nearest description.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vectree.collection import Collection
from vectree.collection.plan import DEFAULT_PROBES
from vectree.embed import Embedder
from vectree.embed.base import as_texts, normalize_rows
from vectree.errors import InvalidInputError

log = logging.getLogger(__name__)


@dataclass
class PropagationResult:
    """Labels of every live row of the collection after propagation, in ``ids`` order.

    ids: row ids; labels: predicted class per row (the given label for labelled rows);
    proba: (n, n_classes) normalised scores; classes: column order; labelled: rows that had a label.
    """

    ids: np.ndarray
    labels: np.ndarray
    proba: np.ndarray
    classes: np.ndarray
    labelled: np.ndarray


def _position_lookup(ids: np.ndarray):  # noqa: ANN202
    if ids.dtype.kind in "iu":
        order = np.argsort(ids, kind="stable")
        sorted_ids = ids[order]

        def find(q: np.ndarray) -> np.ndarray:
            q = q.astype(np.int64)
            pos = np.clip(np.searchsorted(sorted_ids, q), 0, len(ids) - 1)
            return np.where((q >= 0) & (sorted_ids[pos] == q), order[pos], -1)

        return find
    index = {v: i for i, v in enumerate(ids.tolist())}
    return lambda q: np.array([index.get(v, -1) for v in q.ravel().tolist()], dtype=np.int64).reshape(q.shape)


def propagate_labels(
    collection: Collection,
    *,
    n_neighbors: int = 10,
    probes: int = DEFAULT_PROBES,
    exact: bool = False,
    alpha: float = 0.8,
    max_iter: int = 50,
    tol: float = 1e-5,
    batch_size: int = 4096,
) -> PropagationResult:
    """Label every unlabelled row (stored label None) of ``collection`` from its labelled rows.

    The graph links each row to its ``n_neighbors`` nearest rows (``probes`` buckets visited,
    every bucket with ``exact=True``), weighted by ``exp(-distance / mean distance)`` and symmetrised. Rows whose
    component holds no labelled row get the most frequent label. ``alpha`` is the weight of the
    neighbours against a row's own seed label; close to 1 (0.99) the degree of each row dominates
    and large classes swallow small ones (measured on arXiv: 0.46 accuracy at alpha=0.99 against
    0.75 for any alpha in 0.2..0.9).
    """
    from scipy import sparse

    if not 0 < alpha < 1:
        raise InvalidInputError(f"alpha must be in (0, 1), got {alpha!r}")
    if n_neighbors < 1:
        raise InvalidInputError(f"n_neighbors must be positive, got {n_neighbors!r}")
    ids_parts, label_parts, nbr_ids, nbr_d = [], [], [], []
    for batch in collection.iter_batches(batch_size):
        res = collection.search(batch["vectors"], k=n_neighbors + 1, probes=probes, exact=exact)
        ids_parts.append(np.asarray(batch["ids"]))
        labs = batch["labels"]
        label_parts.append(
            np.full(len(batch["ids"]), None, dtype=object) if labs is None else np.asarray(labs, dtype=object)
        )
        nbr_ids.append(res.ids)
        nbr_d.append(res.distances)
    if not ids_parts:
        raise InvalidInputError(f"the collection at {collection.url} is empty")
    ids = np.concatenate(ids_parts)
    labels = np.concatenate(label_parts)
    labelled = np.array([v is not None for v in labels.tolist()])
    if not labelled.any():
        raise InvalidInputError("no row of the collection has a label: label a few rows, or use ZeroShotClassifier")
    classes = np.array(sorted(set(labels[labelled].tolist())), dtype=object)
    n = len(ids)
    cols = _position_lookup(ids)(np.concatenate(nbr_ids))
    dist = np.concatenate(nbr_d).astype(np.float64)
    rows = np.repeat(np.arange(n), cols.shape[1]).reshape(cols.shape)
    keep = (cols >= 0) & (cols != rows) & np.isfinite(dist)
    scale = max(float(dist[keep].mean()) if keep.any() else 1.0, 1e-12)
    w = sparse.csr_matrix((np.exp(-dist[keep] / scale), (rows[keep], cols[keep])), shape=(n, n))
    w = w.maximum(w.T)
    deg = np.asarray(w.sum(axis=1)).ravel()
    dinv = 1.0 / np.sqrt(np.maximum(deg, 1e-12))
    s = sparse.diags(dinv) @ w @ sparse.diags(dinv)
    class_index = {c: i for i, c in enumerate(classes.tolist())}
    y = np.zeros((n, len(classes)))
    y[np.flatnonzero(labelled), [class_index[v] for v in labels[labelled].tolist()]] = 1.0
    f = y.copy()
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        new = alpha * (s @ f) + (1 - alpha) * y
        delta = np.abs(new - f).max()
        f = new
        if delta < tol:
            break
    log.info("label propagation: %d rows, %d labelled, %d iterations", n, int(labelled.sum()), iterations)
    total = f.sum(axis=1, keepdims=True)
    unreached = total[:, 0] <= 0
    majority = np.bincount([class_index[v] for v in labels[labelled].tolist()], minlength=len(classes)).argmax()
    f[unreached, majority] = 1.0
    proba = f / f.sum(axis=1, keepdims=True)
    pred = classes[np.argmax(proba, axis=1)]
    pred[labelled] = labels[labelled]
    return PropagationResult(ids=ids, labels=pred, proba=proba, classes=classes, labelled=labelled)


class ZeroShotClassifier:
    """Classify texts with no labelled examples: nearest class description in embedding space.

    Parameters
    ----------
    embedder: the embedder of the documents (e.g. the one stored with their collection).
    descriptions: ``{label: text}`` or ``{label: [texts]}`` (several descriptions are averaged), or a
        list of labels used as their own descriptions.
    template: format string applied to each description, e.g. ``"A paper about {}."``.
    temperature: softmax temperature of :meth:`predict_proba` over cosine similarities.
    """

    def __init__(
        self,
        embedder: Embedder,
        descriptions: Mapping[Any, str | Sequence[str]] | Sequence[str],
        *,
        template: str = "{}",
        temperature: float = 0.05,
    ) -> None:
        self.embedder = embedder
        self.descriptions = descriptions
        self.template = template
        self.temperature = temperature

    def fit(self, texts: Any = None, labels: Any = None) -> ZeroShotClassifier:
        """Embed the class descriptions (the arguments are ignored: no training data is needed)."""
        desc = self.descriptions
        if not isinstance(desc, Mapping):
            desc = {d: d for d in as_texts(desc)}
        if len(desc) < 2:
            raise InvalidInputError(f"give at least two classes to choose between, got {list(desc)}")
        if self.temperature <= 0:
            raise InvalidInputError(f"temperature must be positive, got {self.temperature!r}")
        centers = []
        for label, d in desc.items():
            texts = [self.template.format(t) for t in as_texts(d)]
            if not texts:
                raise InvalidInputError(f"class {label!r} has no description")
            centers.append(self.embedder.encode(texts).mean(axis=0))
        self.classes_ = np.array(list(desc), dtype=object)
        self.centers_ = normalize_rows(np.asarray(centers))
        return self

    def predict_proba_embeddings(self, vectors: Any) -> np.ndarray:
        """Softmax over the cosine similarities of already-embedded documents to the class descriptions."""
        if not hasattr(self, "centers_"):
            self.fit()
        sims = normalize_rows(np.atleast_2d(np.asarray(vectors, dtype=np.float32))) @ self.centers_.T
        z = (sims - sims.max(axis=1, keepdims=True)) / self.temperature
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict_embeddings(self, vectors: Any) -> np.ndarray:
        """Nearest class description of each already-embedded document."""
        return self.classes_[np.argmax(self.predict_proba_embeddings(vectors), axis=1)]

    def predict_proba(self, texts: Any) -> np.ndarray:
        """(n, n_classes) softmax scores, columns in ``classes_`` order."""
        return self.predict_proba_embeddings(self.embedder.encode(as_texts(texts)))

    def predict(self, texts: Any) -> np.ndarray:
        """The class whose description is nearest to each text."""
        return self.predict_embeddings(self.embedder.encode(as_texts(texts)))

    def score(self, texts: Any, labels: Any) -> float:
        """Accuracy of :meth:`predict` against ``labels``."""
        return float(np.mean(self.predict(texts) == np.asarray(list(labels), dtype=object)))
