"""Recommendations: a ranking funnel over a collection of item vectors, its baselines and measurement.

- ``data``: ``Interactions``, ``MovieLens``, ``load_movielens_100k`` (parse the files; fetching them is
  ``benchmarks/datasets.py``'s job), ``time_split``
- ``baselines``: ``PopularityRecommender``, ``ItemKNNRecommender``
- ``content``: ``ContentProfileRecommender``, ``profile_vectors``
- ``two_tower``: ``TwoTowerModel`` (torch; imported only when used)
- ``funnel``: ``RankingFunnel`` (two-tower retrieval from a collection, ``ReRanker``, business rules,
  exploration, new-item boost), saved with ``store.save_funnel`` / ``store.load_funnel``
- ``metrics``: ``evaluate``, ``recall_at_k``, ``ndcg_at_k``, ``coverage``; ``capacity``: ``shards_needed``
"""

from vectree.apps.recommend.baselines import ItemKNNRecommender, PopularityRecommender
from vectree.apps.recommend.capacity import CapacityPlan, per_item_cost_ms, shards_needed
from vectree.apps.recommend.content import ContentProfileRecommender, profile_vectors
from vectree.apps.recommend.data import Interactions, MovieLens, load_movielens_100k, time_split
from vectree.apps.recommend.features import Catalog
from vectree.apps.recommend.funnel import FunnelResult, RankingFunnel
from vectree.apps.recommend.metrics import coverage, evaluate, ndcg_at_k, recall_at_k
from vectree.apps.recommend.rerank import PairFeatures, ReRanker
from vectree.apps.recommend.store import load_funnel, save_funnel

__all__ = [
    "ItemKNNRecommender",
    "PopularityRecommender",
    "CapacityPlan",
    "per_item_cost_ms",
    "shards_needed",
    "ContentProfileRecommender",
    "profile_vectors",
    "Interactions",
    "MovieLens",
    "load_movielens_100k",
    "time_split",
    "coverage",
    "evaluate",
    "ndcg_at_k",
    "recall_at_k",
    "Catalog",
    "FunnelResult",
    "RankingFunnel",
    "PairFeatures",
    "ReRanker",
    "load_funnel",
    "save_funnel",
]
