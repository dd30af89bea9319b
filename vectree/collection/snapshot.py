"""One committed version, opened for reading: its manifest plus lazily fetched, cached objects.

All objects a manifest names are immutable and named by fingerprint, so a decoded object can be
cached across versions and processes without invalidation; only manifests change.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from vectree._native import as_float32
from vectree.errors import CorruptionError
from vectree.format.bucket import Layout, Rows, decode_rows_with_layout, rows_from_layout
from vectree.format.fingerprint import check_fingerprint, fingerprint
from vectree.format.keys import id_keys
from vectree.index.idmap import KeyShard, shard_of
from vectree.index.index import Index
from vectree.collection.manifest import Manifest, SegmentRef
from vectree.storage.base import ObjectStore
from vectree.storage.cache import ByteLRU
from vectree.storage.diskcache import DiskCache


@dataclass(eq=False)  # compared by identity: two blocks are the same only if they are one object
class Block:
    """A decoded bucket or segment, ready to scan."""

    fingerprint: str
    rows: Rows
    keys: np.ndarray  # int64 key of each row
    extra: dict = field(default_factory=dict)  # derived per-block data (the scan kernel's addresses)

    @property
    def sqnorms(self) -> np.ndarray:
        """float32 squared norm of each vector, computed on first use (only l2 needs them)."""
        found = self.extra.get("sqnorms")
        if found is None:
            v = as_float32(self.rows.vectors)  # (float16 would also sum in float16)
            found = self.extra["sqnorms"] = np.einsum("ij,ij->i", v, v)
        return found

    @property
    def nbytes(self) -> int:
        return self.rows.nbytes + self.keys.nbytes + len(self.rows) * 4  # with the squared norms


class ObjectCache:
    """Fetches and decodes fingerprint-named objects through a bounded LRU (bytes).

    With ``disk`` (a :class:`~vectree.storage.diskcache.DiskCache`), memory misses look in a local
    directory before the store, and fetched objects are kept there too. Only fingerprint-named objects
    pass through here, never manifests, so neither cache ever needs invalidating; every object is
    still checked against its fingerprint when decoded.
    """

    def __init__(self, store: ObjectStore, capacity_bytes: int, disk: DiskCache | None = None) -> None:
        self.store = store
        self.lru: ByteLRU[object] = ByteLRU(capacity_bytes)
        self.disk = disk
        self._checked: dict[str, object] = {}  # fingerprint -> store identity of the file whose hash matched
        # fingerprint -> where its arrays sit in that file: a re-read after eviction skips Arrow (~40 us a file)
        self._layouts: dict[str, Layout] = {}

    def _fetch(self, keys: list[str]) -> list[bytes | memoryview]:
        if self.disk is None:
            return self.store.read_many(keys)
        found = [self.disk.get(k) for k in keys]
        missing = [k for k, d in zip(keys, found) if d is None]
        if missing:
            fetched = dict(zip(missing, self.store.get_many(missing)))
            for k, d in fetched.items():
                self.disk.put(k, d)
            found = [d if d is not None else fetched[k] for k, d in zip(keys, found)]
        return found  # type: ignore[return-value]

    def blocks(self, refs: list[tuple[str, str]]) -> list[Block]:
        """Decoded blocks for ``(folder, fingerprint)`` refs; misses are fetched in parallel."""
        out: dict[str, Block] = {}
        missing = []
        for (folder, fp), hit in zip(refs, self.lru.get_many([fp for _, fp in refs])):
            if hit is None:
                missing.append((folder, fp))
            else:
                out[fp] = hit  # type: ignore[assignment]
        if missing:
            keys = [f"{folder}/{fp}.arrow" for folder, fp in missing]
            # a memory-mapped local file is hashed when first read; while it stays the same file (same
            # inode, size and mtime), later reads of this immutable object skip the hash
            idents = [self.store.identity(k) for k in keys] if self.disk is None else [None] * len(keys)
            datas = self._fetch(keys)
            for (folder, fp), data, ident in zip(missing, datas, idents):
                known = ident is not None and self._checked.get(fp) == ident
                layout = self._layouts.get(fp) if known else None
                if layout is not None:  # the same file as last time: its arrays are where they were
                    rows = rows_from_layout(data, layout)
                else:
                    rows, layout = decode_rows_with_layout(data, None if known else fp, what=folder[:-1])
                    if ident is not None and layout is not None:
                        self._layouts[fp] = layout
                if ident is not None:
                    self._checked[fp] = ident
                block = Block(fp, rows, id_keys(rows.ids))
                self.lru.stats.bytes_fetched += len(data)
                self.lru.put(fp, block, block.nbytes)
                out[fp] = block
        return [out[fp] for _, fp in refs]

    def small(self, key: str, fp: str, decode):  # noqa: ANN001, ANN201 - decode(bytes) -> object
        """A small object (index, id map shard, keys, tombstones), decoded once."""
        cached = self.lru.get(key)
        if cached is not None:
            return cached
        data = self._fetch([key])[0]
        value = decode(data)
        self.lru.stats.bytes_fetched += len(data)
        self.lru.put(key, value, len(data) + 256)
        return value


def encode_keys(keys: np.ndarray) -> tuple[bytes, str]:
    buf = io.BytesIO()
    np.save(buf, np.sort(keys).astype(np.int64), allow_pickle=False)
    data = buf.getvalue()
    return data, fingerprint(data)


def _decode_keys(fp: str):  # noqa: ANN202
    def decode(data: bytes) -> np.ndarray:
        check_fingerprint(data, fp, f"key list {fp}")
        try:
            return np.load(io.BytesIO(data), allow_pickle=False)
        except ValueError as exc:
            raise CorruptionError(f"key list {fp} cannot be decoded: {exc}") from exc

    return decode


def encode_tombstones(tomb: dict[str, np.ndarray]) -> tuple[bytes, str]:
    fps = sorted(tomb)
    buf = io.BytesIO()
    counts = np.array([len(tomb[f]) for f in fps], dtype=np.int64)
    keys = np.concatenate([np.sort(tomb[f]) for f in fps]) if fps else np.empty(0, np.int64)
    np.savez(buf, fingerprints=np.array(fps, dtype="U64"), counts=counts, keys=keys.astype(np.int64))
    data = buf.getvalue()
    return data, fingerprint(data)


def _decode_tombstones(fp: str):  # noqa: ANN202
    def decode(data: bytes) -> dict[str, np.ndarray]:
        check_fingerprint(data, fp, f"tombstone file {fp}")
        try:
            z = np.load(io.BytesIO(data), allow_pickle=False)
            bounds = np.concatenate([[0], np.cumsum(z["counts"])])
            return {str(f): z["keys"][bounds[i] : bounds[i + 1]] for i, f in enumerate(z["fingerprints"])}
        except (ValueError, KeyError) as exc:
            raise CorruptionError(f"tombstone file {fp} cannot be decoded: {exc}") from exc

    return decode


class Snapshot:
    """Read access to one version."""

    def __init__(self, store: ObjectStore, manifest: Manifest, cache: ObjectCache) -> None:
        self.store = store
        self.manifest = manifest
        self.cache = cache
        self._dead: dict[str, np.ndarray | None] = {}
        self.resident = None  # the scan's view of which buckets the cache holds (collection/resident.py)

    @cached_property
    def index(self) -> Index | None:
        fp = self.manifest.index
        if fp is None:
            return None
        return self.cache.small(f"index/{fp}.npz", fp, lambda data: Index.from_bytes(data, fp))

    @cached_property
    def tombstones(self) -> dict[str, np.ndarray]:
        fp = self.manifest.tombstones
        if fp is None:
            return {}
        return self.cache.small(f"tombstones/{fp}.npz", fp, _decode_tombstones(fp))

    def segment_keys(self, seg: SegmentRef) -> np.ndarray:
        return self.cache.small(f"keys/{seg.keys}.npy", seg.keys, _decode_keys(seg.keys))

    def shard(self, i: int) -> KeyShard:
        fp = self.manifest.idmap[i]
        return self.cache.small(f"idmap/{fp}.npz", fp, lambda data: KeyShard.from_bytes(data, fp))

    def file_refs(self) -> list[tuple[str, str]]:
        """Every bucket and segment of this version as ``(folder, fingerprint)``."""
        refs = []
        if self.index is not None:
            refs += [("buckets", fp) for fp in self.index.bucket_fingerprints if fp]
        refs += [("segments", s.fingerprint) for s in self.manifest.segments]
        return refs

    def dead_mask(self, block: Block) -> np.ndarray | None:
        """Rows of ``block`` deleted in this version (None when none are)."""
        if block.fingerprint not in self._dead:
            dead = self.tombstones.get(block.fingerprint)
            self._dead[block.fingerprint] = None if dead is None or not len(dead) else np.isin(block.keys, dead)
        return self._dead[block.fingerprint]

    def locate(self, keys: np.ndarray) -> np.ndarray:
        """The file (bucket or segment fingerprint) holding each live key; "" where the key is absent."""
        where = np.full(len(keys), "", dtype="U64")
        if self.manifest.idmap and self.index is not None:
            shards = shard_of(keys, self.manifest.idmap_bits)
            bucket_fps = np.array(self.index.bucket_fingerprints + [""], dtype="U64")
            for s in np.unique(shards):
                sel = np.flatnonzero(shards == s)
                leaves = self.shard(int(s)).lookup(keys[sel])
                where[sel] = bucket_fps[leaves]  # -1 maps to ""
        for seg in self.manifest.segments:
            found = np.isin(keys, self.segment_keys(seg))
            where[found] = seg.fingerprint
        for fp, dead in self.tombstones.items():
            hit = (where == fp) & np.isin(keys, dead)
            where[hit] = ""
        return where
