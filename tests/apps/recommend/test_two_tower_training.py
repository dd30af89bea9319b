"""The torch two-tower model trains on real MovieLens pairs with both losses, reports progress and loss,
produces unit vectors, embeds new items from features alone, and survives save/load unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from vectree.apps.recommend.features import Catalog
from vectree.apps.recommend.two_tower import TwoTowerModel
from vectree.errors import InvalidInputError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data(movielens):
    ml = movielens
    inter = ml.interactions.subset(ml.interactions.user < 150)  # ~15k pairs keeps this quick
    order = np.lexsort((inter.item, inter.timestamp, inter.user))
    return ml, inter.subset(order), Catalog.from_movielens(ml, "hash", 32)


def _fit(data, n_users=150, **kw):
    ml, inter, cat = data
    inter = inter.subset(inter.user < n_users)
    calls = []
    model = TwoTowerModel(epochs=2, seed=0, progress=lambda e, n, loss: calls.append((e, n, loss)), **kw)
    model.fit(
        inter.user,
        inter.item,
        n_users=ml.n_users,
        n_items=ml.n_items,
        user_features=cat.user_features,
        item_features=cat.item_features,
        history=inter.by_user(),
    )
    return model, calls


@pytest.fixture(scope="module")
def fitted(data):
    return _fit(data, dim=16)


@pytest.mark.parametrize("loss", ["inbatch", "random"])
def test_loss_falls_and_progress_is_reported(data, fitted, loss):
    model, calls = fitted if loss == "inbatch" else _fit(data, n_users=60, loss=loss, dim=16, n_negatives=4)
    assert [c[:2] for c in calls] == [(1, 2), (2, 2)]
    assert model.loss_history_[1] < model.loss_history_[0]
    items = model.item_vectors()
    users = model.user_vectors(np.arange(10))
    assert items.shape == (data[0].n_items, 16) and users.shape == (10, 16)
    assert np.allclose(np.linalg.norm(items, axis=1), 1.0, atol=1e-5)


def test_trained_model_scores_engaged_items_above_random_ones(data, fitted):
    ml, inter, _ = data
    model, _ = fitted
    rng = np.random.default_rng(1)
    users = inter.user
    pos = model.score(users[:2000], inter.item[:2000]).mean()
    neg = model.score(users[:2000], rng.integers(0, ml.n_items, 2000)).mean()
    assert pos > neg


def test_save_load_round_trip_and_feature_only_items(fitted, tmp_path):
    model, _ = fitted
    model.save(tmp_path / "tt.pt")
    again = TwoTowerModel.load(tmp_path / "tt.pt")
    assert again.get_params() == model.get_params()
    assert np.array_equal(again.item_vectors(), model.item_vectors())
    assert np.array_equal(again.user_vectors(np.arange(5)), model.user_vectors(np.arange(5)))
    cold = again.item_vectors(np.arange(3), use_ids=False)  # as if the items were new: features only
    assert cold.shape == (3, 16) and not np.allclose(cold, again.item_vectors(np.arange(3)))
    assert again.loss_history_ == model.loss_history_


def test_bad_inputs_are_refused(data):
    with pytest.raises(InvalidInputError, match="loss"):
        TwoTowerModel(loss="hinge").fit(np.array([0]), np.array([0]), n_users=1, n_items=1)
    with pytest.raises(InvalidInputError, match="out of range"):
        TwoTowerModel().fit(np.array([0]), np.array([5]), n_users=1, n_items=2)
    with pytest.raises(InvalidInputError, match="not fitted"):
        TwoTowerModel().item_vectors()
