"""The collections a service root holds: one record per name, each naming its owner and where its data lives.

``_service/collections/<name>.json`` is created with put-if-absent: whoever creates it owns the name,
whichever process or machine it runs on. The data lives under ``collections/<name>-<random>/``, so a
dropped name can be created again at once while the old objects are still being removed.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

import vectree
from vectree.collection import Collection
from vectree.errors import InvalidInputError, NotFoundError
from vectree.format.object_keys import MANIFESTS
from vectree.service.tenants import Principal
from vectree.storage.base import ObjectStore
from vectree.storage.url import open_store

log = logging.getLogger(__name__)

RECORDS = "_service/collections/"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class Record:
    """A collection of the service: its name, owner tenant, privacy and the path of its data under ROOT."""

    name: str
    owner: str
    private: bool
    path: str
    created: float

    def visible_to(self, who: Principal) -> bool:
        """Private collections are seen by their owner (and admins) only."""
        return who.admin or not self.private or who.tenant == self.owner

    def writable_by(self, who: Principal) -> bool:
        """Writes: the owner's (or an admin's) keys that are not read-only."""
        return not who.read_only and (who.admin or who.tenant == self.owner)


def check_name(name: str) -> str:
    """A collection name: 1-128 letters, digits, ``_ . -``, starting with a letter or digit.

    >>> check_name("papers-2026")
    'papers-2026'
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInputError(
            f"collection names are 1-128 letters, digits, '_', '.' or '-' starting with a letter or digit, got {name!r}"
        )
    return name


def join(root: str, path: str) -> str:
    """The URL of ``path`` under the service root (a local path or an s3:// URL).

    >>> join("s3://b/p", "collections/a")
    's3://b/p/collections/a'
    """
    return f"{str(root).rstrip('/')}/{path}"


