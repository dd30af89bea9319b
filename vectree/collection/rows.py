"""Reading the live rows of a version, bucket by bucket, and writing tail segments."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator

import numpy as np

from vectree.collection.manifest import SegmentRef, latest_version, read_manifest
from vectree.collection.routing import routing_of
from vectree.collection.snapshot import Snapshot
from vectree.errors import InvalidInputError
from vectree.format.bucket import Rows, decode_rows, encode_rows
from vectree.format.id_keys import encode_keys, id_keys
from vectree.format.object_keys import rows_key
from vectree.index.index import Index
from vectree.storage.base import ObjectStore

SEGMENT_ROWS = 65_536
log = logging.getLogger(__name__)


def iter_live_rows(snap: Snapshot, refs: list[tuple[str, str]] | None = None) -> Iterator[Rows]:
    """Yield the live rows of every bucket and segment (or of ``refs``), one file at a time.

    Files are read straight from the store, not through the cache, so a full pass over a large
    collection does not evict the buckets that queries are using.
    """
    for folder, fp in refs if refs is not None else snap.file_refs():
        rows, live = read_rows(snap, folder, fp)
        if live is not None:
            rows = rows.take(live)
        if len(rows):
            yield rows


def read_rows(snap: Snapshot, folder: str, fp: str) -> tuple[Rows, np.ndarray | None]:
    """Every row of one bucket or segment file, read straight from the store, and which of them are
    live (None: all; else a mask, False for the rows ``snap``'s tombstones hide)."""
    rows = decode_rows(snap.store.get(rows_key(folder, fp)), fp, what=folder[:-1])
    dead = snap.tombstones.get(fp)
    if dead is None or not len(dead):
        return rows, None
    return rows, ~np.isin(id_keys(rows.ids), dead)


def new_write_id() -> str:
    """A fresh identity for one write call (128 random bits): see :class:`SegmentRef`.

    >>> len(new_write_id()), new_write_id() != new_write_id()
    (32, True)
    """
    return secrets.token_hex(16)


def write_segments(
    store: ObjectStore,
    rows: Rows,
    label_type: str | None,
    write_id: str | None = None,
    written: list[str] | None = None,
    index: tuple[Index | None, str | None] = (None, None),
) -> list[SegmentRef]:
    """Write ``rows`` as tail segments of at most SEGMENT_ROWS rows (files first, then the caller commits).

    Every segment records ``write_id`` (a new one per call unless given) and its part number, in the
    file and in its :class:`SegmentRef`: the file is unique to this write, so tombstones of earlier
    writes (keyed by file fingerprint) can never apply to it. The keys of the files written are
    appended to ``written`` before they are written: both are unique to this write, so a failed call can
    remove them (see :func:`remove_objects`) without touching anything another write relies on.
    ``index``: the index of the version written on and its fingerprint; each segment's key list records
    the bucket of each of its rows under it (:mod:`vectree.collection.routing`).
    """
    write_id = write_id or new_write_id()
    refs = []
    for part_no, start in enumerate(range(0, len(rows), SEGMENT_ROWS)):
        part = rows.take(np.arange(start, min(start + SEGMENT_ROWS, len(rows))))
        ident = f"{write_id}.{part_no}"
        data, fp = encode_rows(part, label_type=label_type, write_id=ident)
        kdata, kfp = encode_keys(id_keys(part.ids), write_id=ident, routing=routing_of(*index, part.vectors))
        ref = SegmentRef(fingerprint=fp, rows=len(part), keys=kfp, write=ident)
        if written is not None:
            written.extend(ref.objects)
        store.put_many(list(zip(ref.objects, (data, kdata))))
        refs.append(ref)
    return refs


def remove_uncommitted(store: ObjectStore, segments: list[SegmentRef], written: list[str]) -> None:
    """After a failed write: remove the files it wrote (unique to it), unless a commit names them after all.

    Best effort: a failure here is logged, not raised (the failure being reported matters more).
    """
    if not written:
        return
    try:
        latest = latest_version(store)
        if segments and latest is not None and segments[0] in read_manifest(store, latest).segments:
            return
    except Exception:  # cannot tell whether the write landed: keep its files
        return
    for key in written:
        try:
            store.delete(key)
        except Exception as exc:  # the failure being reported matters more than this one
            log.warning("could not remove %s after a failed write: %s", key, exc)


def refuse_existing(snap: Snapshot, keys: np.ndarray, ids: np.ndarray | None = None) -> None:
    """Refuse keys that ``snap`` already stores (an add must not replace rows)."""
    where = snap.locate(keys)
    if (where != "").any():
        shown = (ids if ids is not None else keys)[where != ""][:5].tolist()
        raise InvalidInputError(
            f"{int((where != '').sum())} id(s) are already stored ({'ids' if ids is not None else 'keys'} {shown}); "
            "use upsert to replace rows"
        )


def add_tombstones(snap: Snapshot, keys: np.ndarray, where: np.ndarray) -> tuple[dict[str, np.ndarray], bool]:
    """``snap``'s tombstones plus ``keys`` in the files ``where`` names (from :meth:`Snapshot.locate`); and
    whether any was added. Keyed by file fingerprint: files are unique per write, so never a later row."""
    tomb = dict(snap.tombstones)
    changed = False
    for fp in np.unique(where[where != ""]):
        fp = str(fp)
        new = keys[where == fp]
        tomb[fp] = np.union1d(tomb.get(fp, np.empty(0, np.int64)), new)
        changed = True
    return tomb, changed
