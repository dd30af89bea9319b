"""The object store interface every backend implements.

Keys are '/'-separated relative paths such as ``buckets/3fa9....arrow``. Objects are immutable
by convention except manifests, which are only ever created with :meth:`ObjectStore.put_if_absent`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from vectree.errors import StorageError
from vectree.pools import io_pool


def check_key(key: str) -> str:
    """``key`` if it is a valid object key (a relative '/'-separated path without '..' or '//').

    >>> check_key("buckets/ab.arrow")
    'buckets/ab.arrow'
    """
    if not isinstance(key, str) or not key or key.startswith("/") or ".." in key.split("/") or "//" in key:
        raise StorageError(f"invalid object key {key!r}: keys are relative paths without '..' or '//'")
    return key


@dataclass(frozen=True)
class ObjectInfo:
    """One stored object as a listing sees it: its key, size in bytes, and when it was last written
    (seconds since the epoch; None when the backend cannot tell)."""

    key: str
    size: int
    modified: float | None


class ObjectStore(ABC):
    """A flat namespace of byte objects: local directory, S3 bucket prefix, memory.

    Backends raise :class:`vectree.errors.NotFoundError` for a missing key and
    :class:`vectree.errors.StorageError` when the store itself fails.
    """

    url: str
    # whether reading only some byte ranges of an object pays (a remote store: each byte costs transfer),
    # rather than reading the whole object (a local file: mapped, the unread pages are never touched)
    ranged_reads: bool = False

    @abstractmethod
    def get(self, key: str) -> bytes:
        """Return the whole object stored under ``key``."""

    @abstractmethod
    def get_range(self, key: str, start: int, end: int) -> bytes:
        """Return bytes ``[start, end)`` of the object under ``key``."""

    @abstractmethod
    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` atomically (readers see the old or the new object, never a part)."""

    @abstractmethod
    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Store ``data`` under ``key`` only if no object is there; return False if one was."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""

    @abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """All keys starting with ``prefix``, sorted."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key``; removing a missing key is not an error."""

    def list_info(self, prefix: str = "") -> list[ObjectInfo]:
        """Like :meth:`list`, with each object's size and last write time (sorted by key).

        The default knows neither (size 0, modified None): a cleanup then treats every object as
        too young to delete.
        """
        return [ObjectInfo(k, 0, None) for k in self.list(prefix)]

    def get_many(self, keys: Sequence[str], max_workers: int = 8) -> list[bytes]:
        """Fetch several objects, in parallel where the backend benefits (one round trip of latency)."""
        if len(keys) <= 1 or max_workers <= 1:
            return [self.get(k) for k in keys]
        return list(io_pool().map(self.get, keys))

    def get_ranges(
        self, items: Sequence[tuple[str, int, int | None]], then: Callable[[int, Any], Any] | None = None
    ) -> list[Any]:
        """Bytes ``[start, end)`` of each ``(key, start, end)`` (in parallel where the backend benefits);
        ``end=None``: the whole object (``start`` must be 0). ``then(i, data)``, when given, runs on each
        item's bytes as soon as they arrive (on the thread that read them: e.g. a hash check overlapping
        the other reads) and its result is returned in place of the bytes.

        >>> from vectree.storage.memory import MemoryStore
        >>> s = MemoryStore(); s.put("a", b"0123456789"); s.get_ranges([("a", 2, 5), ("a", 8, 10)])
        [b'234', b'89']
        """
        out = [self.get(k) if b is None else self.get_range(k, a, b) for k, a, b in items]
        return out if then is None else [then(i, data) for i, data in enumerate(out)]

    def submit(self, fn: Callable[[], Any]) -> Future:
        """Run ``fn`` (which reads this store) in the background; ``.result()`` waits for it. Stores that
        count round trips (:class:`~vectree.storage.s3.S3Store`) count its requests as overlapping the caller's."""
        return io_pool().submit(fn)

    def identity(self, key: str) -> Hashable | None:
        """Something that changes whenever the stored object is replaced (None: the backend cannot tell).

        Readers that checked an immutable object's fingerprint once may skip the hash while this holds.
        """
        return None

    def read_many(self, keys: Sequence[str]) -> list[bytes | memoryview]:
        """Like :meth:`get_many`, for objects only read and decoded: a backend may hand back read-only
        buffers (a memory-mapped file) instead of copies."""
        return self.get_many(keys)

    def put_many(self, items: Iterable[tuple[str, bytes]], max_workers: int = 8) -> None:
        """Store several objects, in parallel where the backend benefits."""
        items = list(items)
        if len(items) <= 1:
            for k, d in items:
                self.put(k, d)
            return
        if max_workers <= 1:
            for k, d in items:
                self.put(k, d)
            return
        list(io_pool().map(lambda kd: self.put(*kd), items))

    def close(self) -> None:  # noqa: B027 - a default, not abstract: stores holding no connections keep it
        """Release connections; the default has nothing to release."""
