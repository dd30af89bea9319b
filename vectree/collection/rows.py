"""Reading the live rows of a version, bucket by bucket, and writing tail segments."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import numpy as np

from vectree.collection.manifest import SegmentRef
from vectree.collection.snapshot import Snapshot
from vectree.format.keys import encode_keys
from vectree.format.bucket import Rows, decode_rows, encode_rows
from vectree.format.keys import id_keys
from vectree.storage.base import ObjectStore

SEGMENT_ROWS = 65_536


def iter_live_rows(snap: Snapshot, refs: list[tuple[str, str]] | None = None) -> Iterator[Rows]:
    """Yield the live rows of every bucket and segment (or of ``refs``), one file at a time.

    Files are read straight from the store, not through the cache, so a full pass over a large
    collection does not evict the buckets that queries are using.
    """
    tomb = snap.tombstones
    for folder, fp in refs if refs is not None else snap.file_refs():
        rows = decode_rows(snap.store.get(f"{folder}/{fp}.arrow"), fp, what=folder[:-1])
        dead = tomb.get(fp)
        if dead is not None and len(dead):
            rows = rows.take(~np.isin(id_keys(rows.ids), dead))
        if len(rows):
            yield rows


def new_write_id() -> str:
    """A fresh identity for one write call (128 random bits): see :class:`SegmentRef`."""
    return secrets.token_hex(16)


def write_segments(store: ObjectStore, rows: Rows, label_type: str | None, write_id: str | None = None,
                   written: list[str] | None = None) -> list[SegmentRef]:
    """Write ``rows`` as tail segments of at most SEGMENT_ROWS rows (files first, then the caller commits).

    Every segment records ``write_id`` (a new one per call unless given) and its part number, in the
    file and in its :class:`SegmentRef`: the file is unique to this write, so tombstones of earlier
    writes (keyed by file fingerprint) can never apply to it. The keys of the files written are
    appended to ``written`` as they are written (so a failed call can remove them).
    """
    write_id = write_id or new_write_id()
    refs = []
    for part_no, start in enumerate(range(0, len(rows), SEGMENT_ROWS)):
        part = rows.take(np.arange(start, min(start + SEGMENT_ROWS, len(rows))))
        ident = f"{write_id}.{part_no}"
        data, fp = encode_rows(part, label_type=label_type, write_id=ident)
        kdata, kfp = encode_keys(id_keys(part.ids))
        objects = [(f"segments/{fp}.arrow", data), (f"keys/{kfp}.npy", kdata)]
        if written is not None:
            written.extend(k for k, _ in objects)
        store.put_many(objects)
        refs.append(SegmentRef(fingerprint=fp, rows=len(part), keys=kfp, write=ident))
    return refs
