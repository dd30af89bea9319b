"""What a classifier is given: texts or a 2-d array of vectors, in batches; sklearn's validation errors
raised as vectree's :class:`~vectree.errors.InvalidInputError` (their messages kept); what a predict call cost."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
from sklearn.exceptions import NotFittedError

from vectree.apps.classify.neighbours import directed
from vectree.apps.classify.vote import plain
from vectree.errors import InvalidInputError


class NotFittedClassifierError(InvalidInputError, NotFittedError):
    """predict before fit (also sklearn's ``NotFittedError``)."""


class BadVectorsTypeError(InvalidInputError, TypeError):
    """Vectors that are not numbers at all (also a ``TypeError``, as numpy and sklearn raise)."""


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of ``size`` items (the last one shorter), never holding more.

    >>> [len(b) for b in batched(range(5), 2)]
    [2, 2, 1]
    """
    it = iter(items)
    while batch := list(itertools.islice(it, size)):
        yield batch


def is_vectors(x: Any) -> bool:
    """A 2-d numeric array (vectors), as opposed to a sequence of texts.

    >>> import numpy as np
    >>> is_vectors(np.zeros((2, 3))), is_vectors(["a text"])
    (True, False)
    """
    if isinstance(x, (list, tuple)) and x and isinstance(x[0], str):
        return False
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return len(x.shape) != 1 or x.dtype.kind in "biufc"
    return False


def stored_rows(
    batches: Iterable[tuple], metric: str, counts: dict[Any, int], kept: list[tuple[np.ndarray, list[Any]]] | None
) -> Iterator[tuple]:
    """The (vectors, ids, labels, metadata) batches a classifier stores: ids numbered in order, all-zero rows under
    cosine left out (:mod:`.neighbours`). Counts each label into ``counts`` and, unless ``kept`` is None, appends
    every batch's (vectors, labels) to it (for the linear heads)."""
    seen = stored = 0
    for b in batches:
        if any(y is None for y in b[2]):
            raise InvalidInputError("labels must not be None: every training text needs a label")
        ys = [plain(y) for y in b[2]]
        for v in ys:
            counts[v] = counts.get(v, 0) + 1
        n, x = len(ys), np.asarray(b[0], np.float32)
        if kept is not None:
            kept.append((x, ys))
        ids = np.arange(seen, seen + n, dtype=np.int64)
        seen += n
        keep = directed(x, metric)
        stored += int(keep.sum())
        if keep.all():
            yield (x, ids, b[2], b[3])
        elif keep.any():
            yield (x[keep], ids[keep], [v for v, k in zip(b[2], keep) if k], None)
    if counts and stored == 0:
        raise InvalidInputError("every training row is all zeros: under cosine they have no direction")


@contextlib.contextmanager
def as_invalid_input() -> Iterator[None]:
    """sklearn's input validation, its messages kept, raised as vectree's ``InvalidInputError``."""
    try:
        yield
    except InvalidInputError:
        raise
    except TypeError as exc:
        raise BadVectorsTypeError(str(exc)) from exc
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from exc


class Timings:
    """The cost of the last predict call: ``embed_s``, ``search_s``, ``n`` (one live record per classifier)."""

    def __init__(self) -> None:
        self.embed_s, self.search_s, self.n = 0.0, 0.0, 0

    def __getitem__(self, key: str) -> float:
        return getattr(self, key)

    def __setitem__(self, key: str, value: float) -> None:
        setattr(self, key, value)

    def __repr__(self) -> str:
        return f"Timings(embed_s={self.embed_s:.4f}, search_s={self.search_s:.4f}, n={self.n})"
