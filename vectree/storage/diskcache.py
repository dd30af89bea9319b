"""A local-directory cache of immutable objects, bounded in bytes, shared safely by processes.

Meant as the second level under the in-memory :class:`~vectree.storage.cache.ByteLRU`: bucket
files are named by their fingerprint, so a key never changes meaning and entries never need
invalidating, only evicting. Eviction removes the least recently used files (by their modification
time, which :meth:`DiskCache.get` refreshes; atime is unreliable on ``noatime`` mounts) until the
directory is back under its low-water mark.

Concurrency: each entry is written to a temporary file and renamed into place, so a reader in any
process sees a whole entry or none. Each entry carries its length and CRC-32, so a file damaged on
disk is dropped and reported as a miss, never returned. Several processes may share one directory;
each keeps an estimate of its size and rescans the directory when the estimate passes the bound.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import struct
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from vectree.errors import InvalidInputError

log = logging.getLogger(__name__)

_MAGIC = b"VTC1"
_HEADER = struct.Struct("<4sQI")  # magic, length, crc32
_STALE_TEMP_S = 3600.0


@dataclass
class DiskCacheStats:
    hits: int = 0
    misses: int = 0
    bytes_written: int = 0
    evictions: int = 0


class DiskCache:
    """Objects by key under ``directory``, at most about ``capacity_bytes`` in total.

    >>> import tempfile; cache = DiskCache(tempfile.mkdtemp(), capacity_bytes=1 << 20)
    >>> cache.put("buckets/3fa9.arrow", b"rows"); cache.get("buckets/3fa9.arrow"), cache.get("nope")
    (b'rows', None)

    Parameters
    ----------
    directory:
        Where entries live (created if missing); may be shared by several processes.
    capacity_bytes:
        The bound on the total size of entries (headers included).
    low_water:
        Eviction goes down to ``low_water * capacity_bytes``, so it does not run on every put.
    """

    def __init__(self, directory: str | os.PathLike[str], capacity_bytes: int, low_water: float = 0.8) -> None:
        if capacity_bytes <= 0:
            raise InvalidInputError(f"DiskCache capacity_bytes must be > 0, got {capacity_bytes}")
        if not 0.0 < low_water <= 1.0:
            raise InvalidInputError(f"DiskCache low_water must be in (0, 1], got {low_water}")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.capacity_bytes = int(capacity_bytes)
        self.low_water = float(low_water)
        self.stats = DiskCacheStats()
        self._lock = threading.Lock()
        self._size = self._scan()[0]

    def _path(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        return self.directory / digest[:2] / digest

    def get(self, key: str) -> bytes | None:
        """The cached object under ``key``, or None (absent, evicted meanwhile, or damaged)."""
        path = self._path(key)
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except (FileNotFoundError, NotADirectoryError):
            self._count(miss=True)
            return None
        data = self._decode(raw)
        if data is None:
            log.warning("dropping damaged disk-cache entry %s for %r", path, key)
            path.unlink(missing_ok=True)
            self._count(miss=True)
            return None
        with contextlib.suppress(FileNotFoundError):  # evicted by another process just now: the bytes read are good
            os.utime(path)  # mark as recently used
        self._count(miss=False)
        return data

    def put(self, key: str, data: bytes) -> None:
        """Remember ``data`` under ``key`` (objects larger than the whole cache are not kept)."""
        data = bytes(data)
        size = _HEADER.size + len(data)
        if size > self.capacity_bytes:
            return
        path = self._path(key)
        path.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(_HEADER.pack(_MAGIC, len(data), zlib.crc32(data)))
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        with self._lock:
            self._size += size
            self.stats.bytes_written += size
            over = self._size > self.capacity_bytes
        if over:
            self.evict()

    def __contains__(self, key: str) -> bool:
        return self._path(key).is_file()

    @property
    def size_bytes(self) -> int:
        """This process's estimate of the directory's total size."""
        return self._size

    def evict(self) -> int:
        """Rescan the directory and remove least recently used entries down to the low-water mark.

        Returns the number of entries removed.
        """
        total, entries = self._scan()
        target = int(self.capacity_bytes * self.low_water)
        removed = 0
        if total > self.capacity_bytes:
            for _mtime, size, path in sorted(entries):
                if total <= target:
                    break
                try:
                    path.unlink()
                    removed += 1
                except FileNotFoundError:
                    pass  # another process evicted it first
                total -= size
        with self._lock:
            self._size = total
            self.stats.evictions += removed
        return removed

    def clear(self) -> None:
        """Remove every entry."""
        for _mtime, _size, path in self._scan()[1]:
            path.unlink(missing_ok=True)
        with self._lock:
            self._size = 0

    def _scan(self) -> tuple[int, list[tuple[float, int, Path]]]:
        now = time.time()
        entries: list[tuple[float, int, Path]] = []
        total = 0
        for sub in self.directory.iterdir():
            if not sub.is_dir():
                continue
            for entry in os.scandir(sub):
                try:
                    st = entry.stat()
                except FileNotFoundError:
                    continue
                if entry.name.startswith(".tmp-"):
                    if now - st.st_mtime > _STALE_TEMP_S:  # left by a crashed writer
                        Path(entry.path).unlink(missing_ok=True)
                    continue
                entries.append((st.st_mtime, st.st_size, Path(entry.path)))
                total += st.st_size
        return total, entries

    @staticmethod
    def _decode(raw: bytes) -> bytes | None:
        if len(raw) < _HEADER.size:
            return None
        magic, length, crc = _HEADER.unpack_from(raw)
        data = raw[_HEADER.size :]
        if magic != _MAGIC or length != len(data) or zlib.crc32(data) != crc:
            return None
        return data

    def _count(self, miss: bool) -> None:
        with self._lock:
            if miss:
                self.stats.misses += 1
            else:
                self.stats.hits += 1

    def __repr__(self) -> str:
        return f"DiskCache({str(self.directory)!r}, capacity_bytes={self.capacity_bytes})"
