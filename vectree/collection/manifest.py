"""Versions: one JSON manifest per version, committed with put-if-absent.

``manifests/0000000007.json`` describes version 7 completely: settings, the index file, the id
map shards, the unindexed tail segments, the tombstones and attachments, each by fingerprint.
Data files are written before the manifest that names them, and a manifest is created only if no
manifest of that version exists, so a crash or a lost race never leaves a half-committed version:
readers see version N or N+1, whole. ``_latest`` is a hint for finding the newest version quickly;
the manifests themselves are the truth. Since format 2 of the hint (:mod:`vectree.format.pointer`) it
also carries the manifest and the index, so a reader opens the newest version with one GET
(:func:`read_pointer`), then checks, while it reads buckets, that the hint did not lag.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
import uuid
from dataclasses import dataclass, field, fields, replace
from typing import Any

from vectree.errors import CorruptionError, NotFoundError
from vectree.format.fingerprint import FINGERPRINT_ALGORITHM
from vectree.format.object_keys import (
    LATEST,
    LATEST_INDEX,
    MANIFESTS,
    id_keys_key,
    index_key,
    is_manifest_key,
    manifest_key,
    segment_key,
    version_of_manifest_key,
)
from vectree.format.pointer import decode_pointer, encode_pointer
from vectree.storage.base import ObjectStore

MANIFEST_FORMAT = 1
_LATEST_HINT = LATEST
log = logging.getLogger(__name__)


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, indent=1, sort_keys=True).encode()


def _encode(body: dict[str, Any], segments: tuple[SegmentRef, ...]) -> bytes:
    """``_canonical({**body, "segments": [each segment as a dict]})``, byte for byte; the segments (the
    tail: thousands after many single-row adds) are written by a template, not the pure-Python encoder."""
    if not segments:
        return _canonical({**body, "segments": []})
    token = f"vectree-segments-{uuid.uuid4().hex}"
    text = json.dumps({**body, "segments": token}, indent=1, sort_keys=True)
    enc = json.encoder.encode_basestring_ascii
    block = ",\n".join(
        f'  {{\n   "fingerprint": {enc(g.fingerprint)},\n   "keys": {enc(g.keys)},\n'
        f'   "rows": {int(g.rows)},\n   "write": {enc(g.write)}\n  }}'
        for g in segments
    )
    return text.replace(f'"{token}"', f"[\n{block}\n ]", 1).encode()


def _checksum(body: dict[str, Any]) -> str:
    """sha256 of the manifest's canonical JSON without its checksum field: one changed byte is caught."""
    return hashlib.sha256(_canonical(body)).hexdigest()


@dataclass(frozen=True)
class SegmentRef:
    """A file of the unindexed tail: rows added since the last build, scanned exhaustively.

    ``write`` is the identity of the write that made it (random, unique per call, plus the part
    number), also stored inside the file: two writes of identical rows make two different files, so a
    tombstone (keyed by file fingerprint) only ever hides rows that existed when it was made. Manifests
    from before it was recorded read as ``""``.
    """

    fingerprint: str
    rows: int
    keys: str  # fingerprint of the sorted id keys of the segment
    write: str = ""

    @property
    def keys_object(self) -> str:
        """The store key of the segment's id key list (``.npz`` naming its write; before writes were recorded,
        ``.npy``)."""
        return id_keys_key(self.keys, with_write=bool(self.write))

    @property
    def objects(self) -> tuple[str, str]:
        """The store keys of the segment's two files."""
        return segment_key(self.fingerprint), self.keys_object


