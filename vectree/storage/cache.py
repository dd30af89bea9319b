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

    def __init__(self, capacity_bytes: int) -> None:
        self.capacity_bytes = int(capacity_bytes)
        self._items: OrderedDict[str, tuple[V, int]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.stats = CacheStats()
        # bumped whenever a value leaves (evicted, replaced, cleared): whoever remembers what the cache
        # held can tell, with one comparison, that it may no longer be so
        self.generation = 0

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    @property
    def size_bytes(self) -> int:
        return self._size

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

    def put(self, key: str, value: V, nbytes: int) -> None:
        with self._lock:
            if key in self._items:
                self._size -= self._items.pop(key)[1]
                self.generation += 1
            if nbytes > self.capacity_bytes:
                return  # larger than the whole cache: do not flush everything for it
            self._items[key] = (value, nbytes)
            self._size += nbytes
            while self._size > self.capacity_bytes and self._items:
                _, (_, size) = self._items.popitem(last=False)
                self._size -= size
                self.stats.evictions += 1
                self.generation += 1

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
            self._items.clear()
            self._size = 0
            self.generation += 1
