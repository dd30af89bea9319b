"""The distributed build: fit on the driver, route / shuffle / write buckets on Ray workers, one commit.

1. The driver lists the source's shards (row ranges of .npy / Parquet files, local or S3) and has
   workers read exactly the rows :func:`vectree.index.build.sample_positions` picks, the sample a local
   build of the same rows fits on; it fits projection, tree and centers (:func:`fit_routing`).
2. The small routing object goes to every worker once (``ray.put``). Each map task reads its shard,
   routes every row to a bucket and splits its rows into partitions (contiguous bucket ranges).
3. Each reduce task receives one partition from every map task (Ray's object store is the shuffle),
   orders rows by (bucket, input position), cuts buckets and writes them straight to the store.
4. The driver collects (bucket, fingerprint, rows, keys) per bucket, writes the id map and the index,
   and commits one manifest. Rows in a bucket are in input order, as the local build leaves them,
   so buckets, fingerprints and answers equal the local build's.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from vectree.collection import Collection, create_collection, open_collection
from vectree.collection.validate import as_ids, as_vectors
from vectree.distributed.sources import Shard, list_shards, read_shard
from vectree.errors import ConflictError, InvalidInputError, NotFoundError, VectreeError
from vectree.format.bucket import Rows, encode_rows
from vectree.format.id_keys import id_keys
from vectree.format.object_keys import bucket_key, idmap_key
from vectree.format.spans import ColumnSpan, column_span
from vectree.index.bucketstats import bucket_stats
from vectree.index.build import (
    IndexConfig,
    Routing,
    finish_index,
    fit_routing,
    sample_positions,
    sample_rows_for,
    wants_bucket_centers,
)
from vectree.index.idmap import KeyShard, shard_bits_for, shard_of
from vectree.storage.url import open_store

log = logging.getLogger(__name__)


def _shard_rows(
    shard: Shard, dim: int, metric: str, options: dict | None, fields: tuple[str, str | None]
) -> tuple[np.ndarray, np.ndarray, str]:
    vectors, ids = read_shard(shard, options, *fields)
    vectors = as_vectors(vectors, dim, metric, what=f"vectors of {shard.path}")
    if ids is None:
        return vectors, np.arange(shard.offset, shard.offset + shard.rows, dtype=np.int64), "int"
    arr, id_type = as_ids(ids, len(vectors), None)
    return vectors, arr, id_type


def _dim_of(shard: Shard, options: dict | None, fields: tuple[str, str | None]) -> int:
    return int(read_shard(shard, options, *fields)[0].shape[1])


def _sample_task(
    shard: Shard, local: np.ndarray, dim: int, metric: str, options: dict | None, fields: tuple
) -> np.ndarray:
    vectors, _, _ = _shard_rows(shard, dim, metric, options, fields)
    return vectors[local]


def _route_task(
    shard: Shard,
    routing: Routing,
    part_of_bucket: np.ndarray,
    dim: int,
    metric: str,
    options: dict | None,
    fields: tuple,
) -> list[dict]:
    vectors, ids, id_type = _shard_rows(shard, dim, metric, options, fields)
    buckets = routing.route(vectors)
    parts = part_of_bucket[buckets]
    pos = np.arange(shard.offset, shard.offset + shard.rows, dtype=np.int64)
    out = []
    for p in range(int(part_of_bucket.max()) + 1):
        sel = np.flatnonzero(parts == p)
        out.append(
            {"bucket": buckets[sel], "pos": pos[sel], "ids": ids[sel], "vectors": vectors[sel], "id_type": id_type}
        )
    return out


def _write_task(url: str, storage_options: dict | None, dtype: str, with_centers: bool, *pieces: dict) -> list[tuple]:
    store = open_store(url, **(storage_options or {}))
    pieces = [p for p in pieces if len(p["bucket"])]
    if not pieces:
        return []
    row_bucket = np.concatenate([p["bucket"] for p in pieces])
    pos = np.concatenate([p["pos"] for p in pieces])
    ids = np.concatenate([p["ids"] for p in pieces])
    vectors = np.concatenate([p["vectors"] for p in pieces])
    order = np.lexsort((pos, row_bucket))  # by bucket, then input position: the local build's order
    row_bucket, ids, vectors = row_bucket[order], ids[order], vectors[order]
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(row_bucket)) + 1, [len(row_bucket)]])
    out, pending = [], []
    for s, e in zip(bounds[:-1], bounds[1:]):
        rows = Rows(ids=ids[s:e], vectors=vectors[s:e], labels=None, metadata=None)
        data, fp = encode_rows(rows, dtype=dtype, label_type=None)
        pending.append((bucket_key(fp), data))
        out.append(
            (
                int(row_bucket[s]),
                fp,
                int(e - s),
                id_keys(rows.ids),
                rows.vectors.mean(0) if with_centers else None,
                bucket_stats(rows),
                column_span(data),
            )
        )
    store.put_many(pending)
    return out


def start_ray(address: str | None) -> None:
    """Connect to the cluster at ``address`` ("auto": the running one), or start a fresh local one for
    ``None`` / ``"local"`` / ``"local:N"`` (N CPUs), never joining a stale cluster by accident."""
    import ray

    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
    if address is None or address.startswith("local"):
        cpus = int(address.split(":")[1]) if address and ":" in address else None
        ray.init(address="local", num_cpus=cpus, **quiet)
    else:
        ray.init(address=address, **quiet)


def _get(refs: Any) -> Any:
    """``ray.get``, re-raising a worker's vectree error as itself (its message, not Ray's traceback)."""
    import ray

    try:
        return ray.get(refs)
    except ray.exceptions.RayTaskError as exc:
        if isinstance(exc.cause, VectreeError):
            raise exc.cause from None
        raise


def _partitions(routing: Routing, dim: int, config: IndexConfig, min_parts: int) -> np.ndarray:
    """Partition of each bucket: contiguous bucket ranges of about equal expected bytes (at least ``min_parts``)."""
    est = routing.estimate
    rows_per_part = max(config.bucket_size, config.partition_bytes // (dim * 4 + 64))
    n_parts = max(min_parts, int(np.ceil(est.sum() / rows_per_part)))
    cum = np.cumsum(est) - est
    return np.minimum(n_parts - 1, np.floor(cum / max(1.0, est.sum() / n_parts))).astype(np.int64)


def build(
    url: str,
    source: str | list[str],
    *,
    dim: int | None = None,
    metric: str = "l2",
    bucket_size: int | None = None,
    tree_rule: str = "kmeans",
    vector_dtype: str = "float32",
    address: str | None = None,
    shard_rows: int = 100_000,
    storage_options: dict[str, Any] | None = None,
    source_options: dict[str, Any] | None = None,
    vector_field: str = "vector",
    id_field: str | None = "id",
) -> Collection:
    """Build the collection at ``url`` from ``source`` (.npy / Parquet files, local or ``s3://``) on Ray.

    The collection is created if absent (else it must be empty); rows get the ids in ``id_field``
    (Parquet) or their input position (.npy). Connects to the Ray cluster at ``address`` ("auto" for
    the running one), or starts a local one (``ray.init()``) when none is given and none is running.
    ``source_options`` go to ``pyarrow.fs.S3FileSystem`` for s3:// sources (endpoint_override, ...).
    The result equals a local ``add`` + ``build`` of the same rows: same buckets, fingerprints, answers.

    >>> import numpy as np, tempfile, os, vectree.distributed as vd
    >>> d = tempfile.mkdtemp(); x = np.random.default_rng(0).normal(size=(500, 8)).astype(np.float32)
    >>> np.save(os.path.join(d, "x.npy"), x)
    >>> col = vd.build(  # doctest: +SKIP
    ...     os.path.join(d, "c"), os.path.join(d, "x.npy"), bucket_size=50, address="local:2"
    ... )
    """
    import ray

    fields = (vector_field, id_field)
    shards = list_shards(source, shard_rows, source_options)
    total = shards[-1].offset + shards[-1].rows
    started = False
    if not ray.is_initialized():
        start_ray(address)
        started = True
    try:
        remote = {
            name: ray.remote(fn)
            for name, fn in (("dim", _dim_of), ("sample", _sample_task), ("route", _route_task), ("write", _write_task))
        }
        try:
            col = open_collection(url, storage_options=storage_options)
        except NotFoundError:
            d = dim or _get(remote["dim"].remote(shards[0], source_options, fields))
            col = create_collection(
                url,
                dim=int(d),
                metric=metric,
                bucket_size=bucket_size,
                tree_rule=tree_rule,
                vector_dtype=vector_dtype,
                storage_options=storage_options,
            )
        if len(col) or col.manifest.index:
            raise InvalidInputError(
                f"{url} already holds {len(col)} rows: a distributed build fills an empty collection"
            )
        base = col.manifest
        cfg, dim, metric = col.index_config, col.dim, col.metric
        settings = {"metric": metric, "private": bool(base.settings.get("private"))}
        t0 = time.perf_counter()
        wanted = sample_positions(total, sample_rows_for(total, dim, cfg), cfg.seed)
        jobs = []
        for sh in shards:
            lo, hi = np.searchsorted(wanted, [sh.offset, sh.offset + sh.rows])
            if hi > lo:
                jobs.append(remote["sample"].remote(sh, wanted[lo:hi] - sh.offset, dim, metric, source_options, fields))
        sample = np.concatenate(_get(jobs))
        if cfg.vector_dtype == "float16":  # held at the stored precision, as a local build holds it: the same fit
            sample = sample.astype(np.float16)
        routing = fit_routing(sample, total, cfg, settings)
        del sample
        t1 = time.perf_counter()
        workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        part_of_bucket = _partitions(routing, dim, cfg, min_parts=2 * workers)
        n_parts = int(part_of_bucket.max()) + 1
        routing_ref, parts_ref = ray.put(routing), ray.put(part_of_bucket)
        maps = [
            remote["route"]
            .options(num_returns=n_parts)
            .remote(sh, routing_ref, parts_ref, dim, metric, source_options, fields)
            for sh in shards
        ]
        maps = [m if isinstance(m, list) else [m] for m in maps]
        reduces = [
            remote["write"].remote(
                url, storage_options, cfg.vector_dtype, wants_bucket_centers(routing, settings), *[m[p] for m in maps]
            )
            for p in range(n_parts)
        ]
        buckets = [b for part in _get(reduces) for b in part]
        id_type = _get(maps[0][0])["id_type"]
        t2 = time.perf_counter()
    finally:
        if started:
            ray.shutdown()
    n_buckets = routing.n_buckets
    fps, counts = [""] * n_buckets, np.zeros(n_buckets, np.int64)
    bucket_centers = np.zeros((n_buckets, dim), np.float32) if wants_bucket_centers(routing, settings) else None
    keys, key_buckets = [], []
    stats: list[dict | None] = [None] * n_buckets
    spans: list[ColumnSpan | None] = [None] * n_buckets
    for bucket, fp, count, k, center, st, span in buckets:
        fps[bucket], counts[bucket], stats[bucket], spans[bucket] = fp, count, st, span
        if bucket_centers is not None:
            bucket_centers[bucket] = center
        keys.append(k)
        key_buckets.append(np.full(len(k), bucket, np.int32))
    if int(counts.sum()) != total:
        raise ConflictError(
            f"the workers wrote {int(counts.sum())} rows of {total}: the source changed during the build"
        )
    all_keys, all_buckets = np.concatenate(keys), np.concatenate(key_buckets)
    bits = shard_bits_for(total)
    owner = shard_of(all_keys, bits)
    shard_fps = []
    for s in range(1 << bits):
        sel = np.flatnonzero(owner == s)
        order = np.argsort(all_keys[sel], kind="stable")
        shard = KeyShard(all_keys[sel][order].copy(), all_buckets[sel][order].astype(np.int32))
        if len(shard.keys) > 1 and (np.diff(shard.keys) == 0).any():
            raise InvalidInputError("the source holds an id twice; each id may appear once")
        data, fp = shard.to_bytes()
        col.store.put(idmap_key(fp), data)
        shard_fps.append(fp)
    _, index_fp = finish_index(col.store, routing, fps, counts, bucket_centers, settings, cfg, stats, spans)
    changes = {
        "index": index_fp,
        "idmap_bits": bits,
        "idmap": tuple(shard_fps),
        "indexed_rows": total,
        "segments": (),
        "tombstones": None,
        "tombstone_count": 0,
        "settings": {
            **base.settings,
            "id_type": id_type,
            "label_type": None,
            "has_metadata": False,
            "index": cfg.to_dict(),
        },
    }
    if id_type == "int":
        changes["next_auto_id"] = max(base.next_auto_id, int(all_keys.max()) + 1)  # int ids are their own keys

    def make(b: Any) -> dict[str, Any]:
        if b.version != base.version:
            raise ConflictError(f"the collection changed (version {b.version}) during the distributed build")
        return changes

    col._commit("build", make, rebase=False)
    log.info(
        "distributed build of %d rows: fit %.1f s, route+shuffle+write %.1f s, %d shards, %d partitions",
        total,
        t1 - t0,
        t2 - t1,
        len(shards),
        n_parts,
    )
    return col
