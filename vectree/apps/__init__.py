"""Applications built on collections and embedders: ``vectree.apps.classify`` (kNN document
classification, zero-shot labelling) and ``vectree.apps.recommend`` (the ranking funnel)."""

from vectree.apps.classify import DocumentClassifier, ZeroShotClassifier, propagate_labels
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

__all__ = [
    "DocumentClassifier",
    "ZeroShotClassifier",
    "propagate_labels",
    "RankingFunnel",
    "ContentProfileRecommender",
    "PopularityRecommender",
    "ItemKNNRecommender",
    "ReRanker",
    "save_funnel",
    "load_funnel",
    "shards_needed",
]
