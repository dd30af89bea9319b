"""Deterministic, salted assignment of units (users) to experiment variants.

A unit's variant is a pure function of ``(salt, experiment, unit_id)``: the same user always sees the
same variant, different experiments hash independently (the experiment name is part of the key), and
no assignment table has to be stored. The hash is BLAKE2b, whose first 8 bytes are read as a number
uniform on [0, 1) and mapped onto the cumulative traffic shares.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from vectree.errors import InvalidInputError

__all__ = ["Assigner", "assign", "hash_unit"]

_SCALE = float(2**64)


def hash_unit(unit_id: object, experiment: str, salt: str = "") -> float:
    """Return the unit's position in [0, 1) for ``experiment``: uniform, deterministic, salted."""
    key = f"{salt}\x1f{experiment}\x1f{unit_id}".encode()
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


@dataclass(frozen=True)
class Assigner:
    """Assigns units to ``variants`` with traffic ``shares`` (default: equal), deterministically.

    Parameters
    ----------
    experiment:
        Name of the experiment; part of the hash key, so two experiments split users independently.
    variants:
        Variant names; the first is the control by convention.
    shares:
        Traffic fraction of each variant, summing to 1 (or to less than 1: the remainder is not
        enrolled and gets ``None``).
    salt:
        An extra secret or version string; change it to reshuffle everyone.

    Examples
    --------
    >>> a = Assigner("new-ranker", ["control", "treatment"], shares=[0.5, 0.5])
    >>> a.assign_one("user-42") == a.assign_one("user-42")
    True
    """

    experiment: str
    variants: Sequence[str] = ("control", "treatment")
    shares: Sequence[float] | None = None
    salt: str = ""
    _edges: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        variants = tuple(str(v) for v in self.variants)
        if len(variants) < 2:
            raise InvalidInputError(f"an experiment needs at least 2 variants, got {list(variants)}")
        if len(set(variants)) != len(variants):
            raise InvalidInputError(f"variant names must be distinct, got {list(variants)}")
        shares = np.full(len(variants), 1.0 / len(variants)) if self.shares is None else np.asarray(self.shares, float)
        if shares.shape != (len(variants),):
            raise InvalidInputError(f"give one share per variant: {len(variants)} variants, shares={list(shares)}")
        if np.any(shares < 0) or not np.all(np.isfinite(shares)):
            raise InvalidInputError(f"shares must be finite and non-negative, got {list(shares)}")
        total = float(shares.sum())
        if total <= 0 or total > 1 + 1e-9:
            raise InvalidInputError(f"shares must sum to a value in (0, 1], got {total:.6g}; rescale them")
        object.__setattr__(self, "variants", variants)
        object.__setattr__(self, "shares", tuple(float(s) for s in shares))
        object.__setattr__(self, "_edges", tuple(np.cumsum(shares).tolist()))

    def position(self, unit_ids: Iterable[object]) -> np.ndarray:
        """Hash positions in [0, 1) of the units, as a float64 array."""
        return np.fromiter((hash_unit(u, self.experiment, self.salt) for u in unit_ids), dtype=np.float64)

    def assign(self, unit_ids: Iterable[object]) -> np.ndarray:
        """Variant name of each unit (``None`` for units outside the enrolled traffic), as an object array."""
        pos = self.position(unit_ids)
        idx = np.searchsorted(np.asarray(self._edges), pos, side="right")
        names = np.array(list(self.variants) + [None], dtype=object)
        return names[np.minimum(idx, len(self.variants))]

    def assign_one(self, unit_id: object) -> str | None:
        """Variant of one unit."""
        return self.assign([unit_id])[0]


def assign(
    unit_ids: Iterable[object],
    experiment: str,
    variants: Sequence[str] = ("control", "treatment"),
    shares: Sequence[float] | None = None,
    salt: str = "",
) -> np.ndarray:
    """Variant of each unit in ``experiment``; shorthand for ``Assigner(...).assign(unit_ids)``."""
    return Assigner(experiment, variants, shares, salt).assign(unit_ids)
