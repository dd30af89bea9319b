"""One committed version, opened for reading: its manifest plus lazily fetched, cached objects.

A snapshot never changes once made; whatever it computes from its objects (an index, tombstones, a
bucket's dead mask) is computed at most a few times by racing threads and stored whole, never in parts.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from vectree.collection.cache import Block, ObjectCache
from vectree.collection.manifest import Manifest, SegmentRef
from vectree.format.id_keys import KeyList, decode_key_list
from vectree.format.object_keys import BUCKETS, SEGMENTS, idmap_key, index_key, tombstones_key
from vectree.format.tombstones import decode_tombstones
from vectree.index.idmap import KeyShard, shard_of
from vectree.index.index import Index
from vectree.storage.base import ObjectStore


class Snapshot:
    """Read access to one version."""

    def __init__(
        self,
        store: ObjectStore,
        manifest: Manifest,
        cache: ObjectCache,
        written: bool = False,
        index: Index | None = None,
    ) -> None:
        self.store = store
        self.manifest = manifest
        self.cache = cache
        if index is not None:  # read with the pointer: held here, not only in the read cache (it may not fit there)
            self.__dict__["index"] = index
        self._dead: dict[str, np.ndarray | None] = {}
        self.prepared = False  # set by vectree.collection.prepare once its shared per-version work is made
        self.written = written  # made by this process's own commit (not found by a refresh)

    def following(self, manifest: Manifest, written: bool = False) -> Snapshot:
        """The snapshot of a later ``manifest`` of the same collection: the index is shared when it did not
        change (decoded once, whatever the read cache can hold)."""
        same = manifest.index is not None and manifest.index == self.manifest.index and "index" in self.__dict__
        return Snapshot(self.store, manifest, self.cache, written=written, index=self.index if same else None)

    @cached_property
    def index(self) -> Index | None:
        fp = self.manifest.index
        if fp is None:
            return None
        return self.cache.small(index_key(fp), fp, lambda data: self._decode_index(data, fp))

    def _decode_index(self, data: bytes, fp: str) -> Index:
        index = Index.from_bytes(data, fp)
        self.cache.register_spans(index)  # its buckets' id and vector spans: ranged reads of them
        return index

    @cached_property
    def tombstones(self) -> dict[str, np.ndarray]:
        fp = self.manifest.tombstones
        if fp is None:
            return {}
        return self.cache.small(tombstones_key(fp), fp, lambda data: decode_tombstones(data, fp))

    def segment_keys(self, seg: SegmentRef) -> np.ndarray:
        return self.segment_key_list(seg).keys

    def segment_key_list(self, seg: SegmentRef) -> KeyList:
        """The segment's key list object: its sorted keys, and the routing its writer recorded (if any)."""
        return self.cache.small(seg.keys_object, seg.keys, lambda data: decode_key_list(data, seg.keys))

    def shard(self, i: int) -> KeyShard:
        fp = self.manifest.idmap[i]
        return self.cache.small(idmap_key(fp), fp, lambda data: KeyShard.from_bytes(data, fp))

    @cached_property
    def tail_keys(self) -> tuple[np.ndarray, np.ndarray]:
        """Every tail segment's keys, sorted, and the segment (its position in the manifest) each comes from;
        ties in segment order. Made from the table of an earlier version whose tail this one extends, so a
        version after one more add costs one segment's keys, not every segment's."""
        segs = tuple(s.fingerprint for s in self.manifest.segments)
        kept = list(self.cache.derived.get("tail_keys", ()))  # (segments, table, owner) of recent versions
        start, table, owner = 0, np.empty(0, np.int64), np.empty(0, np.int64)
        for done, t, o in kept:
            if start < len(done) <= len(segs) and segs[: len(done)] == done:
                start, table, owner = len(done), t, o
        if start < len(segs):
            new = [self.segment_keys(s) for s in self.manifest.segments[start:]]
            keys = np.concatenate([table, *new])
            owners = np.concatenate([owner, *[np.full(len(k), start + i, np.int64) for i, k in enumerate(new)]])
            order = np.argsort(keys, kind="stable")
            table, owner = keys[order], owners[order]
        self.cache.derived["tail_keys"] = tuple([*kept[-3:], (segs, table, owner)])
        return table, owner

    @cached_property
    def _segment_fingerprints(self) -> np.ndarray:
        return np.array([s.fingerprint for s in self.manifest.segments], dtype="U64")

    def file_refs(self) -> list[tuple[str, str]]:
        """Every bucket and segment of this version as ``(folder, fingerprint)``."""
        refs = []
        if self.index is not None:
            refs += [(BUCKETS, fp) for fp in self.index.bucket_fingerprints if fp]
        refs += [(SEGMENTS, s.fingerprint) for s in self.manifest.segments]
        return refs

    def dead_mask(self, block: Block) -> np.ndarray | None:
        """Rows of ``block`` deleted in this version (None when none are)."""
        fp = block.fingerprint
        try:
            return self._dead[fp]
        except KeyError:
            dead = self.tombstones.get(fp)
            mask = None if dead is None or not len(dead) else np.isin(block.keys, dead)
            return self._dead.setdefault(fp, mask)

    def locate(self, keys: np.ndarray) -> np.ndarray:
        """The file (bucket or segment fingerprint) holding each live key; "" where the key is absent."""
        where = np.full(len(keys), "", dtype="U64")
        if self.manifest.idmap and self.index is not None:
            shards = shard_of(keys, self.manifest.idmap_bits)
            bucket_fps = np.array(self.index.bucket_fingerprints + [""], dtype="U64")
            for s in np.unique(shards):
                sel = np.flatnonzero(shards == s)
                buckets = self.shard(int(s)).lookup(keys[sel])
                where[sel] = bucket_fps[buckets]  # -1 maps to ""
        if self.manifest.segments:
            table, owner = self.tail_keys
            # the last segment holding a key wins (as a later write supersedes an earlier one)
            pos = np.searchsorted(table, keys, side="right") - 1
            found = pos >= 0
            found[found] = table[pos[found]] == keys[found]
            where[found] = self._segment_fingerprints[owner[pos[found]]]
        for fp, dead in self.tombstones.items():
            hit = (where == fp) & np.isin(keys, dead)
            where[hit] = ""
        return where
