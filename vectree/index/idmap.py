"""Where each id lives: sorted key arrays, sharded by key hash so no step loads all of them.

A shard holds the int64 keys (see :func:`vectree.format.id_keys.id_keys`) of the rows whose key
hashes to it, sorted, with the number of the bucket holding each row. The number of shards
grows with the collection (about a million keys per shard), so building, loading and checking
ids stays bounded in memory.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from vectree.errors import CorruptionError
from vectree.format.fingerprint import check_fingerprint, fingerprint

KEYS_PER_SHARD = 1 << 20
_MIX = np.uint64(0x9E3779B97F4A7C15)


def shard_bits_for(n_rows: int) -> int:
    """log2 of the shard count for ``n_rows`` keys."""
    return max(0, int(np.ceil(np.log2(max(1, n_rows) / KEYS_PER_SHARD))))


def shard_of(keys: np.ndarray, bits: int) -> np.ndarray:
    """Shard number of each key (a multiplicative hash, so sequential ids spread evenly)."""
    if bits == 0:
        return np.zeros(len(keys), dtype=np.int64)
    with np.errstate(over="ignore"):
        mixed = keys.astype(np.uint64) * _MIX
    return (mixed >> np.uint64(64 - bits)).astype(np.int64)


@dataclass
class KeyShard:
    keys: np.ndarray  # sorted int64
    buckets: np.ndarray  # int32, number of the bucket holding each key

    def to_bytes(self) -> tuple[bytes, str]:
        buf = io.BytesIO()
        np.savez(buf, keys=self.keys, buckets=self.buckets)
        data = buf.getvalue()
        return data, fingerprint(data)

    @classmethod
    def from_bytes(cls, data: bytes, expected_fingerprint: str) -> KeyShard:
        check_fingerprint(data, expected_fingerprint, f"id map shard {expected_fingerprint}")
        try:
            z = np.load(io.BytesIO(data), allow_pickle=False)
            # shards written before the vocabulary was settled name the bucket numbers "leaves"
            return cls(keys=z["keys"], buckets=z["buckets"] if "buckets" in z.files else z["leaves"])
        except (ValueError, KeyError, OSError) as exc:
            raise CorruptionError(f"id map shard {expected_fingerprint} cannot be decoded: {exc}") from exc

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """Bucket of each key, -1 where absent."""
        if len(self.keys) == 0:
            return np.full(len(keys), -1, dtype=np.int64)
        pos = np.searchsorted(self.keys, keys)
        pos_c = np.minimum(pos, len(self.keys) - 1)
        found = self.keys[pos_c] == keys
        return np.where(found, self.buckets[pos_c], -1).astype(np.int64)


class KeySpill:
    """Collects (key, bucket) pairs on disk, one file per shard, then sorts each shard alone."""

    def __init__(self, bits: int, workdir: str) -> None:
        self.bits = bits
        self.dir = tempfile.mkdtemp(prefix="keys-", dir=workdir)
        # open for the whole spill (every add() appends to them), closed by finish()/close()
        self._files = [open(os.path.join(self.dir, f"{s}.bin"), "wb") for s in range(1 << bits)]  # noqa: SIM115

    def add(self, keys: np.ndarray, buckets: np.ndarray) -> None:
        shards = shard_of(keys, self.bits)
        pairs = np.empty(len(keys), dtype=[("k", "<i8"), ("l", "<i4")])
        pairs["k"], pairs["l"] = keys, buckets
        for s in np.unique(shards):
            self._files[s].write(pairs[shards == s].tobytes())

    def shards(self) -> Iterable[KeyShard]:
        """Each shard, sorted by key; duplicate keys are an error the caller checks for."""
        for f in self._files:
            f.close()
        for s in range(1 << self.bits):
            pairs = np.fromfile(os.path.join(self.dir, f"{s}.bin"), dtype=[("k", "<i8"), ("l", "<i4")])
            order = np.argsort(pairs["k"], kind="stable")
            yield KeyShard(keys=pairs["k"][order].copy(), buckets=pairs["l"][order].astype(np.int32))
