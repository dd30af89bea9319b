"""Build, verify and stats: the operations that look at a whole version.

Compaction, which rewrites only the buckets that change, is :mod:`vectree.collection.compaction`.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from typing import Any

from vectree.collection.compaction import compact  # noqa: F401  (re-exported: maintenance.compact)
from vectree.collection.rows import iter_live_rows
from vectree.collection.snapshot import Snapshot
from vectree.collection.verify import VerifyReport, verify  # noqa: F401  (re-exported: maintenance.verify)
from vectree.errors import StorageError
from vectree.index.build import IndexConfig, build_index
from vectree.index.idmap import shard_bits_for
from vectree.storage.base import ObjectStore

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]
SCRATCH_ENV = "VECTREE_TMPDIR"  # where builds spill when no workdir is given (else the collection's _tmp/)
_TAIL_MEMORY_BYTES = 256 << 20  # compaction holds the tail in memory: a larger one is rebuilt instead


def build(snap: Snapshot, config: IndexConfig, progress: Progress | None, workdir: str | None) -> dict[str, Any]:
    """A full, streaming rebuild over the live rows of ``snap``; returns the manifest changes."""
    m = snap.manifest
    s = m.settings
    config = config.for_dim(int(s["dim"]))  # the defaults that depend on the dimension, filled in before storing
    workdir = scratch_dir(snap.store, workdir)
    try:
        result = _build_index(snap, config, progress, workdir)
    except OSError as exc:  # the spill files of the build (the store's own failures are StorageErrors)
        where = workdir or tempfile.gettempdir()
        raise StorageError(
            f"building the index needs temporary space in {where}: {exc.strerror or exc}; free space "
            f"there, or pass workdir= (or set {SCRATCH_ENV}) to use another directory"
        ) from exc
    return {
        "index": result.index_fingerprint,
        "idmap_bits": result.idmap_bits,
        "idmap": tuple(result.idmap_shards),
        "indexed_rows": result.rows,
        "segments": (),
        "tombstones": None,
        "tombstone_count": 0,
        "settings": {**s, "index": config.to_dict()},
    }


def scratch_dir(store: ObjectStore, workdir: str | None) -> str | None:
    """Where a build spills: ``workdir``, else ``$VECTREE_TMPDIR``, else the collection's own ``_tmp/``
    (local stores: on the same disk, and found by cleanup after a crash), else the system's temp dir.
    The build removes its spill directory however it ends.

    >>> from vectree.storage.local import LocalStore
    >>> scratch_dir(LocalStore("c"), None).endswith("/c/_tmp"), scratch_dir(LocalStore("c"), "spill")
    (True, 'spill')
    """
    chosen = workdir or os.environ.get(SCRATCH_ENV)
    if chosen:
        os.makedirs(chosen, exist_ok=True)
        return chosen
    own = getattr(store, "scratch_dir", None)
    return own() if callable(own) else None


def _build_index(snap: Snapshot, config: IndexConfig, progress: Progress | None, workdir: str | None) -> Any:
    m = snap.manifest
    s = m.settings
    return build_index(
        snap.store,
        lambda: iter_live_rows(snap),
        m.rows,
        int(s["dim"]),
        config,
        settings={"metric": s["metric"], "private": bool(s.get("private"))},
        label_type=s.get("label_type"),
        with_metadata=bool(s.get("has_metadata")),
        progress=progress,
        workdir=workdir,
    )


def needs_rebuild(snap: Snapshot) -> bool:
    """Incremental compaction keeps the tail in memory and the id map's shard count: past those, rebuild."""
    m = snap.manifest
    cfg = IndexConfig(**m.settings["index"])
    tail_bytes = m.tail_rows * (int(m.settings["dim"]) * 4 + 64)
    # the id map's shards may grow to 4x their planned size before a rebuild re-plans them (amortised)
    bits_off = abs(shard_bits_for(m.rows) - m.idmap_bits) > 1
    return tail_bytes > max(cfg.partition_bytes, _TAIL_MEMORY_BYTES) or bits_off or m.tail_rows > m.indexed_rows


def stats(snap: Snapshot) -> dict[str, Any]:
    m = snap.manifest
    out: dict[str, Any] = {
        "url": snap.store.url,
        "version": m.version,
        "rows": m.rows,
        "indexed_rows": m.indexed_rows,
        "tail_rows": m.tail_rows,
        "tail_segments": len(m.segments),
        "deleted_rows": m.tombstone_count,
        "dim": m.settings["dim"],
        "metric": m.settings["metric"],
        "private": bool(m.settings.get("private")),
        "bucket_size": m.settings["index"]["bucket_size"],
        "tree_rule": m.settings["index"]["tree_rule"],
        "buckets": 0,
    }
    if snap.index is not None:
        rows = snap.index.bucket_rows
        nonempty = rows[rows > 0]
        out.update(
            {
                "buckets": int(len(nonempty)),
                "tree_nodes": snap.index.tree.n_nodes,
                "bucket_rows_min": int(nonempty.min()) if len(nonempty) else 0,
                "bucket_rows_mean": float(nonempty.mean()) if len(nonempty) else 0.0,
                "bucket_rows_max": int(nonempty.max()) if len(nonempty) else 0,
            }
        )
    c = snap.cache.lru
    out["cache"] = {
        "hits": c.stats.hits,
        "misses": c.stats.misses,
        "bytes_fetched": c.stats.bytes_fetched,
        "evictions": c.stats.evictions,
        "size_bytes": c.size_bytes,
        "capacity_bytes": c.capacity_bytes,
        "fetches": snap.cache.fetches,
        "objects": len(c),
        # the slabs decoded buckets live in (see vectree.collection.arena), and blocks moved out of sparse ones
        "slabs": snap.cache.arena.slabs,
        "slab_bytes": snap.cache.arena.slab_bytes,
        "moves": snap.cache.moves,
        "slabs_reused": snap.cache.arena.reused,  # dropped slabs filled again (their pages already backed)
        # vector dtypes of the decoded buckets held (float16 buckets are held as stored, 2 bytes a value)
        "block_dtypes": sorted({str(v.rows.vectors.dtype) for v in c.values() if hasattr(v, "rows")}),
        "known_layouts": snap.cache.known_layouts,  # files whose array offsets are recorded: rereads skip Arrow
    }
    if snap.cache.disk is not None:
        d = snap.cache.disk.stats
        out["disk_cache"] = {
            "hits": d.hits,
            "misses": d.misses,
            "bytes_written": d.bytes_written,
            "evictions": d.evictions,
        }
    store_stats = getattr(snap.store, "stats", None)
    if callable(store_stats):
        out["store"] = store_stats()  # requests, round trips, retries, bytes moved (S3)
    return out
