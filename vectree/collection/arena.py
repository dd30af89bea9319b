"""Where decoded buckets live in memory: large slabs, so a scan streams through huge pages.

A warm single query spends most of its time reading its probed buckets from main memory. Read from
many small allocations (one anonymous mapping per bucket file), that was ~20% slower than from one
large allocation: every 4 KiB page is a TLB miss and a restart of the hardware prefetcher. So the
read cache copies each bucket file it decodes into a *slab* (one numpy allocation of megabytes,
which numpy backs with transparent huge pages), bump-allocated, and decodes it there.

Lifetime is the numpy arrays' own: a block's arrays are views of their slab and keep it alive, so
a query holding a block evicted meanwhile still reads owned memory. The arena only counts which
cached blocks each slab holds. A slab the cache no longer uses is dropped (freed with its last view);
a slab left sparse by evictions (under ``keep`` of it cached) has its cached blocks moved to the
current slab by the cache (:meth:`vectree.collection.cache.ObjectCache`), so a few long-lived
buckets never pin many mostly-empty slabs: memory stays within about ``1 / keep`` of what the cache
holds, plus the slab being filled.

A dropped slab is kept as a spare (at most ``SPARES``) and filled again once no array uses it any
more: its pages are already backed. Fresh memory is dear on a virtual machine: touching it costs the
first write of each page (here 2.9 ms a MB, ~350 MB/s, against ~4 GB/s to copy into a page already
backed), so a refresh reading a compaction's rewritten buckets into new slabs spent 85% of its time
faulting pages in (0.35 ms to read a 93 KB bucket from the page cache, against 0.03 ms into pages
already backed). The check that no array uses a spare is its reference count: every array made from a
slab (a view, or an array over its buffer) holds a reference to it, and only the arena makes new ones.

>>> arena = Arena(capacity_bytes=64 << 20)  # slabs of 4 MiB
>>> data, slab = arena.copy_in(b"abcdefgh")
>>> bytes(data), slab is not None, arena.live_bytes(slab)
(b'abcdefgh', True, 64)
>>> arena.release(slab, "fp", 64)  # the cache let the block go: nothing left to move
[]
"""

from __future__ import annotations

import sys
import threading

import numpy as np

ALIGN = 64  # each object starts on a cache line
SPARES = 2  # dropped slabs kept to be filled again (at most this many slabs of memory held idle)


