"""The error hierarchy: every error vectree raises on purpose is a `VectreeError`.

Messages say what was wrong, what was expected, and what to do.
"""

from __future__ import annotations


class VectreeError(Exception):
    """Base class of every error vectree raises on purpose."""


class InvalidInputError(VectreeError, ValueError):
    """Bad input from the caller: wrong shape, NaN, duplicate ids, unknown option..."""


class NotFoundError(VectreeError, KeyError):
    """A collection, version, object or id that does not exist."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0]) if self.args else ""


class CorruptionError(VectreeError):
    """Stored bytes that do not match their fingerprint or cannot be decoded."""


class ConflictError(VectreeError):
    """Another writer committed first and the change could not be rebased onto it."""


class StorageError(VectreeError):
    """The object store failed (after retries): unreachable server, permission denied..."""
