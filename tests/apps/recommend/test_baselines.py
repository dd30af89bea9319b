"""Popularity and item-kNN on the MovieLens time split: seen items excluded, item-kNN beats popularity."""

from __future__ import annotations

import numpy as np
import pytest

from vectree.apps.recommend.baselines import ItemKNNRecommender, PopularityRecommender
from vectree.apps.recommend.data import time_split
from vectree.apps.recommend.metrics import evaluate
from vectree.errors import InvalidInputError


@pytest.fixture(scope="module")
def split(movielens):
    ml = movielens
    return time_split(ml.interactions)


def test_recommendations_exclude_seen_items(split):
    train, _ = split
    seen = train.by_user()
    users = np.arange(0, 943, 50)
    for model in (PopularityRecommender().fit(train), ItemKNNRecommender().fit(train)):
        recs = model.recommend(users, k=10)
        assert recs.shape == (users.size, 10)
        for row, u in zip(recs, users):
            assert not set(row.tolist()) & set(seen[u].tolist())
            assert len(set(row.tolist())) == 10


def test_item_knn_beats_popularity_on_time_split(split):
    train, test = split
    pop = evaluate(PopularityRecommender().fit(train), test)
    knn = evaluate(ItemKNNRecommender(neighbors=50).fit(train), test)
    assert knn.recall_at_10 > pop.recall_at_10 and knn.ndcg_at_10 > pop.ndcg_at_10
    assert knn.coverage_at_10 > pop.coverage_at_10


def test_unfitted_model_says_so():
    with pytest.raises(InvalidInputError, match="not fitted"):
        PopularityRecommender().recommend(np.array([0]))
