"""Applications built on collections and embedders: document classification, zero-shot labelling, recommendation."""

from vectree.apps.classifier import DocumentClassifier
from vectree.apps.recommend import (
    ContentProfileRecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    RankingFunnel,
    ReRanker,
    load_funnel,
    save_funnel,
    shards_needed,
)
from vectree.apps.zeroshot import ZeroShotClassifier, propagate_labels

__all__ = [
    "DocumentClassifier", "ZeroShotClassifier", "propagate_labels",
    "RankingFunnel", "ContentProfileRecommender", "PopularityRecommender", "ItemKNNRecommender", "ReRanker",
    "save_funnel", "load_funnel", "shards_needed",
]
