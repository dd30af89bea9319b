"""The disk cache keeps immutable objects by key, bounded in bytes, evicting the least recently used."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from vectree.storage.diskcache import DiskCache

REPO = Path(__file__).resolve().parents[2]
KB = 1024


def test_get_returns_what_put_stored_and_none_for_absent(tmp_path):
    cache = DiskCache(tmp_path, capacity_bytes=1 << 20)
    cache.put("buckets/aa.arrow", b"abc")
    assert cache.get("buckets/aa.arrow") == b"abc"
    assert cache.get("buckets/bb.arrow") is None
    assert (cache.stats.hits, cache.stats.misses) == (1, 1)


def test_entries_survive_a_new_cache_object_on_the_same_directory(tmp_path):
    DiskCache(tmp_path, 1 << 20).put("k", b"persisted")
    assert DiskCache(tmp_path, 1 << 20).get("k") == b"persisted"


def test_size_stays_bounded_and_least_recently_used_go_first(tmp_path):
    cache = DiskCache(tmp_path, capacity_bytes=10 * KB, low_water=0.6)
    for name in "abcd":
        cache.put(name, name.encode() * 2 * KB)
    assert cache.get("a") is not None  # a is now the most recently used
    cache.put("e", b"e" * 2 * KB)  # passes 10 KiB: evict the oldest down to 6 KiB
    on_disk = sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file())
    assert on_disk <= 6 * KB
    assert cache.stats.evictions == 3
    assert [n for n in "abcde" if cache.get(n) is not None] == ["a", "e"]
    for name in "fghijk":
        cache.put(name, name.encode() * 2 * KB)
        assert sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file()) <= 10 * KB


def test_objects_larger_than_the_cache_are_not_kept(tmp_path):
    cache = DiskCache(tmp_path, capacity_bytes=KB)
    cache.put("big", b"x" * 2 * KB)
    assert cache.get("big") is None


def test_a_damaged_entry_is_a_miss_and_is_removed(tmp_path):
    cache = DiskCache(tmp_path, 1 << 20)
    cache.put("k", b"0123456789")
    (entry,) = [p for p in tmp_path.rglob("*") if p.is_file()]
    entry.write_bytes(entry.read_bytes()[:-3])  # truncated
    assert cache.get("k") is None
    assert not entry.exists()
    cache.put("k2", b"abc")
    (entry2,) = [p for p in tmp_path.rglob("*") if p.is_file()]
    raw = bytearray(entry2.read_bytes())
    raw[-1] ^= 0xFF  # flipped bits
    entry2.write_bytes(bytes(raw))
    assert cache.get("k2") is None


_WRITER = """
import sys
from vectree.storage.diskcache import DiskCache
cache = DiskCache(sys.argv[1], capacity_bytes=64 * 1024)
for round in range(30):
    for k in range(40):
        data = bytes([k]) * (1000 + k)
        cache.put(f"obj-{k}", data)
        got = cache.get(f"obj-{(k * 7) % 40}")
        assert got is None or got == bytes([(k * 7) % 40]) * (1000 + (k * 7) % 40), "torn or wrong read"
"""


def test_concurrent_processes_never_read_a_partial_entry(tmp_path):
    env = os.environ | {"PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path)], env=env, stderr=subprocess.PIPE)
             for _ in range(3)]  # fmt: skip
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    assert not [p for p in tmp_path.rglob(".tmp-*")]
    total = sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file())
    assert total <= 64 * 1024 + 3 * 1100  # each process may overshoot by one entry before it evicts
