"""Assignment: the same unit always gets the same variant; the split is uniform and independent across experiments."""

import numpy as np
import pytest
from scipy import stats

from vectree.errors import InvalidInputError
from vectree.experiments import Assigner, assign, hash_unit

USERS = [f"user-{i}" for i in range(20000)]


def test_same_unit_same_variant_every_time():
    a = Assigner("ranker-v2", ["control", "treatment"])
    first = a.assign(USERS)
    again = Assigner("ranker-v2", ["control", "treatment"]).assign(list(reversed(USERS)))[::-1]
    assert (first == again).all()
    assert a.assign_one("user-7") == first[7]


def test_split_is_uniform_for_equal_shares():
    v = assign(USERS, "ranker-v2", ["A", "B", "C"])
    counts = np.array([(v == n).sum() for n in "ABC"])
    assert stats.chisquare(counts).pvalue > 0.001
    pos = Assigner("ranker-v2").position(USERS)
    assert stats.kstest(pos, "uniform").pvalue > 0.001


def test_unequal_shares_and_partial_enrollment():
    v = assign(USERS, "small-test", ["control", "treatment"], shares=[0.45, 0.05])
    n = len(USERS)
    assert abs((v == "control").sum() / n - 0.45) < 0.015
    assert abs((v == "treatment").sum() / n - 0.05) < 0.006
    assert abs(np.equal(v, None).sum() / n - 0.50) < 0.015


def test_experiments_split_independently():
    a = assign(USERS, "exp-one")
    b = assign(USERS, "exp-two")
    table = np.array(
        [[np.sum((a == x) & (b == y)) for y in ("control", "treatment")] for x in ("control", "treatment")]
    )
    assert stats.chi2_contingency(table).pvalue > 0.001
    assert 0.4 < (a == b).mean() < 0.6


def test_salt_reshuffles():
    assert hash_unit("u1", "e") == hash_unit("u1", "e")
    assert hash_unit("u1", "e", salt="v2") != hash_unit("u1", "e")
    a = assign(USERS[:2000], "e")
    b = assign(USERS[:2000], "e", salt="v2")
    assert 0.4 < (a == b).mean() < 0.6


@pytest.mark.parametrize(
    "kwargs",
    [
        {"variants": ["only"]},
        {"variants": ["a", "a"]},
        {"variants": ["a", "b"], "shares": [0.7, 0.7]},
        {"variants": ["a", "b"], "shares": [0.5]},
        {"variants": ["a", "b"], "shares": [-0.1, 0.5]},
    ],
)
def test_bad_configuration_raises(kwargs):
    with pytest.raises(InvalidInputError):
        Assigner("e", **kwargs)
