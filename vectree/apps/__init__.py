"""Applications built on collections and embedders: document classification, zero-shot labelling, recommendation."""

from vectree.apps.classifier import DocumentClassifier
from vectree.apps.zeroshot import ZeroShotClassifier, propagate_labels

__all__ = ["DocumentClassifier", "ZeroShotClassifier", "propagate_labels"]
