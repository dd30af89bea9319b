"""A bounded, thread-safe LRU keyed by fingerprint and sized in bytes."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

V = TypeVar("V")


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    bytes_fetched: int = 0
    evictions: int = 0


class ByteLRU(Generic[V]):
    """Keep the most recently used values until their total ``nbytes`` passes ``capacity_bytes``.

    Safe only for immutable values keyed by content (fingerprints): a key never changes meaning.

    >>> c = ByteLRU(10); c.put("a", "xxxx", 4); c.put("b", "yyyyyyyy", 8); "a" in c
    False
    """

    def __init__(self, capacity_bytes: int, on_evict: Callable[[str, V], None] | None = None) -> None:
        self.capacity_bytes = int(capacity_bytes)
        self.on_evict = on_evict  # called with (key, value) for every value that leaves, outside the lock
        self._items: OrderedDict[str, tuple[V, int]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.stats = CacheStats()

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    @property
    def size_bytes(self) -> int:
        return self._size

    def values(self) -> list[V]:
        """The values held now, least recently used first (a copy: the cache may change meanwhile)."""
        with self._lock:
            return [v for v, _ in self._items.values()]

    def get(self, key: str) -> V | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.stats.misses += 1
                return None
            self._items.move_to_end(key)
            self.stats.hits += 1
            return item[0]

    def get_many(self, keys: list[str]) -> list[V | None]:
        """``get`` for several keys under one lock (a query's probed buckets, say)."""
        out: list[V | None] = []
        misses = 0
        with self._lock:
            items = self._items
            for key in keys:
                item = items.get(key)
                if item is None:
                    out.append(None)
                    misses += 1
                else:
                    items.move_to_end(key)
                    out.append(item[0])
            self.stats.hits += len(keys) - misses
            self.stats.misses += misses
        return out

    def peek(self, key: str) -> V | None:
        """The value without counting a hit or refreshing its recency."""
        item = self._items.get(key)
        return None if item is None else item[0]

    def replace(self, key: str, old: V, new: V) -> bool:
        """Put ``new`` in the place of ``old`` (same size, same recency) if ``key`` still holds ``old``."""
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] is not old:
                return False
            self._items[key] = (new, item[1])
            return True

    def get_all(self, keys: list[str]) -> list[V] | None:
        """Every value, as ``get_many``; or None, with nothing counted, as soon as one is missing
        (a query's warm path: one walk when everything is cached, else the caller fetches).

        >>> c = ByteLRU(10); c.put("a", "A", 1); c.get_all(["a"]), c.get_all(["a", "b"]), c.stats.hits
        (['A'], None, 1)
        """
        out: list[V] = []
        with self._lock:
            get, refresh = self._items.get, self._items.move_to_end
            for key in keys:
                item = get(key)
                if item is None:
                    return None
                refresh(key)
                out.append(item[0])
            self.stats.hits += len(keys)
        return out

    def put(self, key: str, value: V, nbytes: int) -> None:
        gone: list[tuple[str, V]] = []
        with self._lock:
            if key in self._items:
                old, size = self._items.pop(key)
                self._size -= size
                gone.append((key, old))
            if nbytes <= self.capacity_bytes:  # (larger than the whole cache: do not flush everything for it)
                self._items[key] = (value, nbytes)
                self._size += nbytes
                while self._size > self.capacity_bytes and self._items:
                    out, (old, size) = self._items.popitem(last=False)
                    self._size -= size
                    self.stats.evictions += 1
                    gone.append((out, old))
        self._gone(gone)
        if nbytes > self.capacity_bytes:
            self._gone([(key, value)])

    def _gone(self, gone: list[tuple[str, V]]) -> None:
        if self.on_evict is not None:
            for key, value in gone:
                self.on_evict(key, value)

    def get_or_load(self, key: str, load: Callable[[], tuple[V, int]]) -> V:
        """Return the cached value or load, remember and return it."""
        value = self.get(key)
        if value is None:
            value, nbytes = load()
            self.stats.bytes_fetched += nbytes
            self.put(key, value, nbytes)
        return value

    def clear(self) -> None:
        with self._lock:
            gone = [(key, item[0]) for key, item in self._items.items()]
            self._items.clear()
            self._size = 0
        self._gone(gone)
