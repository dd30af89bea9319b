"""Decoded buckets and segments (:class:`Block`), fetched once and kept in a bounded LRU (:class:`ObjectCache`).

All objects a manifest names are immutable and named by fingerprint, so a decoded object can be
cached across versions without invalidation; only manifests change.

Threads: any number may ask for blocks at once. A miss is fetched and decoded by one thread while
the others that want the same object wait for it (single flight), so a bucket is never fetched twice
at a time and the cache never holds two decoded copies of one object. A :class:`Block` is immutable
once made: what a scan reads of it (its :class:`~vectree._native._scan.ScanBlock`) holds the arrays
through the buffer protocol, so a block evicted mid-query stays valid for whoever still holds it.

Ranged reads: from a store where they pay (S3), a search that returns no labels or metadata reads of
each bucket only the span of its id and vector columns the index records (:mod:`vectree.format.spans`),
checked against the span's digest. Such a block is *partial* (no labels, no metadata); whoever needs
whole rows (``vectors_only=False``, the default) treats a cached partial block as a miss and reads the file.
Buckets with codes record a code span instead (:attr:`ObjectCache.code_spans`): a quantized search over
buckets not held reads those and then single vector chunks (:mod:`vectree.collection.coldcodes`), and
keeps the decoded code spans here under ``<fingerprint>#codes``.

Memory: bucket and segment files are decoded from a copy in the cache's :class:`~vectree.collection.arena.Arena`
(large slabs on huge pages: a scan reads them ~20% faster than from one small allocation per file);
when evictions leave a slab sparse, its remaining blocks are moved (:meth:`ObjectCache._move`).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from vectree._native import _scan, as_float32
from vectree.collection.arena import Arena, aligned_size
from vectree.collection.spanmap import SpanMap
from vectree.errors import CorruptionError
from vectree.format.bucket import Layout, Rows, decode_rows_with_layout, rows_from_layout
from vectree.format.codespans import StoredSpans
from vectree.format.id_keys import id_keys
from vectree.format.object_keys import BUCKETS, rows_key
from vectree.format.spans import ColumnSpan, check_span, rows_from_span
from vectree.pools import io_pool
from vectree.storage.base import ObjectStore
from vectree.storage.cache import ByteLRU
from vectree.storage.diskcache import DiskCache


class BlockLRU(ByteLRU):
    """The read cache's LRU, with what the one-call single-query path needs (``collection/single.py``)."""

    def refresh(self, keys: list[str], hits: int = 0) -> None:
        """Mark ``keys`` (those still held) as just used and count ``hits`` served without a lookup
        (a query path that holds its values elsewhere and reports them in batches).

        >>> c = BlockLRU(2); c.put("a", "A", 1); c.put("b", "B", 1); c.refresh(["a"], 3); c.put("c", "C", 1)
        >>> "a" in c, "b" in c, c.stats.hits
        (True, False, 3)
        """
        with self._lock:
            items = self._items
            for key in keys:
                if key in items:
                    items.move_to_end(key)
            self.stats.hits += hits

    def while_held(self, pairs: list[tuple[str, object]], action: Callable[[int], None]) -> None:
        """``action(i)`` for each ``pairs[i] = (key, value)`` whose key still holds that value, under
        the lock: an eviction of it comes after, so its ``on_evict`` sees what ``action`` did.

        >>> c = BlockLRU(4); c.put("a", "A", 1); seen = []; c.while_held([("a", "A"), ("b", "B")], seen.append); seen
        [0]
        """
        with self._lock:
            items = self._items
            for i, (key, value) in enumerate(pairs):
                item = items.get(key)
                if item is not None and item[0] is value:
                    action(i)


