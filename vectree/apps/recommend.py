"""Recommendations (issue 6): the public names, gathered from the ``recommend_*`` modules.

- data: ``load_movielens_100k``, ``time_split`` (MovieLens 100k from the recbole wheel, never committed)
- baselines: ``PopularityRecommender``, ``ItemKNNRecommender``
- content profiles: ``ContentProfileRecommender``, ``profile_vectors``
- the funnel: ``RankingFunnel`` (two-tower retrieval from a collection, ``ReRanker``, business rules,
  exploration, new-item boost), saved with ``save_funnel`` / ``load_funnel``
- measurement: ``evaluate``, ``recall_at_k``, ``ndcg_at_k``, ``coverage``, ``shards_needed``
The two-tower model itself is ``vectree.embed.two_tower.TwoTowerModel``.
"""

from vectree.apps.recommend_baselines import ItemKNNRecommender, PopularityRecommender
from vectree.apps.recommend_capacity import CapacityPlan, per_item_cost_ms, shards_needed
from vectree.apps.recommend_content import ContentProfileRecommender, profile_vectors
from vectree.apps.recommend_data import Interactions, MovieLens, load_movielens_100k, time_split
from vectree.apps.recommend_eval import coverage, evaluate, ndcg_at_k, recall_at_k
from vectree.apps.recommend_features import Catalog
from vectree.apps.recommend_funnel import FunnelResult, RankingFunnel
from vectree.apps.recommend_rerank import PairFeatures, ReRanker
from vectree.apps.recommend_store import load_funnel, save_funnel

__all__ = [
    "ItemKNNRecommender", "PopularityRecommender", "CapacityPlan", "per_item_cost_ms", "shards_needed",
    "ContentProfileRecommender", "profile_vectors", "Interactions", "MovieLens", "load_movielens_100k", "time_split",
    "coverage", "evaluate", "ndcg_at_k", "recall_at_k", "Catalog", "FunnelResult", "RankingFunnel", "PairFeatures",
    "ReRanker", "load_funnel", "save_funnel",
]
