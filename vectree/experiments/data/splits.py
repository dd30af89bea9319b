"""Train / validation / test splits that do not fool you, and a leakage check that fails loudly.

- :func:`random_split`: rows shuffled with a seed;
- :func:`stratified_split`: every label in the same proportion on every side (scikit-learn's
  ``train_test_split(stratify=...)``);
- :func:`time_split`: train strictly before the first cut, validation between the cuts, test after:
  the model is judged on a future it has not seen, and rows are never shuffled across time; rows that
  share a timestamp always land on the same side;
- :func:`group_split`: all rows of a group (a user, a session, a document) on one side, so the model is
  not tested on the people it memorised.

:func:`check_leakage` verifies a split against the groups, times and content keys it must respect and
raises :class:`LeakageError` naming the offending rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from vectree.errors import InvalidInputError

__all__ = [
    "LeakageError",
    "Split",
    "random_split",
    "stratified_split",
    "time_split",
    "group_split",
    "check_leakage",
    "row_keys",
]

SIDES = ("train", "validation", "test")


class LeakageError(InvalidInputError):
    """Information crosses from the training side to an evaluation side of a split."""


@dataclass(frozen=True)
class Split:
    """Row positions of the train, validation and test sides."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    method: str

    def sides(self) -> dict[str, np.ndarray]:
        """The three sides by name."""
        return {"train": self.train, "validation": self.validation, "test": self.test}

    def sizes(self) -> dict[str, int]:
        """Rows per side."""
        return {k: int(len(v)) for k, v in self.sides().items()}

    def apply(self, table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """The three sides of a table (by row position)."""
        return table.iloc[self.train], table.iloc[self.validation], table.iloc[self.test]


def _fractions(fractions: Sequence[float]) -> np.ndarray:
    f = np.asarray(fractions, dtype=np.float64)
    if f.shape != (3,) or np.any(f < 0) or f[0] <= 0 or not np.isclose(f.sum(), 1.0):
        raise InvalidInputError(
            f"fractions must be (train, validation, test), non-negative, train > 0, summing to 1; got {list(fractions)}"
        )
    return f


def _cut(order: np.ndarray, f: np.ndarray, method: str) -> Split:
    n = len(order)
    a = int(round(f[0] * n))
    b = int(round((f[0] + f[1]) * n))
    return Split(np.sort(order[:a]), np.sort(order[a:b]), np.sort(order[b:]), method)


def random_split(n_rows: int, fractions: Sequence[float] = (0.7, 0.15, 0.15), *, seed: int = 0) -> Split:
    """Shuffle ``n_rows`` row positions with ``seed`` and cut them by ``fractions``."""
    if n_rows < 3:
        raise InvalidInputError(f"need at least 3 rows to split, got {n_rows}")
    return _cut(np.random.default_rng(seed).permutation(n_rows), _fractions(fractions), "random")


def stratified_split(labels: Sequence, fractions: Sequence[float] = (0.7, 0.15, 0.15), *, seed: int = 0) -> Split:
    """A random split that keeps every label's share the same on all sides (scikit-learn ``stratify``)."""
    from sklearn.model_selection import train_test_split

    f = _fractions(fractions)
    y = np.asarray(labels)
    idx = np.arange(len(y))
    try:
        train, rest = train_test_split(idx, train_size=f[0], stratify=y, random_state=seed)
        if f[1] == 0 or f[2] == 0:
            val, test = (rest, rest[:0]) if f[2] == 0 else (rest[:0], rest)
        else:
            val, test = train_test_split(rest, train_size=f[1] / (f[1] + f[2]), stratify=y[rest], random_state=seed)
    except ValueError as exc:
        counts = pd.Series(y).value_counts()
        raise InvalidInputError(
            f"cannot stratify: {exc}; the rarest labels are {counts.tail(3).to_dict()} "
            "(merge rare labels or use random_split)"
        ) from exc
    return Split(np.sort(train), np.sort(val), np.sort(test), "stratified")


def time_split(
    times: Sequence,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    *,
    cuts: tuple[object, object] | None = None,
) -> Split:
    """Train on rows before the first cut, validate between the cuts, test from the second cut on.

    The cuts default to the time quantiles at ``fractions``; rows with equal times never straddle a cut.
    """
    t = pd.Series(times).reset_index(drop=True)
    if t.isna().any():
        raise InvalidInputError(f"times contain missing values at rows {t.index[t.isna()][:5].tolist()}")
    if not pd.api.types.is_numeric_dtype(t):
        t = pd.to_datetime(t, utc=True)
    if cuts is None:
        f = _fractions(fractions)
        ordered = t.sort_values(kind="stable").to_numpy()
        n = len(ordered)
        c1 = ordered[min(n - 1, int(round(f[0] * n)))]
        c2 = ordered[min(n - 1, int(round((f[0] + f[1]) * n)))] if f[2] > 0 else None
    else:
        c1, c2 = cuts
        if not pd.api.types.is_numeric_dtype(t):
            c1 = pd.Timestamp(c1, tz="UTC") if pd.Timestamp(c1).tzinfo is None else pd.Timestamp(c1)
            c2 = pd.Timestamp(c2, tz="UTC") if pd.Timestamp(c2).tzinfo is None else pd.Timestamp(c2)
        if c2 < c1:
            raise InvalidInputError(f"cuts must be in time order, got {c1} after {c2}")
    tv = t.to_numpy()
    train = np.flatnonzero(tv < c1)
    if c2 is None:
        val, test = np.flatnonzero(tv >= c1), np.array([], dtype=np.int64)
    else:
        val, test = np.flatnonzero((tv >= c1) & (tv < c2)), np.flatnonzero(tv >= c2)
    if len(train) == 0:
        raise InvalidInputError(f"no rows before the first cut {c1}: move the cut later")
    return Split(train, val, test, "time")


def group_split(groups: Sequence, fractions: Sequence[float] = (0.7, 0.15, 0.15), *, seed: int = 0) -> Split:
    """All rows of a group on one side; groups shuffled with ``seed``, sides filled to ``fractions`` of the rows."""
    f = _fractions(fractions)
    codes, uniques = pd.factorize(pd.Series(groups), use_na_sentinel=False)
    if len(uniques) < 3:
        raise InvalidInputError(f"need at least 3 groups to split by group, got {len(uniques)}")
    sizes = np.bincount(codes, minlength=len(uniques))
    perm = np.random.default_rng(seed).permutation(len(uniques))
    cum = np.cumsum(sizes[perm]) / len(codes)
    side_of_group = np.empty(len(uniques), dtype=np.int8)
    side_of_group[perm] = np.where(cum <= f[0] + 1e-12, 0, np.where(cum <= f[0] + f[1] + 1e-12, 1, 2))
    if not np.any(side_of_group[perm] == 0):
        side_of_group[perm[0]] = 0
    side = side_of_group[codes]
    return Split(np.flatnonzero(side == 0), np.flatnonzero(side == 1), np.flatnonzero(side == 2), "group")


def row_keys(table: pd.DataFrame, columns: Sequence[str] | None = None) -> np.ndarray:
    """A content hash per row over ``columns`` (all by default): equal rows have equal keys."""
    part = table if columns is None else table[list(columns)]
    return np.array(
        [hashlib.blake2b(repr(tuple(r)).encode(), digest_size=12).hexdigest() for r in part.itertuples(index=False)]
    )


def check_leakage(
    split: Split,
    *,
    groups: Sequence | None = None,
    times: Sequence | None = None,
    keys: Sequence | None = None,
) -> dict[str, int]:
    """Raise :class:`LeakageError` if the split leaks; return the side sizes when it is clean.

    Checks that no row is on two sides, that no group (``groups``) spans sides, that every training
    time is before every validation time and those before every test time (``times``), and that no
    content key (``keys``, e.g. :func:`row_keys` or a text hash) is on the training side and an
    evaluation side (an exact duplicate that lets the model see the answer).
    """
    sides = split.sides()
    problems: list[str] = []
    uniq, counts = np.unique(
        np.concatenate([np.asarray(v, dtype=np.int64) for v in sides.values()]), return_counts=True
    )
    if np.any(counts > 1):
        problems.append(
            f"{int(np.sum(counts > 1))} row(s) on more than one side, e.g. rows {uniq[counts > 1][:3].tolist()}"
        )
    if groups is not None:
        g = pd.Series(groups).reset_index(drop=True)
        side_sets = {name: set(g.iloc[idx]) for name, idx in sides.items()}
        for a, b in (("train", "validation"), ("train", "test"), ("validation", "test")):
            shared = side_sets[a] & side_sets[b]
            if shared:
                problems.append(f"{len(shared)} group(s) on both {a} and {b}, e.g. {sorted(map(str, shared))[:3]}")
    if times is not None:
        t = pd.Series(times).reset_index(drop=True)
        spans = {name: (t.iloc[idx].min(), t.iloc[idx].max()) for name, idx in sides.items() if len(idx)}
        order = [s for s in SIDES if s in spans]
        for a, b in zip(order, order[1:]):
            if not spans[a][1] < spans[b][0]:
                problems.append(f"time order broken: {a} reaches {spans[a][1]} but {b} starts at {spans[b][0]}")
    if keys is not None:
        k = np.asarray(keys)
        train_keys = set(k[split.train].tolist())
        for name in ("validation", "test"):
            dup = [i for i in sides[name] if k[i] in train_keys]
            if dup:
                problems.append(f"{len(dup)} {name} row(s) duplicate training rows, e.g. rows {dup[:3]}")
    if problems:
        raise LeakageError(
            f"the {split.method} split leaks: " + "; ".join(problems) + ". Fix the split before training."
        )
    return split.sizes()
