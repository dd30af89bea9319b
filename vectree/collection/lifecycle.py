"""A collection's lifecycle: tags that name versions, and a cleanup that reclaims what no kept version uses.

Tags are small objects ``tags/<name>.json`` holding a version number; a tagged version is never
cleaned up, and ``open_collection(url, tag="prod")`` opens it.

:func:`cleanup` deletes the manifests of versions older than a cutoff (never the newest
``keep_versions``, never a tagged one), then every data object (index, buckets, idmap shards,
segments, keys, tombstones, attachments) that no kept version references, including orphans of
writers that crashed or lost a race, but only objects last written more than ``grace`` ago.

Why that is safe against a writer committing at the same moment: a writer first writes its new
objects, then commits a manifest naming them plus objects of the version it extends. Its new
objects are younger than ``grace`` (as long as no write takes longer than ``grace``, so keep it above
the longest build), so they are never candidates; the version it extends is the newest one when its
commit succeeds, and the newest version is always kept. The objects are listed *before* the
manifests are read, so an object a writer creates after the listing is not even seen. Manifests are
deleted before objects (a cleanup that dies half-way leaves orphans for the next one, never a
version with missing files), and a manifest younger than ``grace`` is never deleted either, so the
``_latest`` hint (which may lag the newest version by the few moments of a commit) always points at
a manifest that still exists, with no gap after it. A reader still reading a version that a cleanup
deletes loses its files: ``older_than`` is what protects readers of recent versions.

Ages come from the store's own clock (file modification time, S3 ``Last-Modified``), so writers'
clocks do not matter. A store that reports no times (the base :class:`ObjectStore`) deletes nothing.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import timedelta

from vectree.collection.manifest import Manifest, latest_version, read_manifest, write_pointer
from vectree.errors import CorruptionError, InvalidInputError, NotFoundError
from vectree.format.object_keys import (
    DATA_PREFIXES,
    EXPIRED,
    LATEST,
    MANIFESTS,
    TAGS,
    attachment_key,
    bucket_key,
    idmap_key,
    index_key,
    is_manifest_key,
    manifest_key,
    tag_key,
    tag_of_key,
    tombstones_key,
    version_of_manifest_key,
)
from vectree.format.pointer import decode_pointer
from vectree.index.index import Index
from vectree.pools import io_pool
from vectree.storage.base import ObjectInfo, ObjectStore

log = logging.getLogger(__name__)

DEFAULT_OLDER_THAN = timedelta(days=7)
DEFAULT_GRACE = timedelta(hours=6)
_TAG_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


# ---------------------------------------------------------------------------------------------- tags
def _tag_key(name: str) -> str:
    if not isinstance(name, str) or not _TAG_NAME.match(name):
        raise InvalidInputError(
            f"tag names are 1-100 letters, digits, '.', '_' or '-' (starting with a letter or digit), got {name!r}"
        )
    return tag_key(name)


def set_tag(store: ObjectStore, name: str, version: int) -> None:
    """Point tag ``name`` at ``version`` (moving it if it exists); NotFoundError if no such version."""
    key = _tag_key(name)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise InvalidInputError(f"a tag points at a version number (an int >= 0), got {version!r}")
    if not store.exists(manifest_key(version)):
        raise NotFoundError(f"cannot tag version {version} of {store.url}: it does not exist (see versions())")
    store.put(key, json.dumps({"version": version, "tagged": time.time()}).encode())
    if not store.exists(manifest_key(version)):  # a cleanup deleted it between the check and the tag
        store.delete(key)
        raise NotFoundError(f"version {version} of {store.url} was cleaned up while it was being tagged")


def read_tag(store: ObjectStore, name: str) -> int:
    """The version tag ``name`` points at."""
    key = _tag_key(name)
    try:
        return int(json.loads(store.get(key))["version"])
    except NotFoundError:
        raise NotFoundError(f"no tag {name!r} in {store.url}; its tags are {sorted(list_tags(store))}") from None


def delete_tag(store: ObjectStore, name: str) -> None:
    """Remove tag ``name`` (its version becomes eligible for cleanup); NotFoundError if there is none."""
    key = _tag_key(name)
    if not store.exists(key):
        raise NotFoundError(f"no tag {name!r} in {store.url}")
    store.delete(key)


def list_tags(store: ObjectStore) -> dict[str, int]:
    """Every tag and the version it points at."""
    out = {}
    for key in store.list(TAGS):
        name = tag_of_key(key)
        if name is not None:
            try:
                out[name] = int(json.loads(store.get(key))["version"])
            except NotFoundError:
                continue  # removed since the listing
    return out


# ------------------------------------------------------------------------------------------- cleanup
def seconds(value: float | int | timedelta | str, what: str) -> float:
    """A duration as seconds: a number of seconds, a timedelta, or text such as ``"90s"``, ``"2h"``, ``"7d"``.

    >>> seconds("2h", "older_than"), seconds(timedelta(minutes=1), "grace"), seconds(0, "grace")
    (7200.0, 60.0, 0.0)
    """
    if isinstance(value, timedelta):
        out = value.total_seconds()
    elif isinstance(value, str):
        m = _DURATION.match(value)
        if not m:
            raise InvalidInputError(f"{what} must be a duration such as 90s, 30m, 2h, 7d or 1w, got {value!r}")
        out = float(m.group(1)) * _UNIT_S[m.group(2) or "s"]
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out = float(value)
    else:
        raise InvalidInputError(f"{what} must be seconds, a timedelta or a duration string, got {value!r}")
    if not out >= 0:
        raise InvalidInputError(f"{what} must not be negative, got {value!r}")
    return out


@dataclass
class CleanupReport:
    """What a cleanup removed and kept (``dry_run``: what it would remove)."""

    versions_deleted: list[int] = field(default_factory=list)
    versions_kept: list[int] = field(default_factory=list)
    objects_deleted: int = 0
    bytes_deleted: int = 0
    objects_kept: int = 0
    bytes_kept: int = 0
    young_unreferenced: int = 0  # unreferenced objects spared because they are younger than the grace period
    dry_run: bool = False


def cleanup(
    store: ObjectStore,
    older_than: float | timedelta | str = DEFAULT_OLDER_THAN,
    keep_versions: int = 1,
    grace: float | timedelta | str = DEFAULT_GRACE,
    dry_run: bool = False,
) -> CleanupReport:
    """Delete old versions and every object no kept version references (see the module docstring)."""
    older_s, grace_s = seconds(older_than, "older_than"), seconds(grace, "grace")
    if isinstance(keep_versions, bool) or not isinstance(keep_versions, int) or keep_versions < 1:
        raise InvalidInputError(
            f"keep_versions must be an int >= 1 (the newest version is always kept), got {keep_versions!r}"
        )
    now = time.time()
    objects = [o for o in store.list_info("") if o.key.startswith(DATA_PREFIXES)]  # before the manifests: see above
    manifests = {version_of_manifest_key(o.key): o for o in store.list_info(MANIFESTS) if is_manifest_key(o.key)}
    newest = max([*manifests, latest_version(store) or 0])
    if not manifests:
        raise NotFoundError(f"no collection at {store.url}")
    tagged = set(list_tags(store).values())
    recent = set(sorted(manifests)[-keep_versions:]) | {newest}
    doomed = [
        v
        for v, info in sorted(manifests.items())
        if v not in recent and v not in tagged and _age(store, v, info, now) > max(older_s, grace_s)
    ]
    report = CleanupReport(dry_run=dry_run)
    if doomed and not dry_run:
        _advance_hint(store, newest)
        tagged = set(list_tags(store).values())  # re-read: a tag set since the first read wins
        doomed = [v for v in doomed if v not in tagged]
        _record_expired(store, doomed)
        _delete_all(store, [manifest_key(v) for v in doomed])
    report.versions_deleted = doomed
    report.versions_kept = sorted(set(manifests) - set(doomed))
    live = referenced_keys(store, report.versions_kept)
    to_delete: list[ObjectInfo] = []
    for o in objects:
        if o.key in live:
            report.objects_kept += 1
            report.bytes_kept += o.size
        elif o.modified is not None and now - o.modified > grace_s:
            to_delete.append(o)
        else:
            report.young_unreferenced += 1
            report.objects_kept += 1
            report.bytes_kept += o.size
    if not dry_run:
        _delete_all(store, [o.key for o in to_delete])
        _clean_scratch(store, now, grace_s)
    report.objects_deleted, report.bytes_deleted = len(to_delete), sum(o.size for o in to_delete)
    log.info(
        "cleanup of %s: %d versions and %d objects (%d bytes) deleted, %d versions kept",
        store.url,
        len(doomed),
        report.objects_deleted,
        report.bytes_deleted,
        len(report.versions_kept),
    )
    return report


def _clean_scratch(store: ObjectStore, now: float, grace_s: float) -> None:
    """Remove what killed writers and builds left in a local store's ``_tmp/`` (temporary files of puts,
    build spill directories) once older than ``grace``: a live write or build finishes within it."""
    import os
    import shutil

    scratch = getattr(store, "scratch_dir", None)
    if not callable(scratch):
        return
    root = scratch()
    for entry in os.scandir(root):
        try:
            if now - entry.stat(follow_symlinks=False).st_mtime <= grace_s:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
        except FileNotFoundError:  # its writer finished (or another cleanup removed it) meanwhile
            continue


def _age(store: ObjectStore, version: int, info: ObjectInfo, now: float) -> float:
    if info.modified is not None:
        return now - info.modified
    return -1.0  # the store cannot tell when it was written: never old enough


def _advance_hint(store: ObjectStore, newest: int) -> None:
    """Make sure ``_latest`` is at least ``newest`` before any manifest goes (its walk forward must not cross a gap)."""
    try:
        hint = decode_pointer(store.get(LATEST)).version
    except (NotFoundError, CorruptionError):
        hint = -1
    if hint < newest:
        write_pointer(store, read_manifest(store, newest))


def expired_versions(store: ObjectStore) -> set[int]:
    """The versions cleanups have deleted (so a gap in the version numbers is not a missing manifest)."""
    try:
        ranges = json.loads(store.get(EXPIRED))
    except NotFoundError:
        return set()
    return {v for first, last in ranges for v in range(int(first), int(last) + 1)}


def _record_expired(store: ObjectStore, versions: list[int]) -> None:
    """Add ``versions`` to the record of deleted versions (written before the manifests go)."""
    every = sorted(expired_versions(store) | set(versions))
    ranges: list[list[int]] = []
    for v in every:
        if ranges and ranges[-1][1] == v - 1:
            ranges[-1][1] = v
        else:
            ranges.append([v, v])
    store.put(EXPIRED, json.dumps(ranges).encode())


def manifest_keys(m: Manifest) -> list[str]:
    """Every object ``m`` names directly (its buckets are named by its index)."""
    keys = [index_key(m.index)] if m.index else []
    keys += [idmap_key(fp) for fp in m.idmap]
    for seg in m.segments:
        keys += list(seg.objects)  # the segment and its key list (.npz since writes are recorded)
    if m.tombstones:
        keys.append(tombstones_key(m.tombstones))
    keys += [attachment_key(fp) for fp in m.attachments.values()]
    return keys


def referenced_keys(store: ObjectStore, versions: list[int]) -> set[str]:
    """Every object key the given versions need, buckets included (each distinct index read once)."""
    live: set[str] = set()
    indexes: set[str] = set()
    for v in versions:
        try:
            m = read_manifest(store, v)
        except NotFoundError:
            continue  # deleted by a concurrent cleanup
        live.update(manifest_keys(m))
        if m.index and m.index not in indexes:
            indexes.add(m.index)
            index = Index.from_bytes(store.get(index_key(m.index)), m.index)
            live.update(bucket_key(fp) for fp in index.bucket_fingerprints if fp)
    return live


def _delete_all(store: ObjectStore, keys: list[str]) -> None:
    if len(keys) <= 1:
        for k in keys:
            store.delete(k)
        return
    list(io_pool().map(store.delete, keys))