class Registry:
    """The collection records of one root, and an open :class:`Collection` per name for this process."""

    def __init__(self, root: str, storage_options: dict[str, Any] | None = None, cache_bytes: int = 256 << 20) -> None:
        self.root = str(root)
        self.storage_options = dict(storage_options or {})
        self.store: ObjectStore = open_store(self.root, **self.storage_options)
        self.cache_bytes = cache_bytes
        self._open: dict[str, Collection] = {}  # path: the newest; path@version: a view of an older one
        self._lock = threading.Lock()
        self._refreshing: dict[str, threading.Lock] = {}
        self._refresher: threading.Thread | None = None
        self._stop = threading.Event()

    def url(self, record: Record) -> str:
        return join(self.root, record.path)

    def _open_kwargs(self) -> dict[str, Any]:
        return {"storage_options": self.storage_options} if self.storage_options else {}

    # ---------------------------------------------------------------- records
    def record(self, name: str) -> Record:
        """The record of ``name``; NotFoundError if there is none."""
        check_name(name)
        try:
            return Record(**json.loads(self.store.get(f"{RECORDS}{name}.json")))
        except NotFoundError:
            raise NotFoundError(f"no collection named {name!r}") from None

    def records(self) -> list[Record]:
        out = []
        for key in self.store.list(RECORDS):
            try:
                out.append(Record(**json.loads(self.store.get(key))))
            except NotFoundError:  # dropped while listing
                continue
        return out

    def create(self, name: str, owner: str, *, private: bool, **settings: Any) -> tuple[Record, Collection]:
        """Claim ``name`` for ``owner`` and create its empty collection (InvalidInputError if the name is taken)."""
        check_name(name)
        record = Record(
            name=name,
            owner=owner,
            private=bool(private),
            path=f"collections/{name}-{secrets.token_hex(6)}",
            created=time.time(),
        )
        # validate the settings before claiming the name: a bad create leaves nothing behind
        vectree.create_collection(f"memory://_check-{secrets.token_hex(6)}", private=private, **settings)
        if not self.store.put_if_absent(f"{RECORDS}{name}.json", json.dumps(record.__dict__).encode()):
            raise NameTaken(f"a collection named {name!r} already exists")
        try:
            col = vectree.create_collection(
                self.url(record), private=private, cache_bytes=self.cache_bytes, **settings, **self._open_kwargs()
            )
        except BaseException:
            self.store.delete(f"{RECORDS}{name}.json")
            raise
        with self._lock:
            self._open[record.path] = col
        return record, col

    def adopt(
        self, name: str, owner: str, source: str, *, private: bool = False, source_options: dict[str, Any] | None = None
    ) -> Record:
        """Copy the collection at ``source`` (every object, e.g. a fitted classifier's) into the root as ``name``."""
        check_name(name)
        src = open_store(source, **(source_options or {}))
        if not src.list(MANIFESTS):
            raise NotFoundError(f"no collection at {source}")
        record = Record(
            name=name,
            owner=owner,
            private=bool(private),
            path=f"collections/{name}-{secrets.token_hex(6)}",
            created=time.time(),
        )
        dst = open_store(self.url(record), **self.storage_options)
        for key in src.list(""):  # manifests last, so a half-copied collection is never readable
            if not key.startswith(MANIFESTS):
                dst.put(key, src.get(key))
        for key in src.list(MANIFESTS):
            dst.put(key, src.get(key))
        if not self.store.put_if_absent(f"{RECORDS}{name}.json", json.dumps(record.__dict__).encode()):
            raise NameTaken(f"a collection named {name!r} already exists")
        return record

    def drop(self, record: Record) -> None:
        """Remove the record (the name is free at once), then the collection's objects."""
        self.store.delete(f"{RECORDS}{record.name}.json")
        with self._lock:
            for k in [k for k in self._open if k == record.path or k.startswith(record.path + "@")]:
                del self._open[k]
        data = open_store(self.url(record), **self.storage_options)
        keys = data.list("")
        for key in sorted(keys, key=lambda k: not k.startswith(MANIFESTS)):  # manifests first: unreadable at once
            data.delete(key)

    # ---------------------------------------------------------------- collections
    def collection(self, record: Record, version: int | None = None) -> Collection:
        """The collection ``record`` names: moved to the newest version when ``version`` is None (what writes,
        opens and refreshes ask for: one round trip to the store when nothing changed), else a read-only view
        of ``version``.

        A request that names the version its client reads (every search and get does) costs no round trip
        when this process already reads that version: the background refresher (:meth:`start_refreshing`)
        moves the open collection to new versions, and prepares them, off the requests. A version newer than
        this process has seen (a commit made through another worker) is caught up to at once.
        """
        col = self._newest(record)
        if version is not None:
            view = col.checkout()  # pinned to the snapshot read now, whatever the refresher does next
            if int(version) == view.version:
                return view
            if int(version) < view.version:
                return self._old(record, col, int(version))
        self._refresh(record.path, col)
        if version is None:
            return col
        view = col.checkout()
        if int(version) == view.version:
            return view
        if not 0 <= int(version) < view.version:
            raise NotFoundError(f"collection {record.name!r} has versions 0 to {view.version}, not {version}")
        return self._old(record, col, int(version))

    def version_read(self, record: Record) -> int | None:
        """The version this process's open collection of ``record`` reads (None: not open here)."""
        with self._lock:
            col = self._open.get(record.path)
        return None if col is None else col.version

    def _newest(self, record: Record) -> Collection:
        with self._lock:
            col = self._open.get(record.path)
        if col is None:
            col = vectree.open_collection(self.url(record), cache_bytes=self.cache_bytes, **self._open_kwargs())
            with self._lock:
                col = self._open.setdefault(record.path, col)
        return col

    def _refresh(self, path: str, col: Collection) -> None:
        """Move ``col`` to the newest version; the version it read stays open as a view on the same cache
        (the clients still reading it are served warm). One refresh at a time per collection."""
        with self._lock:
            lock = self._refreshing.setdefault(path, threading.Lock())
        with lock:
            before = col.checkout()
            col.refresh()
            if col.version != before.version:
                self._keep(f"{path}@{before.version}", before)

    def _old(self, record: Record, col: Collection, version: int) -> Collection:
        """A read-only view of an older ``version``, sharing the newest one's read cache."""
        key = f"{record.path}@{version}"
        with self._lock:
            old = self._open.get(key)
        if old is None:
            old = col.checkout(version)
            self._keep(key, old)
        return old

    def _keep(self, key: str, view: Collection) -> None:
        with self._lock:
            stale = [k for k in self._open if "@" in k and k != key]
            for k in stale[: max(0, len(stale) - 15)]:  # keep the 16 most recent old versions open
                del self._open[k]
            self._open[key] = view

    def refresh_open(self) -> int:
        """Move every collection this process has open to its newest version (the refresher's work); returns
        how many moved. A collection that cannot be read right now is logged and tried again next time."""
        with self._lock:
            newest = [(k, c) for k, c in self._open.items() if "@" not in k]
        moved = 0
        for path, col in newest:
            before = col.version
            try:
                self._refresh(path, col)
            except Exception as exc:  # noqa: BLE001 - a store outage must not stop the refresher
                log.warning("refreshing %s failed (%s); serving version %d", path, exc, before)
                continue
            moved += col.version != before
        return moved

    def start_refreshing(self, interval_s: float) -> None:
        """Refresh the open collections every ``interval_s`` seconds from a thread of this registry (daemon;
        :meth:`close` stops it). Refreshing prepares the new version, so no request waits for that."""
        if interval_s <= 0 or self._refresher is not None:
            return

        def loop() -> None:
            while not self._stop.wait(interval_s):
                self.refresh_open()

        self._refresher = threading.Thread(target=loop, name="vectree-refresher", daemon=True)
        self._refresher.start()

    def close(self) -> None:
        """Stop the refresher and close the open collections."""
        self._stop.set()
        if self._refresher is not None:
            self._refresher.join(timeout=30)
        with self._lock:
            cols, self._open = list(self._open.values()), {}
        for col in cols:
            col.close()


class NameTaken(InvalidInputError):
    """Create of a name that exists (answered 409)."""
