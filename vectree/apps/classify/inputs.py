"""What a classifier is given: texts or a 2-d array of vectors, in batches; sklearn's validation errors
raised as vectree's :class:`~vectree.errors.InvalidInputError` (their messages kept); what a predict call cost."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable, Iterator
from typing import Any

from sklearn.exceptions import NotFittedError

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
