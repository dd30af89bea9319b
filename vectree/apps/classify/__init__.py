"""Document classification over a collection: the kNN ``DocumentClassifier``, zero-shot labelling from
class names (``ZeroShotClassifier``), label propagation over the kNN graph, and their measurement.

- ``classifier``: ``DocumentClassifier`` (embed, store in a collection, vote among the nearest neighbours)
- ``zeroshot``: ``ZeroShotClassifier``, ``propagate_labels``
- ``evaluate``: ``evaluate_probes``, ``macro_f1``, ``embed_timed``
"""

from vectree.apps.classify.classifier import DocumentClassifier
from vectree.apps.classify.evaluate import EvalRow, embed_timed, evaluate_probes, macro_f1
from vectree.apps.classify.zeroshot import PropagationResult, ZeroShotClassifier, propagate_labels

__all__ = [
    "DocumentClassifier",
    "ZeroShotClassifier",
    "propagate_labels",
    "PropagationResult",
    "EvalRow",
    "evaluate_probes",
    "embed_timed",
    "macro_f1",
]
