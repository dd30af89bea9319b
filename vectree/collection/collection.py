"""The collection: a versioned set of vectors with ids, labels and metadata, and its index.

Consistency: a :class:`Collection` object reads one committed version (a snapshot) until it
writes or :meth:`Collection.refresh` is called; a writer never changes what an open reader sees.
Every write (add, upsert, delete, build, compact, attachments) writes its new immutable files
first and then commits version N+1 with put-if-absent. If another writer committed N+1 first, the
write is re-validated against the new version and retried (add, upsert, delete, attachments) or
fails with :class:`ConflictError` (build and compact, which would otherwise discard that work).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from vectree._native import as_float32
from vectree.collection import keywords, lifecycle, maintenance
from vectree.collection.cache import ObjectCache
from vectree.collection.manifest import Manifest, SegmentRef, latest_version, list_versions, read_manifest, try_commit
from vectree.collection.plan import DEFAULT_PROBES
from vectree.collection.results import SearchResult
from vectree.collection.rows import (
    add_tombstones,
    iter_live_rows,
    new_write_id,
    refuse_existing,
    remove_uncommitted,
    write_segments,
)
from vectree.collection.search import search_snapshot
from vectree.collection.snapshot import Snapshot
from vectree.collection.validate import as_ids, as_vectors, check_k, check_probes, prepare_rows, unpack_batch
from vectree.errors import ConflictError, InvalidInputError, NotFoundError
from vectree.format.bucket import Rows
from vectree.format.fingerprint import check_fingerprint, fingerprint
from vectree.format.id_keys import id_keys
from vectree.format.object_keys import BUCKETS, SEGMENTS, attachment_key, tombstones_key
from vectree.format.tombstones import encode_tombstones
from vectree.index.build import IndexConfig
from vectree.index.index import Index
from vectree.storage.base import ObjectStore

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
_COMMIT_ATTEMPTS = 50
DEFAULT_CACHE_BYTES = 512 << 20


class Collection:
    """A vector collection at one version. Create with :func:`create_collection`, open with :func:`open_collection`.

    >>> import numpy as np, vectree
    >>> col = vectree.create_collection("memory://doc-example", dim=2, bucket_size=2)
    >>> col.add(np.array([[0, 0], [1, 0], [0, 1], [5, 5]], np.float32), ids=[10, 11, 12, 13])
    1
    >>> _ = col.build(); col.search(np.array([[4.0, 4.0]]), k=1).ids.tolist()
    [[13]]
    """

    def __init__(self, store: ObjectStore, manifest: Manifest, cache: ObjectCache, pinned: bool = False) -> None:
        self.store = store
        self._cache = cache
        self._snap = Snapshot(store, manifest, cache)
        self._pinned = pinned
        self.skipped_versions: tuple[str, ...] = ()  # newer versions open_collection could not read, and why

    # ------------------------------------------------------------------ reading
    @property
    def url(self) -> str:
        return self.store.url

    @property
    def manifest(self) -> Manifest:
        return self._snap.manifest

    @property
    def version(self) -> int:
        return self.manifest.version

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.manifest.settings)

    @property
    def dim(self) -> int:
        return int(self.manifest.settings["dim"])

    @property
    def metric(self) -> str:
        return str(self.manifest.settings["metric"])

    @property
    def private(self) -> bool:
        return bool(self.manifest.settings.get("private", False))

    @property
    def index_config(self) -> IndexConfig:
        return IndexConfig(**self.manifest.settings["index"])

    def __len__(self) -> int:
        return self.manifest.rows

    def __repr__(self) -> str:
        return f"Collection({self.url!r}, version={self.version}, rows={len(self)}, dim={self.dim}, metric={self.metric!r})"

    def close(self) -> None:
        """Let go of the read cache and the store's handle (a ``memory://`` store is freed with its
        last handle). The object is unusable afterwards; committed versions are untouched.

        >>> import vectree
        >>> with vectree.create_collection("memory://doc-close", dim=2) as col:
        ...     _ = col.add([[1.0, 2.0]], ids=[1])
        >>> vectree.open_collection("memory://doc-close")
        Traceback (most recent call last):
        ...
        vectree.errors.NotFoundError: no collection at memory://doc-close: create one with create_collection
        """
        self._cache.lru.clear()
        self.store.close()

    def clear_cache(self) -> None:
        """Let go of the decoded objects held in memory: the next searches read the store (or disk cache) again.

        >>> import vectree
        >>> col = vectree.create_collection("memory://doc-clear", dim=2); _ = col.add([[1.0, 2.0]], ids=[1])
        >>> _ = col.search([[1.0, 2.0]], k=1); col.clear_cache(); col.stats()["cache"]["objects"]
        0
        """
        self._cache.lru.clear()

    @property
    def index(self) -> Index | None:
        """The routing structure of this version (projection, tree, bucket fingerprints and rows, centers);
        None before the first build. Read-only: a build or compaction commits a new one."""
        return self._snap.index

    def __enter__(self) -> Collection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def refresh(self) -> Collection:
        """Move to the newest committed version."""
        latest = latest_version(self.store)
        if latest is not None and latest != self.version:
            self._snap = Snapshot(self.store, read_manifest(self.store, latest), self._cache)
        self._pinned = False
        return self

    def search(
        self,
        queries: Any,
        k: int = 10,
        probes: int = DEFAULT_PROBES,
        *,
        exact: bool = False,
        include_metadata: bool = False,
        method: str = "auto",
        where: dict[str, Any] | None = None,
        exclude_ids: Any = None,
    ) -> SearchResult:
        """The k nearest rows of each query, visiting the ``probes`` nearest buckets (all with ``exact=True``).

        Returns (n, k) arrays, nearest first; see :class:`SearchResult`. A 1-d query is one query.
        ``method`` forces how the buckets are scanned (``"compiled"``, ``"matrix"``, ``"streamed"``;
        the default ``"auto"`` picks, see :mod:`vectree.collection.plan`): the answer is the same.
        Safe to call from any number of threads at once, also while others write.

        ``where`` (a filter, see :mod:`vectree.collection.filters`) and ``exclude_ids`` restrict the
        rows returned, before the scan (pre-filtering, see :mod:`vectree.collection.filtered`):
        ``probes`` then counts buckets that hold matches, and k rows come back whenever k rows match.
        """
        k = check_k(k, len(self))
        probes = check_probes(probes)
        q = as_vectors(queries, self.dim, self.metric, what="queries", allow_1d=True)
        if where is not None or exclude_ids is not None:
            from vectree.collection.filtered import search_filtered
            from vectree.collection.filters import parse_filter

            flt = None if where is None else parse_filter(where)
            excl = None
            if exclude_ids is not None and len(np.atleast_1d(np.asarray(exclude_ids, dtype=object))):
                excl, _ = as_ids(
                    exclude_ids,
                    len(exclude_ids) if hasattr(exclude_ids, "__len__") else 1,
                    self.manifest.settings.get("id_type"),
                )
            return search_filtered(self._snap, q, k, None if exact else probes, flt, excl, include_metadata, method)
        return search_snapshot(self._snap, q, k, None if exact else probes, include_metadata, method)

    def get(self, ids: Any) -> Rows:
        """The stored rows with these ids, in that order (vectors, labels, metadata as JSON strings)."""
        arr, _ = as_ids(ids, len(ids) if hasattr(ids, "__len__") else 1, self.manifest.settings.get("id_type"))
        keys = id_keys(arr)
        where = self._snap.locate(keys)
        if (where == "").any():
            raise NotFoundError(f"ids not in the collection: {arr[where == ''][:5].tolist()}")
        parts, order = [], []
        buckets = set(self._snap.index.bucket_fingerprints) if self._snap.index is not None else set()
        for fp in np.unique(where):
            block = self._cache.blocks([(BUCKETS if fp in buckets else SEGMENTS, str(fp))])[0]
            sel = np.flatnonzero(where == fp)
            pos = {int(key): i for i, key in enumerate(block.keys)}
            parts.append(block.rows.take(np.array([pos[int(kk)] for kk in keys[sel]])))
            order.append(sel)
        rows = Rows.concat(parts, self.dim)
        rows.vectors = as_float32(rows.vectors)  # float16 buckets are cached as stored
        return rows.take(np.argsort(np.concatenate(order), kind="stable"))

    def iter_batches(self, batch_size: int = 10_000) -> Iterator[dict[str, Any]]:
        """Every live row, as dicts of ``ids``, ``vectors``, ``labels``, ``metadata`` (JSON strings)."""
        buffer: list[Rows] = []
        size = 0
        for rows in iter_live_rows(self._snap):
            buffer.append(rows)
            size += len(rows)
            while size >= batch_size:
                merged = Rows.concat(buffer, self.dim)
                head, rest = merged.take(np.arange(batch_size)), merged.take(np.arange(batch_size, len(merged)))
                yield _as_dict(head)
                buffer, size = ([rest] if len(rest) else []), len(rest)
        if size:
            yield _as_dict(Rows.concat(buffer, self.dim))

    def versions(self) -> list[dict[str, Any]]:
        """Every committed version still stored: number, time, operation and row count."""
        out = []
        for v in list_versions(self.store):
            try:
                m = read_manifest(self.store, v)
            except NotFoundError:
                continue  # removed by a cleanup since the listing
            out.append({"version": v, "created": m.created, "operation": m.operation, "rows": m.rows})
        return out

    def stats(self) -> dict[str, Any]:
        """Sizes, the tree's shape and the read cache's counters."""
        return maintenance.stats(self._snap)

    def verify(self, all_versions: bool = False, progress: Progress | None = None) -> maintenance.VerifyReport:
        """Re-read every object this version (or every version) refers to, check its fingerprint and cross-check
        the manifest against the files (row counts, keys, tombstones, metric); report newer versions that
        could not be opened and, with ``all_versions``, versions missing from the chain."""
        report = maintenance.verify(self.store, self.manifest, all_versions, progress)
        known = set(report.problems)
        report.problems[:0] = [f"skipped when opening: {p}" for p in self.skipped_versions if p not in known]
        return report

    def get_attachment(self, name: str) -> bytes:
        """An object stored with :meth:`put_attachment`, checked against its fingerprint."""
        fp = self.manifest.attachments.get(name)
        if fp is None:
            raise NotFoundError(f"no attachment named {name!r}; this version has {sorted(self.manifest.attachments)}")
        data = self.store.get(attachment_key(fp))
        check_fingerprint(data, fp, f"attachment {name!r}")
        return data

    # ------------------------------------------------------------------ lifecycle (see lifecycle.py)
    def tag(self, name: str, version: int | None = None) -> int:
        """Name ``version`` (default: this one) ``name``; a tagged version is never cleaned up. Returns it.

        >>> import vectree
        >>> col = vectree.create_collection("memory://doc-tag", dim=2); _ = col.add([[1.0, 2.0]], ids=[1])
        >>> col.tag("prod", 1), vectree.open_collection("memory://doc-tag", tag="prod").version, col.tags()
        (1, 1, {'prod': 1})
        """
        version = self.version if version is None else version
        lifecycle.set_tag(self.store, name, version)
        return version

    def untag(self, name: str) -> None:
        """Remove tag ``name``."""
        lifecycle.delete_tag(self.store, name)

    def tags(self) -> dict[str, int]:
        """Every tag of the collection and the version it names."""
        return lifecycle.list_tags(self.store)

    def cleanup(
        self,
        older_than: Any = lifecycle.DEFAULT_OLDER_THAN,
        keep_versions: int = 1,
        grace: Any = lifecycle.DEFAULT_GRACE,
        dry_run: bool = False,
    ) -> lifecycle.CleanupReport:
        """Delete versions older than ``older_than`` (never the newest ``keep_versions``, never a tagged
        one) and every object no kept version references that was written more than ``grace`` ago.

        Durations are seconds, timedeltas or text ("90s", "2h", "7d"). Safe while writers commit,
        as long as no write takes longer than ``grace``; see :mod:`vectree.collection.lifecycle`.

        >>> import vectree
        >>> col = vectree.create_collection("memory://doc-cleanup", dim=2)
        >>> for i in range(3): _ = col.add([[float(i), 0.0]], ids=[i])
        >>> r = col.cleanup(older_than=0, grace=0); r.versions_deleted, r.versions_kept, len(col)
        ([0, 1, 2], [3], 3)
        """
        return lifecycle.cleanup(self.store, older_than, keep_versions, grace, dry_run)

    # ------------------------------------------------------------------ writing
    def _commit(self, operation: str, make: Callable[[Manifest], dict[str, Any]], rebase: bool = True) -> int:
        """Commit ``base.next(operation, **make(base))`` on the newest version, retrying lost races."""
        if self._pinned:
            raise InvalidInputError(
                f"this collection was opened at version {self.version}; open the latest version to write"
            )
        base = self.manifest
        latest = latest_version(self.store)
        if latest is not None and latest != base.version:
            base = read_manifest(self.store, latest)
        for attempt in range(_COMMIT_ATTEMPTS):
            new = base.next(operation, **make(base))
            if try_commit(self.store, new):
                self._snap = Snapshot(self.store, new, self._cache)
                log.info("committed version %d (%s)", new.version, operation)
                return new.version
            if not rebase:
                raise ConflictError(
                    f"{operation} of version {base.version} lost a race: another writer committed version "
                    f"{base.version + 1} first. Nothing was committed; run {operation} again."
                )
            time.sleep(min(0.2, 0.002 * 2**attempt) * np.random.random())
            base = read_manifest(self.store, latest_version(self.store))
        raise ConflictError(
            f"{operation} could not commit after {_COMMIT_ATTEMPTS} attempts: too many concurrent writers"
        )

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
        base = self.refresh().manifest if not self._pinned else self.manifest
        base_snap = Snapshot(self.store, base, self._cache)
        segments: list[SegmentRef] = []
        written: list[str] = []
        seen = np.empty(0, np.int64)  # sorted keys of the batches so far
        total, settings = 0, dict(base.settings)
        auto_ids = False
        next_auto = base.next_auto_id
        write_id = new_write_id()
        kw = keywords.delta_writer(self.store, base.attachments)  # the keyword index's part for these rows
        try:
            for batch in batches:
                vectors, ids, labels, metadata = unpack_batch(batch)
                auto_ids = auto_ids or ids is None
                proto = base.next("add", settings=settings, next_auto_id=next_auto)
                rows, settings = prepare_rows(vectors, ids, labels, metadata, proto)
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
                    self.store, rows, settings["label_type"], f"{write_id}-{len(segments)}", written
                )
                seen = np.sort(np.concatenate([seen, keys]), kind="stable")
                if kw is not None:
                    kw.add(rows.ids, rows.metadata)
                next_auto = self._next_auto(proto, rows)
                total += len(rows)
                if progress:
                    progress("add", total, 0)
            if not segments:
                raise InvalidInputError("nothing to add: the input holds no rows")
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
                    refuse_existing(Snapshot(self.store, b, self._cache), seen)
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
        base = self.refresh().manifest
        rows, settings = prepare_rows(vectors, ids, labels, metadata, base)
        keys = id_keys(rows.ids)
        written: list[str] = []
        segments: list[SegmentRef] = []
        try:
            segments = write_segments(self.store, rows, settings["label_type"], written=written)
            kw = keywords.delta_writer(self.store, base.attachments)
            part = None
            if kw is not None:
                kw.add(rows.ids, rows.metadata)
                part = keywords.finish_delta(self.store, kw, base.version, settings["id_type"], written)

            def make(b: Manifest) -> dict[str, Any]:
                snap = Snapshot(self.store, b, self._cache)
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
        base = self.refresh().manifest
        arr, _ = as_ids(ids, len(ids) if hasattr(ids, "__len__") else 1, base.settings.get("id_type"))
        if not len(arr):
            raise InvalidInputError("nothing to delete: ids is empty")
        keys = id_keys(arr)

        def make(b: Manifest) -> dict[str, Any]:
            snap = Snapshot(self.store, b, self._cache)
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
        base = self.refresh().manifest
        cfg = config or self.index_config
        snap = Snapshot(self.store, base, self._cache)
        result = _merge_keywords(snap, maintenance.build(snap, cfg, progress, workdir))
        return self._commit("build", lambda b: _only_on(b, base, result), rebase=False)

    def compact(self, progress: Progress | None = None, workdir: str | None = None) -> int:
        """Fold the tail into the tree, drop tombstones, split oversized buckets (rewrites touched buckets only)."""
        base = self.refresh().manifest
        snap = Snapshot(self.store, base, self._cache)
        if snap.index is None or maintenance.needs_rebuild(snap):
            result = _merge_keywords(snap, maintenance.build(snap, self.index_config, progress, workdir))
            return self._commit("compact", lambda b: _only_on(b, base, result), rebase=False)
        changes = _merge_keywords(snap, maintenance.compact(snap, progress, workdir))
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


def _as_dict(rows: Rows) -> dict[str, Any]:
    return {"ids": rows.ids, "vectors": rows.vectors, "labels": rows.labels, "metadata": rows.metadata}
