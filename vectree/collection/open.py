"""Creating and opening collections: turn a URL into a store, a manifest and a read cache."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from vectree.collection.cache import ObjectCache
from vectree.collection.collection import DEFAULT_CACHE_BYTES, Collection
from vectree.collection.lifecycle import read_tag
from vectree.collection.manifest import (
    Manifest,
    latest_version,
    list_versions,
    read_manifest,
    read_pointer,
    try_commit,
)
from vectree.collection.validate import check_metric, check_version
from vectree.errors import ConflictError, CorruptionError, InvalidInputError, NotFoundError
from vectree.format.object_keys import index_key, manifest_key
from vectree.index.build import IndexConfig
from vectree.index.index import Index
from vectree.storage.base import ObjectStore
from vectree.storage.url import open_store

log = logging.getLogger(__name__)


def create_collection(
    url: str,
    dim: int,
    metric: str = "l2",
    bucket_size: int | None = None,
    *,
    tree_rule: str = "kmeans",
    n_components: int | None = None,
    max_depth: int = 32,
    vector_dtype: str = "float32",
    codes: str | None = None,
    private: bool = False,
    exist_ok: bool = False,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
    cache_dir: str | None = None,
    cache_dir_bytes: int = 4 << 30,
    storage_options: dict[str, Any] | None = None,
) -> Collection:
    """Create an empty collection at ``url`` (a path, ``file://``, ``memory://`` or ``s3://``).

    ``bucket_size`` bounds the rows per bucket: smaller buckets scan less per probe, larger ones
    need fewer probes; by default a bucket holds about 160 KiB of vectors, at least 80 rows
    (:func:`vectree.index.build.default_bucket_size`).
    ``codes="int8"`` stores a compact code of every row next to it (a quarter of float32): searches
    scan the codes and read in full only the rows they cannot rule out, with the same answers.
    ``codes="rabitq"`` stores one bit a dimension (RaBitQ) and four floats a row: searches rank by
    its estimate and read in full a short list (``rerank``, see :meth:`Collection.search`).
    ``private`` is recorded for the service layer (the seed's keepPrivate).
    ``cache_bytes`` bounds the in-memory read cache; ``cache_dir`` adds a local-disk cache of
    ``cache_dir_bytes`` (useful for s3:// collections). ``storage_options`` go to the store
    (for S3: endpoint_url, access_key_id, secret_access_key, region, allow_http, retry).
    """
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool) or dim < 1:
        raise InvalidInputError(f"dim must be a positive integer, got {dim!r}")
    check_metric(metric)
    config = IndexConfig(
        bucket_size=None if bucket_size is None else int(bucket_size),
        tree_rule=tree_rule,
        n_components=None if n_components is None else min(int(n_components), int(dim)),
        max_depth=int(max_depth),
        vector_dtype=vector_dtype,
        codes=codes,
    ).for_dim(int(dim))
    config.validate()
    store = open_store(url, **(storage_options or {}))
    settings = {
        "dim": int(dim),
        "metric": metric,
        "private": bool(private),
        "id_type": None,
        "label_type": None,
        "has_metadata": False,
        "index": config.to_dict(),
    }
    existing = latest_version(store)
    if existing is not None:
        if not exist_ok:
            raise InvalidInputError(
                f"a collection already exists at {url}; open it with open_collection, or pass exist_ok=True"
            )
        col = open_collection(
            url,
            cache_bytes=cache_bytes,
            cache_dir=cache_dir,
            cache_dir_bytes=cache_dir_bytes,
            storage_options=storage_options,
        )
        if col.dim != dim or col.metric != metric:
            raise InvalidInputError(
                f"the collection at {url} has dim={col.dim}, metric={col.metric!r}, not dim={dim}, metric={metric!r}"
            )
        return col
    manifest = Manifest(version=0, settings=settings, created=time.time())
    if not try_commit(store, manifest):
        raise ConflictError(f"another process created a collection at {url} at the same moment")
    return Collection(store, manifest, _object_cache(store, cache_bytes, cache_dir, cache_dir_bytes, metric))


def _object_cache(
    store: ObjectStore,
    cache_bytes: int,
    cache_dir: str | None,
    cache_dir_bytes: int,
    metric: str,
    slab_bytes: int | None = None,
) -> ObjectCache:
    from vectree.storage.diskcache import DiskCache

    disk = DiskCache(cache_dir, cache_dir_bytes) if cache_dir else None
    return ObjectCache(store, cache_bytes, disk, l2=metric == "l2", slab_bytes=slab_bytes)


def open_collection(
    url: str,
    version: int | None = None,
    *,
    tag: str | None = None,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
    cache_dir: str | None = None,
    cache_dir_bytes: int = 4 << 30,
    cache_slab_bytes: int | None = None,
    storage_options: dict[str, Any] | None = None,
) -> Collection:
    """Open the collection at ``url``: the newest version, or ``version`` (read-only) for an older one,
    or the version tag ``tag`` names (see :meth:`Collection.tag`).

    ``cache_bytes``, ``cache_dir``, ``cache_dir_bytes`` and ``storage_options`` as in
    :func:`create_collection`; ``cache_slab_bytes`` sizes the slabs the read cache keeps decoded
    buckets in (default: 1/16 of ``cache_bytes``, at most 32 MiB, none under 1 MiB; see
    :mod:`vectree.collection.arena`).

    What a reader sees: the version current when it opened, whole, until :meth:`Collection.refresh`
    or its own next write; commits by other writers never change it underneath.

    Round trips: the newest version opens with one round trip (two GETs sent together: the ``_latest``
    pointer, which carries its manifest, and ``_latest.index``, its index at any size:
    :mod:`vectree.format.pointer`), so a first search costs two sequential round trips: the pointer,
    then the probed buckets in parallel. That the pointer named the newest version,
    whole, is checked by two requests sent with the bucket reads (the manifest it copies is still stored
    as it says; no later manifest exists); if not, the collection moves to the newest readable version
    before answering anything.
    """
    if version is not None:
        version = check_version(version)
    store = open_store(url, **(storage_options or {}))
    if version is None and tag is None:
        fast = _from_pointer(store, cache_bytes, cache_dir, cache_dir_bytes, cache_slab_bytes)
        if fast is not None:
            return fast
    latest = latest_version(store)
    if latest is None:
        raise NotFoundError(f"no collection at {url}: create one with create_collection")
    if tag is not None:
        if version is not None:
            raise InvalidInputError(f"pass version= or tag=, not both (got version={version!r}, tag={tag!r})")
        version = read_tag(store, tag)
    skipped: list[str] = []
    if version is None:
        manifest, skipped = _newest_readable(store, latest)
    else:
        manifest = read_manifest(store, version)
    cache = _object_cache(store, cache_bytes, cache_dir, cache_dir_bytes, manifest.settings["metric"], cache_slab_bytes)
    col = Collection(store, manifest, cache, pinned=version is not None and version != latest)
    col.skipped_versions = tuple(skipped)
    return col


def _from_pointer(
    store: ObjectStore, cache_bytes: int, cache_dir: str | None, cache_dir_bytes: int, cache_slab_bytes: int | None
) -> Collection | None:
    """The collection at the version ``_latest`` carries, its index in the cache; None without a usable pointer."""
    found = read_pointer(store, with_index=True)
    if found is None:
        return None
    manifest, manifest_data, index_data = found
    cache = _object_cache(store, cache_bytes, cache_dir, cache_dir_bytes, manifest.settings["metric"], cache_slab_bytes)
    index = None
    if index_data is not None and manifest.index is not None:
        try:
            index = Index.from_bytes(index_data)  # (read_pointer checked its fingerprint)
        except CorruptionError as exc:  # read it from its own object instead
            log.warning(
                "%s: the index read with _latest is damaged (%s); reading index/%s", store.url, exc, manifest.index
            )
        else:
            cache.register_spans(index)
            cache.lru.put(index_key(manifest.index), index, len(index_data) + 256)
    # the first snapshot holds the index itself: an index larger than the read cache was dropped by the put
    # above and read again by the first query (one more round trip, and its bytes again)
    col = Collection(store, manifest, cache, index=index)
    v = manifest.version

    def stored_as_copied() -> bool:
        try:
            return store.get(manifest_key(v)) == manifest_data
        except NotFoundError:
            return False

    same = store.submit(stored_as_copied)
    newer = store.submit(lambda: store.exists(manifest_key(v + 1)))

    def checks() -> tuple[Manifest, tuple[str, ...]] | None:
        if same.result() and not newer.result():
            return None
        latest = latest_version(store)
        if latest is None:
            raise NotFoundError(f"no collection at {store.url} any more: its manifests are gone")
        newest, skipped = _newest_readable(store, latest)
        log.info("%s: _latest named version %d; the newest readable one is %d", store.url, v, newest.version)
        return newest, tuple(skipped)

    col._pending = checks
    return col


def _newest_readable(store: ObjectStore, latest: int) -> tuple[Manifest, list[str]]:
    """The newest manifest that reads and checks; the newer ones skipped, each with its reason (logged).

    A damaged newest manifest leaves the collection readable at the version before it; writes still
    refuse to build on the damaged one (they read the newest), until it is repaired or removed.
    """
    try:
        return read_manifest(store, latest), []
    except (CorruptionError, NotFoundError) as exc:
        skipped = [f"version {latest}: {exc}"]
    for v in sorted((v for v in list_versions(store) if v < latest), reverse=True):
        try:
            manifest = read_manifest(store, v)
        except (CorruptionError, NotFoundError) as exc:
            skipped.append(f"version {v}: {exc}")
            continue
        log.warning("%s: opened version %d, the newest readable one; skipped %s", store.url, v, "; ".join(skipped))
        return manifest, skipped
    raise CorruptionError(f"no version of the collection at {store.url} can be read: {'; '.join(skipped)}")