@dataclass(eq=False)  # compared by identity: two blocks are the same only if they are one object
class Block:
    """A decoded bucket or segment, ready to scan."""

    fingerprint: str
    rows: Rows
    keys: np.ndarray  # int64 key of each row
    _derived: dict = field(default_factory=dict, repr=False)  # computed once, never changed after
    scan: _scan.ScanBlock | None = field(default=None, repr=False)  # made at decode when the metric is known
    data: np.ndarray | None = field(default=None, repr=False)  # the file its arrays are views of, in ``slab``
    slab: int | None = field(default=None, repr=False)  # the arena slab of ``data`` (None: not in one)
    partial: bool = False  # read from its id and vector span: no labels, no metadata

    def moved(self, data: np.ndarray, slab: int | None) -> Block:
        """The same block with its arrays in ``data``, a copy of :attr:`data` (views at the same offsets)."""
        old = self.data

        def rebase(a):  # noqa: ANN001, ANN202 - an array field of the rows, or anything else
            if not isinstance(a, np.ndarray) or a.base is None or old is None:
                return a
            offset = a.ctypes.data - old.ctypes.data
            if not 0 <= offset < old.nbytes:
                return a  # not a view of the file (decoded into memory of its own)
            return np.ndarray(a.shape, a.dtype, buffer=data, offset=offset, strides=a.strides)

        r = self.rows
        rows = Rows(
            ids=rebase(r.ids),
            vectors=rebase(r.vectors),
            labels=rebase(r.labels),
            metadata=r.metadata,
            codes=rebase(r.codes),
            code_lo=r.code_lo,
            code_scale=r.code_scale,
        )
        block = Block(self.fingerprint, rows, rebase(self.keys), data=data, slab=slab, partial=self.partial)
        if "sqnorms" in self._derived:
            block._derived["sqnorms"] = self._derived["sqnorms"]
        if self.scan is not None:
            block.scan = block.scan_block(self.scan.has_sqnorms)
        return block

    @property
    def sqnorms(self) -> np.ndarray:
        """float32 squared norm of each vector, computed on first use (only l2 needs them)."""
        found = self._derived.get("sqnorms")
        if found is None:
            v = as_float32(self.rows.vectors)  # (float16 would also sum in float16)
            # two threads may both compute it; each stores a complete array, the first one stays
            found = self._derived.setdefault("sqnorms", np.einsum("ij,ij->i", v, v).astype(np.float32, copy=False))
        return found

    def scan_block(self, l2: bool) -> _scan.ScanBlock:
        """What the compiled scan reads of this block: its vectors as stored (float16 stays float16),
        the squared norms for l2 and the int8 codes when the bucket has them. It holds the arrays, so it stays valid
        after the cache lets the
        block go."""
        if self.scan is not None and self.scan.has_sqnorms == l2:
            return self.scan
        key = "scan_l2" if l2 else "scan"
        found = self._derived.get(key)
        if found is None:
            stored = self.rows.vectors
            v = np.ascontiguousarray(stored, np.float16 if stored.dtype == np.float16 else np.float32)
            r = self.rows
            if r.codes is None:
                codes = {}
            elif r.code_scale is None:  # RaBitQ: bits and factors, and the bucket's rotated center
                codes = {"codes": r.codes, "rabitq_center": r.code_lo}
            else:
                codes = {"codes": r.codes, "code_lo": r.code_lo, "code_scale": r.code_scale}
            found = self._derived.setdefault(key, _scan.ScanBlock(v, self.sqnorms if l2 else None, **codes))
        return found

    @property
    def nbytes(self) -> int:
        return self.rows.nbytes + self.keys.nbytes + len(self.rows) * 4  # with the squared norms