@dataclass(frozen=True)
class Manifest:
    version: int
    settings: dict[str, Any]
    parent: int | None = None
    created: float = 0.0
    operation: str = "create"
    index: str | None = None
    idmap_bits: int = 0
    idmap: tuple[str, ...] = ()
    indexed_rows: int = 0
    segments: tuple[SegmentRef, ...] = ()
    tombstones: str | None = None
    tombstone_count: int = 0
    next_auto_id: int = 0
    attachments: dict[str, str] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        """Live rows: indexed plus tail minus tombstones."""
        return self.indexed_rows + sum(s.rows for s in self.segments) - self.tombstone_count

    @property
    def tail_rows(self) -> int:
        return sum(s.rows for s in self.segments)

    def next(self, operation: str, **changes: Any) -> Manifest:
        """The manifest of the following version, with ``changes`` applied."""
        return replace(
            self, version=self.version + 1, parent=self.version, created=time.time(), operation=operation, **changes
        )

    def to_bytes(self) -> bytes:
        # the JSON of dataclasses.asdict(self), byte for byte, without asdict's deep copy and the pure-Python
        # encoder going over every segment (with a tail of thousands of single-row adds, most of an add's time)
        body: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "segments"}
        body["format"] = MANIFEST_FORMAT
        body["fingerprint_algorithm"] = FINGERPRINT_ALGORITHM  # how every file this version names was named
        body["checksum"] = hashlib.sha256(_encode(body, self.segments)).hexdigest()  # = _checksum of the body
        return _encode(body, self.segments)

    @classmethod
    def from_bytes(cls, data: bytes, version: int) -> Manifest:
        try:
            body = json.loads(data)
            if not isinstance(body, dict):
                raise ValueError("not a JSON object")
            checksum = body.pop("checksum", None)  # manifests before it was recorded have none
            if checksum is not None and checksum != _checksum(body):
                raise CorruptionError(
                    f"manifest of version {version} fails its checksum: it was changed or damaged after it was written"
                )
            if body.pop("format", None) != MANIFEST_FORMAT:
                raise CorruptionError(f"manifest of version {version} has an unsupported format")
            algorithm = body.pop("fingerprint_algorithm", "sha256")  # manifests before it was recorded: sha256
            if algorithm != FINGERPRINT_ALGORITHM:
                raise CorruptionError(
                    f"manifest of version {version} names its files by {algorithm!r} fingerprints; "
                    f"this vectree checks {FINGERPRINT_ALGORITHM!r} only"
                )
            body["segments"] = tuple(SegmentRef(**s) for s in body["segments"])
            body["idmap"] = tuple(body["idmap"])
            m = cls(**body)
        except (ValueError, TypeError, KeyError) as exc:
            raise CorruptionError(f"manifest of version {version} cannot be decoded: {exc}") from exc
        if m.version != version:
            raise CorruptionError(f"manifest file of version {version} says it is version {m.version}")
        m.check(version)
        return m

    def check(self, version: int) -> None:
        """Refuse values no writer produces (a manifest from before checksums may have been edited)."""
        from vectree.collection.validate import METRICS

        s = self.settings
        problems = []
        if s.get("metric") not in METRICS:
            problems.append(f"unknown metric {s.get('metric')!r}")
        if not isinstance(s.get("dim"), int) or s["dim"] < 1:
            problems.append(f"dim {s.get('dim')!r} is not a positive integer")
        counts = {
            "indexed_rows": self.indexed_rows,
            "tombstone_count": self.tombstone_count,
            **{f"segment {g.fingerprint[:12]} rows": g.rows for g in self.segments},
        }
        problems += [f"{name} is {n!r}" for name, n in counts.items() if not isinstance(n, int) or n < 0]
        if not problems and self.rows < 0:
            problems.append(f"it counts {self.rows} live rows")
        if problems:
            raise CorruptionError(f"manifest of version {version} is inconsistent: {'; '.join(problems)}")


def read_manifest(store: ObjectStore, version: int) -> Manifest:
    try:
        data = store.get(manifest_key(version))
    except NotFoundError:
        raise NotFoundError(f"version {version} of the collection at {store.url} does not exist") from None
    return Manifest.from_bytes(data, version)


def latest_version(store: ObjectStore) -> int | None:
    """The newest committed version, or None when there is no collection here."""
    version: int | None = None
    try:
        version = decode_pointer(store.get(_LATEST_HINT)).version
    except (NotFoundError, CorruptionError):
        keys = store.list(MANIFESTS)
        if keys:
            version = max(version_of_manifest_key(k) for k in keys)
    if version is None:
        return None
    if not store.exists(manifest_key(version)):  # the hint is ahead of the manifests (or the newest was removed)
        keys = [k for k in store.list(MANIFESTS) if is_manifest_key(k)]
        if not keys:
            return None
        found = max(version_of_manifest_key(k) for k in keys)
        log.warning(
            "%s: _latest names version %d, which has no manifest; the newest manifest is version %d",
            store.url,
            version,
            found,
        )
        version = found
    while store.exists(manifest_key(version + 1)):  # the hint may lag behind a crashed writer
        version += 1
    return version


