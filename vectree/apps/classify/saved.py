"""What a fitted :class:`~vectree.apps.classify.classifier.DocumentClassifier` stores with its collection, and how
it is read back: the settings and classes as a JSON attachment (``classifier``), the linear heads as ``.npz``
attachments (:mod:`vectree.apps.classify.mixture`), the embedder as the embedder attachment. Nothing is pickled.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from vectree.apps.classify.inputs import Timings
from vectree.apps.classify.mixture import load_heads
from vectree.apps.classify.neighbours import prior
from vectree.apps.classify.vote import plain
from vectree.collection.plan import DEFAULT_PROBES
from vectree.errors import NotFoundError

CONFIG_ATTACHMENT = "classifier"


def config_of(clf: Any) -> dict[str, Any]:
    """The JSON-able settings, classes and class frequencies of a fitted classifier (its heads' weights too)."""
    config = {
        "n_neighbors": int(clf.n_neighbors),
        "probes": int(clf.probes),
        "exact": bool(clf.exact),
        "metric": clf.metric,
        "weights": clf.weights if isinstance(clf.weights, str) else "uniform",
        "classes": [plain(c) for c in clf.classes_],
        "class_prior": clf.class_prior_.tolist(),
    }
    if clf.head_ is not None:
        config.update(
            mixture=clf.mixture_,
            blend=clf.blend_,
            text_head=clf.text_head_ is not None,
            temperature=float(getattr(clf, "temperature_", 1.0)),
        )
    return config


def read_config(collection: Any, url: str) -> dict[str, Any]:
    """The classifier's stored config; NotFoundError naming ``url`` when the collection holds no classifier."""
    try:
        return json.loads(collection.get_attachment(CONFIG_ATTACHMENT))
    except NotFoundError as exc:
        raise NotFoundError(
            f"{url} is a collection but not a fitted DocumentClassifier (no {CONFIG_ATTACHMENT!r} attachment)"
        ) from exc


def settings_of(config: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The constructor settings a stored config gives, ``params`` overriding them.

    >>> settings_of({"n_neighbors": 5, "probes": "exact", "weights": "uniform", "metric": "l2"}, {"n_neighbors": 3})
    {'n_neighbors': 3, 'probes': 8, 'weights': 'uniform', 'metric': 'l2', 'exact': True}
    """
    settings = {k: config[k] for k in ("n_neighbors", "probes", "weights", "metric")}
    settings["exact"] = bool(config.get("exact", False))
    if settings["probes"] in (None, "exact"):  # how classifiers fitted before exact= recorded exact search
        settings["probes"], settings["exact"] = DEFAULT_PROBES, True
    return {**settings, **params}


def restore(clf: Any, collection: Any, config: dict[str, Any], embedder: Any) -> Any:
    """Set the fitted attributes of ``clf`` from its collection and stored config; returns ``clf``."""
    classes = config["classes"]
    clf.classes_ = np.array(classes, dtype=object if any(isinstance(c, str) for c in classes) else np.int64)
    clf.collection_ = collection
    clf.embedder_ = embedder
    clf.n_features_in_ = int(collection.dim)
    clf.class_prior_ = prior(np.asarray(config.get("class_prior", np.zeros(len(classes)))))
    clf.timings_ = Timings()
    clf.head_, clf.text_head_, clf.mixture_ = load_heads(collection, config)
    clf.temperature_ = float(config.get("temperature", 1.0))  # saved before calibration: none
    if clf.head_ is not None:
        clf.head = clf.head or "logistic"
    return clf
