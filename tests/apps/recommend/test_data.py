"""MovieLens 100k is fetched from the recbole wheel, parsed, and split by time without leaking the future."""

from __future__ import annotations

import numpy as np
import pytest

from vectree.apps.recommend.data import time_split
from vectree.errors import InvalidInputError


@pytest.fixture(scope="module")
def ml(movielens):
    return movielens


def test_parses_ratings_titles_genres_years(ml):
    assert (ml.n_users, ml.n_items, len(ml.interactions)) == (943, 1682, 100_000)
    toy = ml.item_index(1)
    assert ml.titles[toy] == "Toy Story" and ml.years[toy] == 1995
    assert {ml.genre_names[g] for g in np.flatnonzero(ml.genres[toy])} == {"Animation", "Children's", "Comedy"}
    assert ml.genres.shape[1] == 19 and (ml.genres.sum(1) >= 1).all()
    assert ml.interactions.timestamp.min() > 8e8 and set(np.unique(ml.interactions.rating)) == {1, 2, 3, 4, 5}
    assert ml.user_features().shape[0] == 943 and np.isfinite(ml.user_features()).all()


def test_per_user_split_puts_each_users_latest_events_in_test(ml):
    train, test = time_split(ml.interactions, test_fraction=0.2)
    assert len(train) + len(test) == len(ml.interactions)
    for u in range(0, ml.n_users, 37):
        tr, te = train.timestamp[train.user == u], test.timestamp[test.user == u]
        n = tr.size + te.size
        assert te.size == int(np.floor(n * 0.2))
        assert tr.max() <= te.min()


def test_global_split_cuts_at_one_time(ml):
    train, test = time_split(ml.interactions, test_fraction=0.2, per_user=False)
    assert train.timestamp.max() <= test.timestamp.min()
    assert abs(len(test) / len(ml.interactions) - 0.2) < 0.01


def test_bad_fraction_is_refused(ml):
    with pytest.raises(InvalidInputError, match="test_fraction"):
        time_split(ml.interactions, test_fraction=1.5)