class ObjectCache:
    """Fetches and decodes fingerprint-named objects through a bounded LRU (bytes).

    ``l2`` (the collection's metric is l2, or not) lets buckets be made ready to scan as they are
    decoded, outside any query's hot loop. With ``disk`` (a :class:`~vectree.storage.diskcache.DiskCache`), memory
    misses look in a local
    directory before the store, and fetched objects are kept there too. Only fingerprint-named objects
    pass through here, never manifests, so neither cache ever needs invalidating; every object is
    still checked against its fingerprint when decoded.
    """

    def __init__(
        self,
        store: ObjectStore,
        capacity_bytes: int,
        disk: DiskCache | None = None,
        l2: bool | None = None,
        slab_bytes: int | None = None,
    ) -> None:
        self.store = store
        self.l2 = l2  # the collection's metric is l2: blocks get their ScanBlock (with squared norms) at decode
        self.lru = BlockLRU(capacity_bytes, on_evict=self._evicted)
        self.arena = Arena(capacity_bytes, slab_bytes)
        self.disk = disk
        self._checked: dict[str, object] = {}  # fingerprint -> store identity of the file whose hash matched
        # fingerprint -> where its arrays sit in that file: a re-read after eviction skips Arrow (~40 us a file)
        self._layouts: dict[str, Layout] = {}
        self._flight_lock = threading.Lock()
        self._in_flight: dict[str, Future] = {}  # key -> the one fetch of it under way
        # bucket fingerprint -> (its id and vector span, rows, dim), from the indexes read: ranged reads of them
        self.spans = SpanMap(StoredSpans.COLUMN)
        # the same for buckets with codes: their code spans (two-phase reads, vectree/collection/coldcodes.py)
        self.code_spans = SpanMap(StoredSpans.CODE)
        self.fetches = 0  # objects fetched and decoded (a wait on another thread's fetch is not one)
        self.moves = 0  # blocks copied out of a sparse slab
        # values derived from several immutable objects, by a key naming them (e.g. the tail's key table);
        # whole values are stored and replaced, never changed in place
        self.derived: dict[object, object] = {}
        # holders of cached blocks outside the LRU (one-call single queries, vectree/collection/single.py):
        # each is told when a block leaves or moves, so it never keeps one the cache let go
        self._holders: weakref.WeakValueDictionary[int, object] = weakref.WeakValueDictionary()
        self._holders_lock = threading.Lock()

    def add_holder(self, holder: object) -> None:
        """Tell ``holder.drop_fp(fp)`` whenever block ``fp`` leaves the cache or moves (held weakly)."""
        with self._holders_lock:
            self._holders[id(holder)] = holder

    def _unhold(self, fp: str) -> None:
        with self._holders_lock:
            holders = list(self._holders.values())
        for holder in holders:
            holder.drop_fp(fp)  # type: ignore[attr-defined]

    def was_checked(self, name: str, ident: object) -> bool:
        """Whether object part ``name`` (a fingerprint, or one with a suffix such as ``#span``) was hashed
        and matched while its file was ``ident`` (the store's identity of a local file; None: never trusted)."""
        return ident is not None and self._checked.get(name) == ident

    def mark_checked(self, name: str, ident: object) -> None:
        """Record that ``name`` matched its digest while its file is ``ident`` (None: nothing is recorded)."""
        if ident is not None:
            self._checked[name] = ident

    def checked_parts(self, name: str, ident: object) -> set[int] | None:
        """The parts of ``name`` (e.g. vector chunks) hashed while its file is ``ident``: a set the caller adds
        to as it checks more, started afresh when the file changed; None without an identity (check every one)."""
        if ident is None:
            return None
        seen = self._checked.get(name)
        if not (isinstance(seen, tuple) and seen[0] == ident):
            self._checked[name] = seen = (ident, set())
        return seen[1]

    @property
    def known_layouts(self) -> int:
        """Files whose array offsets are recorded (a re-read of one after eviction skips Arrow): decoded whole
        once, or read as the span their index records."""
        return len(self._layouts) + sum(1 for k in list(self._checked) if k.endswith("#span"))

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

    def register_spans(self, index: object) -> None:
        """Remember where the buckets of ``index`` keep their id and vector columns (an index without spans: none)."""
        if getattr(index, "bucket_spans", None) is None:
            return
        dim = int(index.projection.mean.shape[0]) - (1 if index.projection.augment_norm else 0)  # (dot: +1)
        self.spans.add(index, dim)
        self.code_spans.add(index, dim)

    def _claim(
        self, keys: list[str], vectors_only: bool = True
    ) -> tuple[dict[str, object], list[str], dict[str, Future], dict[str, Future]]:
        """Split ``keys`` into cache hits, the misses this thread fetches, and the misses another
        thread is already fetching (with the futures to wait on); without ``vectors_only`` a partial
        block is a miss."""
        hits: dict[str, object] = {}
        mine: dict[str, Future] = {}
        theirs: dict[str, Future] = {}
        with self._flight_lock:
            for key, hit in zip(keys, self.lru.get_many(keys)):
                if hit is not None and not vectors_only and getattr(hit, "partial", False):
                    hit = None
                if hit is not None:
                    hits[key] = hit
                elif key in mine or key in theirs:
                    continue
                elif key in self._in_flight:
                    theirs[key] = self._in_flight[key]
                else:
                    mine[key] = self._in_flight[key] = Future()
        return hits, list(mine), mine, theirs

    def _settle(self, mine: dict[str, Future], done: dict[str, object], error: BaseException | None) -> None:
        with self._flight_lock:
            for key in mine:
                self._in_flight.pop(key, None)
        for key, fut in mine.items():
            if key in done:
                fut.set_result(done[key])
            else:
                fut.set_exception(error or RuntimeError(f"the fetch of {key} did not finish"))

    def cached(self, fps: list[str], vectors_only: bool = False) -> list[Block] | None:
        """The blocks of these fingerprints if every one is cached (recency refreshed; partial ones only
        with ``vectors_only``), else None."""
        found = self.lru.get_all(fps)
        if found is not None and not vectors_only and any(b.partial for b in found):  # type: ignore[attr-defined]
            return None
        return found  # type: ignore[return-value]

    def blocks(self, refs: list[tuple[str, str]], vectors_only: bool = False) -> list[Block]:
        """Decoded blocks for ``(folder, fingerprint)`` refs; misses are fetched in parallel, once.

        ``vectors_only``: the caller reads only ids and vectors, so buckets may come from ranged reads
        (see the module); otherwise every block returned holds whole rows."""
        fps = [fp for _, fp in refs]
        found = self.lru.get_many(fps)
        if None not in found and (vectors_only or not any(b.partial for b in found)):  # type: ignore[union-attr]
            return found  # type: ignore[return-value]  (all cached: the warm path, no flight bookkeeping)
        hits, missing, mine, theirs = self._claim(fps, vectors_only)
        out: dict[str, object] = dict(hits)
        if missing:
            folders = dict((fp, folder) for folder, fp in refs)
            done: dict[str, object] = {}
            try:
                self._load(missing, folders, done, vectors_only)
            except BaseException as exc:
                self._settle(mine, done, exc)
                raise
            self._settle(mine, done, None)
            out.update(done)
            self._move_pending()
        for fp, fut in theirs.items():
            out[fp] = fut.result()  # the other thread's block (or its error)
        if not vectors_only and any(getattr(out[fp], "partial", False) for fp in theirs):
            return self.blocks(refs, vectors_only)  # another thread read a span of one we need whole
        return [out[fp] for fp in fps]  # type: ignore[misc]

    def _ranged(self, missing: list[str], folders: dict[str, str], vectors_only: bool) -> list[str]:
        """Of ``missing``, the buckets read as their spans (a remote store, no disk cache, spans known)."""
        if not vectors_only or self.disk is not None or not self.spans:
            return []
        if not (self.store.ranged_reads or hasattr(self.store, "read_into")):  # remote, or a local file
            return []
        return [fp for fp in missing if folders[fp] == BUCKETS and fp in self.spans]

    def _load(self, missing: list[str], folders: dict[str, str], done: dict[str, object], vectors_only: bool) -> None:
        ranged = self._ranged(missing, folders, vectors_only)
        if ranged:
            self._load_spans(ranged, done, [fp for fp in missing if fp not in set(ranged)], folders)
            return
        keys = [rows_key(folders[fp], fp) for fp in missing]
        # a memory-mapped local file is hashed when first read; while it stays the same file (same
        # inode, size and mtime), later reads of this immutable object skip the hash
        idents = [self.store.identity(k) for k in keys] if self.disk is None else [None] * len(keys)
        datas = self._fetch(keys)
        for fp, data, ident in zip(missing, datas, idents):
            self._decode_whole(fp, folders[fp], data, ident, done)

    def _decode_whole(self, fp: str, folder: str, data: bytes | memoryview, ident: object, done: dict) -> None:
        """Decode a whole bucket or segment file (checked by its fingerprint unless ``ident`` says it was); cache it."""
        data, slab = self.arena.copy_in(data, fp)  # (the store's buffer goes once decoded from the copy)
        known = self.was_checked(fp, ident)
        layout = self._layouts.get(fp) if known else None
        if layout is not None:  # the same file as last time: its arrays are where they were
            rows = rows_from_layout(data, layout)
        else:
            rows, layout = decode_rows_with_layout(data, None if known else fp, what=folder[:-1])
            if ident is not None and layout is not None:
                self._layouts[fp] = layout
        self.mark_checked(fp, ident)
        block = Block(fp, rows, id_keys(rows.ids), data=data, slab=slab)
        if self.l2 is not None and folder == BUCKETS:
            block.scan = block.scan_block(self.l2)
        self.lru.stats.bytes_fetched += len(data)
        self.fetches += 1
        self.lru.put(fp, block, block.nbytes)
        done[fp] = block

    def _load_spans(self, fps: list[str], done: dict[str, object], whole: list[str], folders: dict[str, str]) -> None:
        """The spans of ``fps`` and the files ``whole`` (read whole), each checked against its digest on
        the thread that read it (the hashes of 2 cores, overlapping the reads)."""
        found = [self.spans[fp] for fp in fps]
        if hasattr(self.store, "read_into"):  # a local file: each span read straight into the arena
            if whole:
                self._load(whole, folders, done, False)
            got = (
                list(io_pool().map(self._read_span, fps, found))
                if len(fps) > 1
                else [self._read_span(fps[0], found[0])]
            )
        else:
            # from a remote store: not copied into the arena, as the buffer is this read's own, and a
            # one-query reader would pay the copy (and the first touch of fresh slab pages) for nothing
            items = [(rows_key(BUCKETS, fp), s.start, s.end) for fp, (s, _, _) in zip(fps, found)]
            items += [(rows_key(folders[fp], fp), 0, None) for fp in whole]
            checks = [(fp, s) for fp, (s, _, _) in zip(fps, found)] + [None] * len(whole)
            datas = self.store.get_ranges(items, then=lambda i, data: _checked_span(data, checks[i]))
            for fp, data in zip(whole, datas[len(fps) :]):
                self._decode_whole(fp, folders[fp], data, None, done)
            got = [(np.frombuffer(data, np.uint8), None) for data in datas[: len(fps)]]
        for fp, (span, n, dim), (data, slab) in zip(fps, found, got):
            rows = rows_from_span(data, span, n, dim, what=f"bucket {fp}", checked=True)
            block = Block(fp, rows, id_keys(rows.ids), data=data, slab=slab, partial=True)
            if self.l2 is not None:
                block.scan = block.scan_block(self.l2)
            self.lru.stats.bytes_fetched += len(data)
            self.fetches += 1
            self.lru.put(fp, block, block.nbytes)
            done[fp] = block

    def _read_span(self, fp: str, found: tuple[ColumnSpan, int, int]) -> tuple[np.ndarray, int | None]:
        """A local bucket's span, read into the arena and checked (unless this same file's span already was)."""
        span = found[0]
        key = rows_key(BUCKETS, fp)
        ident = self.store.identity(key)
        data, slab = self.arena.reserve(span.nbytes, fp)
        try:
            got = self.store.read_into(key, span.start, data)  # type: ignore[attr-defined]
            if got != span.nbytes:
                raise CorruptionError(
                    f"bucket {fp} is corrupted: its file ends {span.nbytes - got} bytes before the end of the "
                    "id and vector columns its index records. Restore the object from a backup or rebuild the "
                    "collection; `vectree verify` lists every damaged object."
                )
            if not self.was_checked(fp + "#span", ident):
                check_span(data, span, f"bucket {fp}")
        except BaseException:
            self.arena.release(slab, fp, aligned_size(span.nbytes))
            raise
        self.mark_checked(fp + "#span", ident)
        return data, slab

    def _evicted(self, key: str, value: object) -> None:
        if self._holders:
            self._unhold(key)
        if isinstance(value, Block) and value.slab is not None:
            for fp in self.arena.release(value.slab, key, aligned_size(value.data.nbytes)):
                self._move(fp)

    def _move_pending(self) -> None:
        """Move the cached blocks left in sparse slabs (see :meth:`Arena.draining`); a block still being
        read by another thread is moved after that thread's load."""
        for slab, fp in self.arena.draining():
            self._move(fp, slab)

    def _move(self, fp: str, sparse: int | None = None) -> None:
        """Copy a cached block out of a sparse slab (``sparse``, when given: only a block still there) into
        the current one (queries holding the old copy keep reading it; its slab is freed after them)."""
        old = self.lru.peek(fp)
        if not isinstance(old, Block) or old.slab is None or old.data is None:
            return
        if sparse is not None and old.slab != sparse:
            return
        data, slab = self.arena.copy_in(old.data, fp)
        new = old.moved(data, slab)
        if self.lru.replace(fp, old, new):
            self.moves += 1
            if self._holders:
                self._unhold(fp)  # (they held the old copy: the next query takes the new one)
            self.arena.release(old.slab, fp, aligned_size(old.data.nbytes))
        else:  # evicted meanwhile (its eviction released the old copy): let the new one go too
            self.arena.release(slab, fp, aligned_size(data.nbytes))

    def small(self, key: str, fp: str, decode):  # noqa: ANN001, ANN201 - decode(bytes) -> object
        """A small object (index, id map shard, keys, tombstones), decoded once."""
        hits, missing, mine, theirs = self._claim([key])
        if hits:
            return hits[key]
        if theirs:
            return theirs[key].result()
        done: dict[str, object] = {}
        try:
            data = self._fetch([key])[0]
            value = decode(data)
            self.lru.stats.bytes_fetched += len(data)
            self.lru.put(key, value, len(data) + 256)
            done[key] = value
        except BaseException as exc:
            self._settle(mine, done, exc)
            raise
        self._settle(mine, done, None)
        return done[key]


def _checked_span(data: bytes | memoryview, check: tuple[str, ColumnSpan] | None) -> bytes | memoryview:
    """``data``, once checked against the digest of the span it was read as (None: a whole file, checked later)."""
    if check is not None:
        check_span(data, check[1], f"bucket {check[0]}")
    return data