def _aligned(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


class Arena:
    """Bump-allocated slabs for the objects of one read cache of ``capacity_bytes``.

    ``slab_bytes`` defaults to 1/16 of the capacity, at most 32 MiB (numpy advises huge pages from
    4 MiB); below 1 MiB (a cache under 16 MiB) there are no slabs by default: objects stay in the
    buffers the store read them into, as a cache that small is bound by its reads, not its scans.
    An object over a quarter of a slab gets an allocation of its own, untracked.
    """

    def __init__(self, capacity_bytes: int, slab_bytes: int | None = None, keep: float = 0.75) -> None:
        self.slab_bytes = int(slab_bytes or min(32 << 20, capacity_bytes // 16))
        self.enabled = slab_bytes is not None or self.slab_bytes >= 1 << 20
        self.keep = keep
        self._lock = threading.Lock()
        self._next = 0
        self._current: int | None = None
        self._used = 0
        self._slabs: dict[int, np.ndarray] = {}
        self._live: dict[int, int] = {}  # slab -> bytes of the cached objects in it
        self._members: dict[int, set[str]] = {}  # slab -> keys of the cached objects in it
        self._draining: set[int] = set()  # sparse slabs whose objects were already handed out to move
        self._spares: list[np.ndarray] = []  # dropped slabs, filled again once nothing uses them
        self.reused = 0  # slabs filled again from the spares

    def copy_in(self, data: bytes | memoryview, key: str = "") -> tuple[np.ndarray, int | None]:
        """A copy of ``data`` in a slab (uint8 array) and the slab's number (None: its own allocation).

        Counted as cached under ``key`` until :meth:`release`."""
        src = np.frombuffer(data, np.uint8)
        if not self.enabled:
            return src, None
        out, slab = self.reserve(len(src), key)
        out[:] = src  # (outside the lock: the range is this caller's alone)
        return out, slab

    def reserve(self, n: int, key: str = "") -> tuple[np.ndarray, int | None]:
        """``n`` writable bytes (uint8 array) in a slab, for the caller to fill (a file read straight into
        it: one copy, not two), and the slab's number (None: an allocation of its own). Counted as
        :meth:`copy_in` counts."""
        size = _aligned(n)
        if not self.enabled or size > self.slab_bytes // 4:
            return np.empty(n, np.uint8), None
        with self._lock:
            if self._current is None or self._used + size > self.slab_bytes:
                self._retire_current()
                self._current, self._used = self._next, 0
                self._next += 1
                self._slabs[self._current] = self._fresh_slab()
                self._live[self._current] = 0
                self._members[self._current] = set()
            slab, start = self._current, self._used
            self._used += size
            self._live[slab] += size
            self._members[slab].add(key)
            return self._slabs[slab][start : start + n], slab

    def release(self, slab: int | None, key: str, nbytes: int) -> list[str]:
        """The cache let go of an object of ``nbytes`` (its aligned size) in ``slab``; returns the keys
        of the cached objects to move out of that slab when it became sparse (else [])."""
        if slab is None:
            return []
        with self._lock:
            if slab not in self._live:
                return []
            self._live[slab] -= nbytes
            self._members[slab].discard(key)
            if slab == self._current:
                return []
            if self._live[slab] <= 0:
                self._drop(slab)
                return []
            if slab not in self._draining and self._live[slab] < self.keep * self.slab_bytes:
                self._draining.add(slab)
                return sorted(self._members[slab])
            return []

    def draining(self) -> list[tuple[int, str]]:
        """``(slab, key)`` of the objects still counted in sparse slabs whose members were handed out.

        The cache moves these after each load: an object handed out while still being read (reserved,
        not yet cached) could not be moved then, and a slab that was already sparse when it stopped
        being the current one handed out nothing (evictions from the current slab return [])."""
        with self._lock:
            return [(slab, key) for slab in sorted(self._draining) for key in sorted(self._members[slab])]

    def live_bytes(self, slab: int) -> int:
        """Bytes of cached objects in ``slab`` (0 once dropped)."""
        with self._lock:
            return self._live.get(slab, 0)

    @property
    def slabs(self) -> int:
        """Slabs the arena still counts (each freed once no array uses it)."""
        with self._lock:
            return len(self._slabs)

    def _retire_current(self) -> None:
        slab = self._current
        if slab is None or slab not in self._live:
            return
        if self._live[slab] <= 0:
            self._drop(slab)
        elif self._live[slab] < self.keep * self.slab_bytes:
            # blocks moved here from sparse slabs are the cache's oldest, so they are often evicted
            # while this slab is still filled: it would retire sparse and stay so while its other
            # blocks stay hot
            self._draining.add(slab)

    def _fresh_slab(self) -> np.ndarray:
        for i in range(len(self._spares)):
            if sys.getrefcount(self._spares[i]) == 2:  # the list's reference and the call's: no array uses it
                self.reused += 1
                return self._spares.pop(i)
        return np.empty(self.slab_bytes, np.uint8)

    def _drop(self, slab: int) -> None:
        # the arena stops counting the slab; it stays a spare (refilled once nothing uses it) or numpy
        # frees it with the last view of it
        arr = self._slabs.pop(slab, None)
        if arr is not None:
            self._spares.append(arr)
            del self._spares[:-SPARES]
        self._live.pop(slab, None)
        self._members.pop(slab, None)
        self._draining.discard(slab)


def aligned_size(n: int) -> int:
    """What an object of ``n`` bytes takes in a slab (see :meth:`Arena.release`).

    >>> aligned_size(1), aligned_size(64), aligned_size(65)
    (64, 64, 128)
    """
    return _aligned(n)
