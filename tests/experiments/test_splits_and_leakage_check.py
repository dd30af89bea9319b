"""Splits: random, stratified, time-based (never across time), grouped; the leakage check fails loudly."""

import numpy as np
import pandas as pd
import pytest

from vectree.errors import InvalidInputError
from vectree.experiments.data import (
    LeakageError,
    check_leakage,
    group_split,
    random_split,
    row_keys,
    stratified_split,
    time_split,
)

RNG = np.random.default_rng(0)
N = 2000
TABLE = pd.DataFrame(
    {
        "user": RNG.integers(0, 150, N),
        "time": pd.Timestamp("2026-01-01") + pd.to_timedelta(np.sort(RNG.integers(0, 60 * 24 * 30, N)), unit="min"),
        "label": RNG.choice(["a", "b", "c"], N, p=[0.7, 0.25, 0.05]),
    }
)


def _covers_all(split):
    idx = np.concatenate([split.train, split.validation, split.test])
    return np.array_equal(np.sort(idx), np.arange(N))


def test_random_split_sizes_and_seed():
    s = random_split(N, (0.6, 0.2, 0.2), seed=1)
    assert s.sizes() == {"train": 1200, "validation": 400, "test": 400} and _covers_all(s)
    assert np.array_equal(s.train, random_split(N, (0.6, 0.2, 0.2), seed=1).train)
    assert check_leakage(s) == s.sizes()


def test_stratified_keeps_label_shares():
    s = stratified_split(TABLE["label"], (0.7, 0.15, 0.15), seed=2)
    assert _covers_all(s)
    overall = TABLE["label"].value_counts(normalize=True)
    for side in s.sides().values():
        share = TABLE["label"].iloc[side].value_counts(normalize=True)
        assert (share - overall).abs().max() < 0.02


def test_time_split_never_crosses_time():
    s = time_split(TABLE["time"])
    assert _covers_all(s)
    t = TABLE["time"]
    assert t.iloc[s.train].max() < t.iloc[s.validation].min() <= t.iloc[s.validation].max() < t.iloc[s.test].min()
    check_leakage(s, times=t)
    cut = time_split(TABLE["time"], cuts=("2026-01-20", "2026-01-25"))
    assert (t.iloc[cut.train] < pd.Timestamp("2026-01-20")).all() and (
        t.iloc[cut.test] >= pd.Timestamp("2026-01-25")
    ).all()
    ties = time_split(np.repeat(np.arange(10), 10))  # equal times never straddle a cut
    check_leakage(ties, times=np.repeat(np.arange(10), 10))


def test_group_split_keeps_users_together():
    s = group_split(TABLE["user"], seed=3)
    assert _covers_all(s)
    check_leakage(s, groups=TABLE["user"])
    assert abs(len(s.train) / N - 0.7) < 0.05


def test_leakage_is_loud():
    rnd = random_split(N, seed=4)
    with pytest.raises(LeakageError, match="group"):
        check_leakage(rnd, groups=TABLE["user"])
    with pytest.raises(LeakageError, match="time order"):
        check_leakage(rnd, times=TABLE["time"])
    overlap = type(rnd)(rnd.train, np.concatenate([rnd.validation, rnd.train[:3]]), rnd.test, "hand-made")
    with pytest.raises(LeakageError, match="more than one side"):
        check_leakage(overlap)
    dup = TABLE.copy()
    dup.iloc[rnd.test[:5]] = dup.iloc[rnd.train[:5]].to_numpy()  # five test rows copy training rows
    with pytest.raises(LeakageError, match="5 test row"):
        check_leakage(rnd, keys=row_keys(dup))
    assert issubclass(LeakageError, InvalidInputError)


def test_bad_fractions_raise():
    with pytest.raises(InvalidInputError):
        random_split(N, (0.5, 0.5, 0.5))
    with pytest.raises(InvalidInputError):
        group_split([1, 1, 2])