def list_versions(store: ObjectStore) -> list[int]:
    return sorted(version_of_manifest_key(k) for k in store.list(MANIFESTS) if is_manifest_key(k))


def try_commit(
    store: ObjectStore, manifest: Manifest, index_data: bytes | None = None, index_changed: bool = True
) -> bool:
    """Create the manifest of ``manifest.version``; False if another writer got there first. Then point
    ``_latest`` at it, after writing ``_latest.index`` when the commit changed the index (``index_data``:
    its bytes, read from the store if not given)."""
    data = manifest.to_bytes()
    if not store.put_if_absent(manifest_key(manifest.version), data):
        return False
    with contextlib.suppress(Exception):  # the hint is an optimisation: the commit above already happened
        write_pointer(store, manifest, data, index_data, index_changed)
    return True


def write_pointer(
    store: ObjectStore,
    manifest: Manifest,
    data: bytes | None = None,
    index: bytes | None = None,
    index_changed: bool = True,
) -> None:
    """Point ``_latest`` at ``manifest`` (whose bytes are ``data``; one atomic put), after putting its index
    (bytes ``index``, read from the store if not given) in ``_latest.index`` if ``index_changed``."""
    if index_changed and manifest.index is not None:
        if index is None:
            index = bytes(store.get(index_key(manifest.index)))
        store.put(LATEST_INDEX, index)
    store.put(_LATEST_HINT, encode_pointer(manifest.version, data or manifest.to_bytes()))


def _get_or_none(store: ObjectStore, key: str) -> bytes | memoryview | None:
    try:
        return store.get(key)
    except NotFoundError:
        return None


def read_pointer(store: ObjectStore, with_index: bool = False) -> tuple[Manifest, bytes, bytes | None] | None:
    """The manifest ``_latest`` carries (checked), its bytes and the index's bytes (inlined in the pointer, or
    with ``with_index`` ``_latest.index``, fetched in the same round trip; checked against the manifest's
    index fingerprint: None when neither is the manifest's index); None when the hint carries no manifest
    (written before format 2), cannot be read or fails its checks: then find the newest version by the
    manifests (:func:`latest_version`)."""
    beside = store.submit(lambda: _get_or_none(store, LATEST_INDEX)) if with_index else None
    try:
        pointer = decode_pointer(store.get(_LATEST_HINT))
        if pointer.manifest is None:
            return None
        manifest = Manifest.from_bytes(pointer.manifest, pointer.version)
    except (NotFoundError, CorruptionError) as exc:
        log.debug("%s: the _latest pointer cannot be used (%s); reading the manifests", store.url, exc)
        return None
    index = pointer.index
    if index is None and beside is not None and manifest.index is not None:
        try:
            index = beside.result()
        except Exception as exc:  # noqa: BLE001 - a shortcut only: the index is read from its own object instead
            log.debug("%s: _latest.index cannot be read (%s)", store.url, exc)
    # checked here, inlined or beside, so the reader decodes it without hashing it again (8 MB at 13,000 buckets)
    if index is not None and hashlib.sha256(index).hexdigest() != manifest.index:
        log.info("%s: the index read with _latest is not the index of version %d; reading index/%s", store.url,
                 manifest.version, manifest.index)  # fmt: skip
        index = None
    return manifest, pointer.manifest, None if index is None else bytes(index)


def newest_manifest(store: ObjectStore, known: Manifest | None = None) -> Manifest | None:
    """The newest committed manifest (None: no collection), found through ``_latest`` with the reader's checks
    (the manifest it copies is stored as copied, no later one exists) in one round trip after the pointer's;
    when they fail (a lagging, torn or damaged pointer), by the manifests (:func:`latest_version`).

    ``known``: a manifest the caller holds (its version, refreshed): while it is still the newest, the pointer
    and the check for the one after it go together, one round trip in all.
    """
    after_known = store.submit(lambda: store.exists(manifest_key(known.version + 1))) if known is not None else None
    found = read_pointer(store)
    if found is not None:
        manifest, data, _ = found
        if known is not None and manifest == known:
            if not after_known.result():
                return known
        elif known is None or manifest.version > known.version:
            same = store.submit(lambda: _get_or_none(store, manifest_key(manifest.version)) == data)
            newer = store.submit(lambda: store.exists(manifest_key(manifest.version + 1)))
            if same.result() and not newer.result():
                return manifest
    latest = latest_version(store)
    return None if latest is None else read_manifest(store, latest)
