"""Content profiles: (recency-weighted) mean of engaged items' embeddings, nearest unseen items from a collection."""

from __future__ import annotations

import numpy as np
import pytest

from vectree.apps.recommend.content import ContentProfileRecommender, profile_vectors
from vectree.apps.recommend.data import Interactions


def test_mean_and_recency_weighted_profiles():
    vecs = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=np.float32)
    prof = profile_vectors([np.array([0, 1]), np.array([], dtype=np.int64)], vecs)
    assert prof[0].tolist() == [0.5, 0.5] and prof[1].tolist() == [0.0, 0.0]
    # half-life 1: the older item weighs half the newer one
    rec = profile_vectors([np.array([0, 1])], vecs, half_life=1.0)
    assert rec[0] == pytest.approx([1 / 3, 2 / 3])


def _toy():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(4, 16))
    items = np.repeat(centers, 50, axis=0) + 0.1 * rng.normal(size=(200, 16))
    # user u engaged with 5 items of cluster u
    users = np.repeat(np.arange(4), 5)
    engaged = np.concatenate([np.arange(u * 50, u * 50 + 5) for u in range(4)])
    log = Interactions(users, engaged, np.ones(20, np.float32), np.arange(20), 4, 200)
    return items.astype(np.float32), log


def test_recommends_nearest_unseen_items_from_a_collection():
    items, log = _toy()
    model = ContentProfileRecommender(bucket_size=20, probes=3).fit(log, items)
    assert model.index_.collection is not None and len(model.index_.collection) == 200
    recs = model.recommend(np.arange(4), k=10)
    for u in range(4):
        assert all(u * 50 + 5 <= i < (u + 1) * 50 for i in recs[u])  # same cluster, not seen


def test_ann_with_every_bucket_equals_exact():
    items, log = _toy()
    ann = ContentProfileRecommender(bucket_size=20, probes=64).fit(log, items)
    exact = ContentProfileRecommender(exact=True).fit(log, items)
    assert np.array_equal(ann.recommend(np.arange(4), 10), exact.recommend(np.arange(4), 10))
