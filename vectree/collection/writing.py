"""Writing a collection: add, upsert, delete, attachments, build and compact, and the commit they share.

Every write writes its new immutable files first and then commits version N+1 with put-if-absent.
If another writer committed N+1 first, the write is re-validated against the new version and retried
(add, upsert, delete, attachments) or fails with :class:`ConflictError` (build and compact, which would
otherwise discard that work). A write that fails removes the files it wrote; nothing committed is lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from vectree.collection import keywords, maintenance
from vectree.collection.cache import ObjectCache
from vectree.collection.manifest import (
    Manifest,
    SegmentRef,
    latest_version,
    newest_manifest,
    read_manifest,
    try_commit,
)
from vectree.collection.rows import (
    add_tombstones,
    iter_live_rows,
    new_write_id,
    refuse_existing,
    remove_uncommitted,
    write_segments,
)
from vectree.collection.snapshot import Snapshot
from vectree.collection.validate import as_ids, pieces, prepare_rows
from vectree.errors import ConflictError, InvalidInputError, NotFoundError
from vectree.format.bucket import Rows
from vectree.format.fingerprint import fingerprint
from vectree.format.id_keys import id_keys
from vectree.format.object_keys import attachment_key, index_key, tombstones_key
from vectree.format.tombstones import encode_tombstones
from vectree.index.build import IndexConfig
from vectree.memory import release_freed_memory
from vectree.storage.base import ObjectStore

if TYPE_CHECKING:
    from vectree.collection.collection import Collection

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
_COMMIT_ATTEMPTS = 50


class Writes:
    """The write methods of :class:`~vectree.collection.Collection` (it is one); each returns the new version."""

    store: ObjectStore
    _cache: ObjectCache
    _snap: Snapshot
    _pinned: bool
    manifest: Manifest
    version: int
    index_config: IndexConfig
    refresh: Callable[[], Collection]

    def _commit(self, operation: str, make: Callable[[Manifest], dict[str, Any]], rebase: bool = True) -> int:
        """Commit ``base.next(operation, **make(base))`` on the newest version, retrying lost races."""
        if self._pinned:
            raise InvalidInputError(
                f"this collection was opened at version {self.version}; open the latest version to write"
            )
        base = newest_manifest(self.store, self.manifest) or self.manifest
        for attempt in range(_COMMIT_ATTEMPTS):
            new = base.next(operation, **make(base))
            if try_commit(self.store, new, self._index_bytes(new.index), index_changed=new.index != base.index):
                self._snap = self._snap.following(new, written=True)
                log.info("committed version %d (%s)", new.version, operation)
                return new.version
            if not rebase:
                raise ConflictError(
                    f"{operation} of version {base.version} lost a race: another writer committed version "
                    f"{base.version + 1} first. Nothing was committed; run {operation} again."
                )
            time.sleep(min(0.2, 0.002 * 2**attempt) * np.random.random())
            base = newest_manifest(self.store, base) or read_manifest(self.store, latest_version(self.store))
        raise ConflictError(
            f"{operation} could not commit after {_COMMIT_ATTEMPTS} attempts: too many concurrent writers"
        )

    def _index_bytes(self, fp: str | None) -> bytes | None:
        """The bytes of index ``fp`` if this collection's cache holds it (a commit changing the index writes them
        to ``_latest.index``)."""
        found = None if fp is None else self._cache.lru.peek(index_key(fp))
        return getattr(found, "raw", None)

    def _next_auto(self, base: Manifest, rows: Rows) -> int:
        if rows.ids.dtype == object or not len(rows):
            return base.next_auto_id
        return max(base.next_auto_id, int(rows.ids.max()) + 1)

    def add(self, vectors: Any, ids: Any = None, labels: Any = None, metadata: Any = None) -> int:
        """Add rows; refuse ids already stored (use :meth:`upsert` to replace). Returns the new version.

        New rows are searchable at once (scanned exhaustively until the next build or compact).
        """
        return self.add_batches([(vectors, ids, labels, metadata)])

    def add_batches(self, batches: Iterable[Any], progress: Progress | None = None) -> int:
        """Add a stream of ``(vectors, ids, labels, metadata)`` batches in one commit (for inputs larger than RAM).

        Each batch is validated (also against the stored ids and the earlier batches) before it is written
        as tail segments; the commit checks every id against the stored ones again, so either all batches
        land or none does. A call that fails removes the segments it wrote.
        """
        base = self.refresh(prepare=False).manifest if not self._pinned else self.manifest
        base_snap = self._snap.following(base)
        segments: list[SegmentRef] = []
        written: list[str] = []
        seen = np.empty(0, np.int64)  # sorted keys of the batches so far
        total, settings = 0, dict(base.settings)
        auto_ids = False
        next_auto = base.next_auto_id
        write_id = new_write_id()
        kw = keywords.delta_writer(self.store, base.attachments)  # the keyword index's part for these rows
        try:
            for offset, vectors, ids, labels, metadata in (piece for batch in batches for piece in pieces(batch)):
                auto_ids = auto_ids or ids is None
                proto = base.next("add", settings=settings, next_auto_id=next_auto)
                try:
                    rows, settings = prepare_rows(vectors, ids, labels, metadata, proto)
                except InvalidInputError as e:
                    if offset:  # a large batch is checked in pieces: say where this one starts
                        raise InvalidInputError(f"{e} (row numbers counted from row {offset} of the batch)") from None
                    raise
                keys = id_keys(rows.ids)
                pos = np.searchsorted(seen, keys)
                again = (
                    (pos < len(seen)) & (seen[np.minimum(pos, len(seen) - 1)] == keys)
                    if len(seen)
                    else np.zeros(len(keys), bool)
                )
                if again.any():
                    raise InvalidInputError(
                        f"duplicate ids across the added batches (ids {rows.ids[again][:5].tolist()} "
                        f"in batch rows {np.flatnonzero(again)[:5].tolist()}); each id may appear once"
                    )
                refuse_existing(base_snap, keys, rows.ids)
                segments += write_segments(
                    self.store,
                    rows,
                    settings["label_type"],
                    f"{write_id}-{len(segments)}",
                    written,
                    (base_snap.index, base.index),
                )
                seen = np.concatenate([seen, keys])
                seen.sort(kind="stable")  # in place: the keys so far are held twice at most, not three times
                if kw is not None:
                    kw.add(rows.ids, rows.metadata)
                next_auto = self._next_auto(proto, rows)
                total += len(rows)
                if progress:
                    progress("add", total, 0)
            if not segments:
                raise InvalidInputError("nothing to add: the input holds no rows")
            # the allocators keep the pages of the encoded segments for reuse: hand them back (measured:
            # 34 MB of Arrow's pool after adding fashion-mnist, resident through the build that usually follows)
            release_freed_memory()
            part = (
                None
                if kw is None
                else keywords.finish_delta(self.store, kw, base.version, settings["id_type"], written)
            )

            def make(b: Manifest) -> dict[str, Any]:
                if auto_ids and b.next_auto_id > base.next_auto_id:
                    raise ConflictError(
                        "another writer assigned automatic ids at the same time; add again or pass ids="
                    )
                if b.version != base.version:
                    refuse_existing(self._snap.following(b), seen)
                return {
                    "segments": b.segments + tuple(segments),
                    "settings": {**b.settings, **{k: settings[k] for k in ("id_type", "label_type", "has_metadata")}},
                    "next_auto_id": max(b.next_auto_id, next_auto),
                    **_with_part(b, part),
                }

            return self._commit("add", make)
        except BaseException:
            remove_uncommitted(self.store, segments, written)
            raise

    def upsert(self, vectors: Any, ids: Any, labels: Any = None, metadata: Any = None) -> int:
        """Insert rows, replacing stored rows that have the same ids. Returns the new version."""
        if ids is None:
            raise InvalidInputError("upsert needs ids= (it replaces rows by id)")
        base = self.refresh(prepare=False).manifest
        rows, settings = prepare_rows(vectors, ids, labels, metadata, base)
        keys = id_keys(rows.ids)
        written: list[str] = []
        segments: list[SegmentRef] = []
        try:
            segments = write_segments(
                self.store,
                rows,
                settings["label_type"],
                written=written,
                index=(self._snap.following(base).index, base.index),
            )
            kw = keywords.delta_writer(self.store, base.attachments)
            part = None
            if kw is not None:
                kw.add(rows.ids, rows.metadata)
                part = keywords.finish_delta(self.store, kw, base.version, settings["id_type"], written)

            def make(b: Manifest) -> dict[str, Any]:
                snap = self._snap.following(b)
                where = snap.locate(keys)
                tomb, changed = add_tombstones(snap, keys, where)
                changes = {
                    "segments": b.segments + tuple(segments),
                    "settings": {**b.settings, **{k: settings[k] for k in ("id_type", "label_type", "has_metadata")}},
                    "next_auto_id": max(b.next_auto_id, self._next_auto(b, rows)),
                    **_with_part(b, part),
                }
                if changed:
                    changes.update(self._tombstone_changes(tomb))
                return changes

            return self._commit("upsert", make)
        except BaseException:
            remove_uncommitted(self.store, segments, written)
            raise

    def delete(self, ids: Any, missing_ok: bool = False) -> int:
        """Hide rows by id from every search at once (tombstones, dropped by :meth:`compact`)."""
        base = self.refresh(prepare=False).manifest
        arr, _ = as_ids(ids, len(ids) if hasattr(ids, "__len__") else 1, base.settings.get("id_type"))
        if not len(arr):
            raise InvalidInputError("nothing to delete: ids is empty")
        keys = id_keys(arr)

        def make(b: Manifest) -> dict[str, Any]:
            snap = self._snap.following(b)
            where = snap.locate(keys)
            if (where == "").any() and not missing_ok:
                raise NotFoundError(
                    f"cannot delete ids that are not in the collection: {arr[where == ''][:5].tolist()}"
                )
            tomb, _ = add_tombstones(snap, keys, where)
            return self._tombstone_changes(tomb)

        return self._commit("delete", make)

    def _tombstone_changes(self, tomb: dict[str, np.ndarray]) -> dict[str, Any]:
        data, fp = encode_tombstones(tomb)
        self.store.put(tombstones_key(fp), data)
        return {"tombstones": fp, "tombstone_count": int(sum(len(v) for v in tomb.values()))}

    def put_attachment(self, name: str, data: bytes) -> int:
        """Store a small object (a model, an embedder's parameters) with the collection; returns the version."""
        if not isinstance(name, str) or not name or "/" in name:
            raise InvalidInputError(f"attachment names are non-empty strings without '/', got {name!r}")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidInputError(
                f"attachment data must be bytes, got {type(data).__name__}"
                + (" (encode text first, e.g. text.encode())" if isinstance(data, str) else "")
            )
        fp = fingerprint(data)
        self.store.put(attachment_key(fp), bytes(data))
        return self._commit("attach", lambda b: {"attachments": {**b.attachments, name: fp}})

    def build(
        self, config: IndexConfig | None = None, progress: Progress | None = None, workdir: str | None = None
    ) -> int:
        """Fit the projection and tree on every live row and write the buckets (a full rebuild)."""
        base = self.refresh(prepare=False).manifest
        cfg = config or self.index_config
        snap = self._snap.following(base)
        result = _merge_keywords(snap, maintenance.build(snap, cfg, progress, workdir))
        version = self._commit("build", lambda b: _only_on(b, base, result), rebase=False)
        release_freed_memory()  # the build's arrays, freed: not resident under the cache queries fill next
        return version

    def compact(self, progress: Progress | None = None, workdir: str | None = None, keep_tail_rows: int = 0) -> int:
        """Fold the tail into the tree, drop tombstones, split buckets past twice ``bucket_size`` (rewrites
        touched buckets only); a full rebuild instead once the tail outgrows memory, the id map's shard
        plan or the indexed rows (:func:`vectree.collection.maintenance.needs_rebuild`).

        ``keep_tail_rows``: fold only the buckets gaining the most rows, leaving at most this many in the
        tail (fewer buckets rewritten per compaction while rows keep arriving); 0 folds all of it."""
        if keep_tail_rows < 0:
            raise InvalidInputError(f"keep_tail_rows must be >= 0, got {keep_tail_rows}")
        base = self.refresh(prepare=False).manifest
        snap = self._snap.following(base)
        if snap.index is None or maintenance.needs_rebuild(snap):
            result = _merge_keywords(snap, maintenance.build(snap, self.index_config, progress, workdir))
            return self._commit("compact", lambda b: _only_on(b, base, result), rebase=False)
        changes = _merge_keywords(snap, maintenance.compact(snap, progress, workdir, keep_tail_rows))
        return self._commit("compact", lambda b: _only_on(b, base, changes), rebase=False)


def _with_part(b: Manifest, part: tuple[str, str] | None) -> dict[str, Any]:
    """The attachments of ``b`` with one write's keyword index part (nothing when there is none)."""
    if part is None or keywords.ATTACHMENT not in b.attachments:
        return {}
    return {"attachments": {**b.attachments, part[0]: part[1]}}


def _merge_keywords(snap: Snapshot, changes: dict[str, Any]) -> dict[str, Any]:
    """``changes`` of a build or compaction of ``snap``, with the keyword index's parts merged into one
    main part over the same live rows (see :mod:`vectree.collection.keywords`)."""
    merged = keywords.merged_attachments(snap, iter_live_rows(snap))
    return changes if merged is None else {**changes, "attachments": merged}


def _only_on(b: Manifest, base: Manifest, changes: dict[str, Any]) -> dict[str, Any]:
    if b.version != base.version:
        raise ConflictError(f"the collection changed (version {b.version}) while rebuilding version {base.version}")
    return changes
