"""The collection: a versioned set of vectors with ids, labels and metadata, and its index.

Consistency: a :class:`Collection` object reads one committed version (a snapshot) until it
writes or :meth:`Collection.refresh` is called; a writer never changes what an open reader sees.
How writes commit (put-if-absent of version N+1, retried or refused on a lost race) is in
:mod:`vectree.collection.writing`, whose methods a :class:`Collection` has.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from vectree._native import as_float32
from vectree.collection import lifecycle, maintenance
from vectree.collection.cache import ObjectCache
from vectree.collection.manifest import Manifest, list_versions, newest_manifest, read_manifest
from vectree.collection.plan import DEFAULT_PROBES, TUNING
from vectree.collection.prepare import prepare as prepare_snapshot
from vectree.collection.prepare import warm as warm_snapshot
from vectree.collection.results import SearchResult
from vectree.collection.rows import (
    iter_live_rows,
)
from vectree.collection.search import search_snapshot
from vectree.collection.single import search_one
from vectree.collection.snapshot import Snapshot
from vectree.collection.validate import (
    as_ids,
    as_vectors_and_norms,
    check_k,
    check_probes,
    check_rerank,
    check_version,
)
from vectree.collection.writing import Progress, Writes
from vectree.errors import NotFoundError
from vectree.format.bucket import Rows
from vectree.format.fingerprint import check_fingerprint
from vectree.format.id_keys import id_keys
from vectree.format.object_keys import BUCKETS, SEGMENTS, attachment_key
from vectree.index.build import IndexConfig
from vectree.index.index import Index
from vectree.storage.base import ObjectStore

log = logging.getLogger(__name__)

DEFAULT_CACHE_BYTES = 512 << 20


class Collection(Writes):
    """A vector collection at one version. Create with :func:`create_collection`, open with :func:`open_collection`.

    >>> import numpy as np, vectree
    >>> col = vectree.create_collection("memory://doc-example", dim=2, bucket_size=2)
    >>> col.add(np.array([[0, 0], [1, 0], [0, 1], [5, 5]], np.float32), ids=[10, 11, 12, 13])
    1
    >>> _ = col.build(); col.search(np.array([[4.0, 4.0]]), k=1).ids.tolist()
    [[13]]
    """

    def __init__(
        self,
        store: ObjectStore,
        manifest: Manifest,
        cache: ObjectCache,
        pinned: bool = False,
        index: Index | None = None,
    ) -> None:
        self.store = store
        self._cache = cache
        self._snapshot = Snapshot(store, manifest, cache, index=index)
        self._pinned = pinned
        self.skipped_versions: tuple[str, ...] = ()  # newer versions open_collection could not read, and why
        # opened from the _latest pointer: the checks (under way) that it named the newest version, whole;
        # they return the newest readable manifest (and the versions skipped) when it did not, else None
        self._pending: Callable[[], tuple[Manifest, tuple[str, ...]] | None] | None = None
        self._pending_lock = threading.Lock()
        self._view = False  # a checkout(): shares the store and cache of the collection it came from

    @property
    def _snap(self) -> Snapshot:
        """The snapshot read, once the checks of the pointer it was opened from are in (see open_collection)."""
        if self._pending is not None:
            self._catch_up()
        return self._snapshot

    @_snap.setter
    def _snap(self, snap: Snapshot) -> None:
        self._snapshot = snap

    def _catch_up(self) -> bool:
        """Wait for the pointer's checks; move to the newest version if the pointer lagged. True if it did."""
        with self._pending_lock:
            pending = self._pending
            if pending is None:
                return False
            found = pending()
            if found is not None:
                manifest, skipped = found
                self._snapshot = self._snapshot.following(manifest)
                self.skipped_versions = skipped
            self._pending = None
            return found is not None

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
        return (
            f"Collection({self.url!r}, version={self.version}, rows={len(self)}, dim={self.dim}, "
            f"metric={self.metric!r})"
        )

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
        if self._view:
            return
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

    def refresh(self, prepare: bool = True) -> Collection:
        """Move to the newest committed version (found through the ``_latest`` pointer with the checks a
        reader makes of it: one round trip when nothing changed, two when it did; see
        :func:`~vectree.collection.manifest.newest_manifest`).

        ``prepare`` (default): do the new version's per-version work (index, tail, the tail's grouping by
        bucket; and read the buckets a compaction rewrote among those this reader's cache held:
        :mod:`vectree.collection.prepare`) before moving to it, so its first queries do not wait for it;
        a version this object wrote itself is prepared too. Searches running meanwhile in other
        threads answer from the version they started on: a server that refreshes from a thread of its own
        keeps that work off every query. It only moves forward: a version another thread's write of this
        object committed meanwhile is not undone.

        >>> import tempfile, vectree
        >>> path = tempfile.mkdtemp(); col = vectree.create_collection(path, dim=2)
        >>> reader = vectree.open_collection(path); _ = col.add(np.ones((3, 2), np.float32))
        >>> len(reader), len(reader.refresh())
        (0, 3)
        """
        snap = before = self._snap
        newest = newest_manifest(self.store, snap.manifest)
        if newest is not None and newest.version > snap.manifest.version:
            snap = snap.following(newest)
            if prepare:
                warm_snapshot(snap, before)  # the buckets a compaction rewrote, of those this reader held
                prepare_snapshot(snap)
        elif prepare and snap.written and not snap.prepared:  # this object's own last write
            prepare_snapshot(snap)
        with self._pending_lock:  # forward only: a write of another thread may have moved past `newest`
            if snap.manifest.version > self._snapshot.manifest.version:
                self._snapshot = snap
        self._pinned = False
        return self

    def checkout(self, version: int | None = None) -> Collection:
        """A read-only view of ``version`` (default: the version this object reads now) that shares this
        object's store and read cache: what the two versions have in common (most buckets) is read once.
        The view keeps answering from its version whatever this object does next; it cannot write, and
        :meth:`close` on it lets go of nothing (close the collection it came from).

        >>> import numpy as np, vectree
        >>> col = vectree.create_collection("memory://doc-checkout", dim=2)
        >>> _ = col.add(np.ones((3, 2), np.float32)); v1 = col.checkout(); _ = col.add(np.ones((2, 2), np.float32))
        >>> len(v1), v1.version, len(col), len(col.checkout(1))
        (3, 1, 5, 3)
        """
        snap = self._snap
        if version is not None and check_version(version) != snap.manifest.version:
            snap = Snapshot(self.store, read_manifest(self.store, check_version(version)), self._cache)
        view = Collection(self.store, snap.manifest, self._cache, pinned=True)
        view._snapshot = snap  # the same Snapshot object: its prepared state (index, tail) comes along
        view._view = True
        return view

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
        rerank: int | None = None,
    ) -> SearchResult:
        """The k nearest rows of each query, visiting the ``probes`` nearest buckets (all with ``exact=True``).

        Returns (n, k) arrays, nearest first; see :class:`SearchResult`. A 1-d query is one query.
        ``method`` forces how the buckets are scanned (``"compiled"``, ``"matrix"``, ``"streamed"``;
        the default ``"auto"`` picks, see :mod:`vectree.collection.plan`): the answer is the same.
        Safe to call from any number of threads at once, also while others write.

        ``where`` (a filter, see :mod:`vectree.collection.filters`) and ``exclude_ids`` restrict the
        rows returned, before the scan (pre-filtering, see :mod:`vectree.collection.filtered`):
        ``probes`` then counts buckets that hold matches, and k rows come back whenever k rows match.

        ``rerank`` (a collection with codes, scanned through them): read at most this many rows of each
        query in full (at least k). The default None reads, for int8 codes, every row the codes' error
        bound cannot rule out, which returns the full-width scan's answer over the probed buckets; for
        RaBitQ codes, at most ``SearchTuning.rabitq_rerank`` x k of them. A cap reads fewer rows and may
        miss some. Ignored by ``exact=True`` (exact over every row), by full-width scans and with a filter.
        """
        snap = self._snapshot  # not self._snap: the pointer's checks overlap this search's reads (see below)
        checking = self._pending is not None
        settings = snap.manifest.settings
        k = check_k(k, snap.manifest.rows)
        probes = check_probes(probes)
        q, sq = as_vectors_and_norms(queries, int(settings["dim"]), settings["metric"], what="queries", allow_1d=True)
        cap = 0 if exact else check_rerank(rerank, k)
        if not cap and not exact and snap.index is not None and snap.index.settings.get("codes") == "rabitq":
            cap = TUNING.rabitq_rerank * k
        if where is not None or exclude_ids is not None:
            snap = self._snap
            from vectree.collection.filtered import search_filtered
            from vectree.collection.filters import parse_filter

            flt = None if where is None else parse_filter(where)
            excl = None
            if exclude_ids is not None and len(np.atleast_1d(np.asarray(exclude_ids, dtype=object))):
                excl, _ = as_ids(
                    exclude_ids,
                    len(exclude_ids) if hasattr(exclude_ids, "__len__") else 1,
                    snap.manifest.settings.get("id_type"),
                )
            return search_filtered(snap, q, k, None if exact else probes, flt, excl, include_metadata, method)
        found = None
        if len(q) == 1 and not exact and method == "auto" and not include_metadata:
            found = search_one(snap, q, k, probes, cap, sq)  # the lean warm path (None: not the plain case)
        if found is None:
            found = search_snapshot(snap, q, k, None if exact else probes, include_metadata, method, rerank=cap)
        if checking:  # the pointer's checks are in: if it lagged behind a commit, answer from the newest version
            self._catch_up()  # (by this thread, or by another that got there first)
        if checking and self._snapshot is not snap:
            return self.search(
                queries, k, probes, exact=exact, include_metadata=include_metadata, method=method, rerank=rerank
            )
        return found

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


def _as_dict(rows: Rows) -> dict[str, Any]:
    return {"ids": rows.ids, "vectors": rows.vectors, "labels": rows.labels, "metadata": rows.metadata}
