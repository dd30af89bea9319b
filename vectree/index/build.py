"""The streaming, memory-bounded build: sample, fit, route, spill, write buckets.

Peak memory is set by ``sample_bytes`` (the sample the projection and tree are fitted on),
``partition_bytes`` (the rows sorted into buckets at one time) and the input chunk size, not by the
number of rows: rows are routed chunk by chunk into partition files on local disk (each holding a
contiguous range of buckets), then each partition is read back alone (explicit reads, no mapping) and
cut into buckets one group of about 8 MB at a time. The memory model, beyond the interpreter and the
libraries: the sample (at most ``sample_bytes``) while fitting; then one input chunk while routing; then
one partition (about ``partition_bytes``, plus the estimate's error) and one group (gathered rows and
their encoded files) while writing; plus what grows with the bucket count: the index itself (its
centers, ``n_buckets x dim`` float32) and a fingerprint and statistics per bucket. Each phase logs the
process's peak and current RSS.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa

from vectree.errors import CorruptionError, InvalidInputError
from vectree.format.arrays import int_values, numeric_array
from vectree.format.bucket import Rows, encode_rows, rows_to_table, table_to_rows
from vectree.format.codes import CODES
from vectree.format.codespans import bucket_span
from vectree.format.id_keys import id_keys
from vectree.format.object_keys import bucket_key, idmap_key, index_key
from vectree.format.spans import ColumnSpan
from vectree.index.bucketstats import bucket_stats
from vectree.index.centers import center_norms, nearest_center, refine_centers
from vectree.index.grouped import GROUPED_MIN_CENTERS, GroupedCenters
from vectree.index.idmap import KeySpill, shard_bits_for
from vectree.index.index import Index
from vectree.index.projection import fit_pca
from vectree.index.tree import TREE_RULES, fit_tree
from vectree.memory import memory_report, release_freed_memory
from vectree.storage.base import ObjectStore

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
_GROUP_BYTES = 8 << 20  # rows gathered into bucket order (and encoded) at a time when writing a partition


def default_bucket_size(dim: int) -> int:
    """Rows per bucket: about 160 KiB of float32 vectors, and at least 80 rows (at most 4096).

    Measured in ``benchmarks/README.md``: smaller buckets scan fewer rows for the same recall (finer
    buckets) but cost more per probe and more to build; 160 KiB gained 10-13% in batch over 256 KiB on
    arXiv (384-d) and GloVe (50-d). Below about 80 rows the per-bucket costs dominate (784-d).

    >>> default_bucket_size(784), default_bucket_size(384), default_bucket_size(50)
    (80, 106, 819)
    """
    return int(max(80, min(4096, (160 << 10) // (4 * max(1, dim)))))


def default_n_components(dim: int) -> int:
    """Projected dimensions the tree splits: all of them up to 64, else 32.

    Measured in ``benchmarks/README.md``: GloVe (50-d) gained recall from splitting all 50, while 96 of
    arXiv's 384 doubled its build time for no gain at recall 0.95.

    >>> default_n_components(50), default_n_components(384)
    (50, 32)
    """
    return int(dim) if dim <= 64 else 32


@dataclass
class IndexConfig:
    """How the index is fitted. Stored with the collection; defaults work for most data.

    bucket_size: the most rows a bucket holds when fitted (the seed's minBucketSize); the
        refinement step may move a few more rows into a bucket. Smaller buckets mean less scanned
        per probe but more probes for the same recall. None (the default): :func:`default_bucket_size`
        of the dimension, resolved by :meth:`for_dim` when the collection is created or built.
    tree_rule: "kmeans" (default: Voronoi nodes from k-means), "variance" (highest-variance axis,
        median split) or "seed" (random axis, mean split, as in the seed).
    n_components: dimensions of the fitted projection the tree splits on; None (the default):
        :func:`default_n_components` of the dimension, resolved by :meth:`for_dim`.
    max_depth: the deepest the tree may go (the seed's maxDepth).
    refine_iterations: Lloyd iterations at full width after the kmeans tree is fitted (l2 and
        cosine); rows are then stored in the bucket whose center is nearest. 0 keeps the tree's buckets.
    sample_size / sample_bytes: the projection and tree are fitted on at most this many rows.
    partition_bytes: rows sorted into buckets at a time during the build.
    vector_dtype: "float32", or "float16" to halve bucket bytes at a small precision cost.
    codes: None, or "int8" to store each row's int8 code next to its vector
        (:mod:`vectree.format.codes`): searches then scan the codes and read in full only the rows
        the codes cannot rule out (the ``quantized`` method; answers stay exact over the probed buckets);
        or "rabitq" for 1-bit RaBitQ codes, re-ranked from a short list (``Collection.search``'s ``rerank``).
    """

    bucket_size: int | None = None
    tree_rule: str = "kmeans"
    n_components: int | None = None
    max_depth: int = 32
    refine_iterations: int = 1
    sample_size: int = 100_000
    sample_bytes: int = 256 << 20
    partition_bytes: int = 32 << 20
    vector_dtype: str = "float32"
    seed: int = 0
    codes: str | None = None

    def for_dim(self, dim: int) -> IndexConfig:
        """This config with the defaults that depend on the dimension filled in (the one place they are).

        >>> c = IndexConfig().for_dim(384)
        >>> c.bucket_size == default_bucket_size(384), c.n_components == default_n_components(384)
        (True, True)
        >>> IndexConfig(bucket_size=50).for_dim(384).bucket_size
        50
        """
        return replace(
            self,
            bucket_size=default_bucket_size(int(dim)) if self.bucket_size is None else self.bucket_size,
            n_components=default_n_components(int(dim)) if self.n_components is None else self.n_components,
        )

    def validate(self) -> None:
        if self.bucket_size is not None and self.bucket_size < 1:
            raise InvalidInputError(f"bucket_size must be >= 1, got {self.bucket_size}")
        if self.tree_rule not in TREE_RULES:
            raise InvalidInputError(f"unknown tree_rule {self.tree_rule!r}: choose one of {', '.join(TREE_RULES)}")
        if self.n_components is not None and self.n_components < 1:
            raise InvalidInputError(f"n_components must be >= 1, got {self.n_components}")
        if not 1 <= self.max_depth <= 60:
            raise InvalidInputError(f"max_depth must be in 1..60, got {self.max_depth}")
        if not 0 <= self.refine_iterations <= 100:
            raise InvalidInputError(f"refine_iterations must be in 0..100, got {self.refine_iterations}")
        if self.vector_dtype not in ("float32", "float16"):
            raise InvalidInputError(f"vector_dtype must be 'float32' or 'float16', got {self.vector_dtype!r}")
        if self.codes not in CODES:
            raise InvalidInputError(f"codes must be one of {CODES}, got {self.codes!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def uses_centers(config: IndexConfig, settings: dict) -> bool:
    """Whether rows are stored by nearest full-width center (kmeans rule, l2 or cosine, refinement on)."""
    return config.tree_rule == "kmeans" and config.refine_iterations > 0 and settings.get("metric") in ("l2", "cosine")


@dataclass
class BuildResult:
    index: Index
    index_fingerprint: str
    idmap_bits: int
    idmap_shards: list[str]
    rows: int


def sample_positions(total: int, size: int, seed: int) -> np.ndarray:
    """The sorted row positions (in input order) the projection and tree are fitted on.

    >>> sample_positions(5, 10, 0).tolist()
    [0, 1, 2, 3, 4]
    """
    rng = np.random.default_rng(seed)
    size = min(size, total)
    return np.sort(rng.choice(total, size=size, replace=False)) if size < total else np.arange(total)


def sample_rows_for(total_rows: int, dim: int, config: IndexConfig) -> int:
    """How many rows the fit uses: ``sample_size``, capped by ``sample_bytes``.

    >>> sample_rows_for(10**6, 96, IndexConfig())
    100000
    """
    return max(1, min(config.sample_size, config.sample_bytes // (dim * 4)))


@dataclass
class Routing:
    """What the build fits on the sample: projection, tree, and (when rows go by center) refined centers."""

    projection: Any
    tree: Any
    centers: np.ndarray | None
    estimate: np.ndarray  # expected rows per bucket over the whole input

    @property
    def n_buckets(self) -> int:
        return self.tree.n_buckets

    def route(self, vectors: np.ndarray) -> np.ndarray:
        """The bucket each row goes to."""
        if self.grouped is not None:
            return self.grouped.nearest(vectors)
        if self.centers is not None:
            return nearest_center(vectors, self.centers, self._norms)
        return self.tree.route(self.projection.project(vectors))

    def __post_init__(self) -> None:
        self._norms = center_norms(self.centers) if self.centers is not None else None
        many = self.centers is not None and len(self.centers) >= GROUPED_MIN_CENTERS
        self.grouped = GroupedCenters(self.centers) if many else None


def fit_routing(
    sample: np.ndarray, total_rows: int, config: IndexConfig, settings: dict, progress: Progress | None = None
) -> Routing:
    """Fit projection, tree and centers on ``sample`` (rows drawn by :func:`sample_positions`)."""
    report = progress or (lambda stage, done, total: None)
    projection = fit_pca(sample, config.n_components, augment_for_dot=settings.get("metric") == "dot")
    projected = projection.project(sample)
    sample_bucket_size = config.bucket_size * len(sample) / total_rows
    tree = fit_tree(projected, sample_bucket_size, rule=config.tree_rule, max_depth=config.max_depth, seed=config.seed)
    sample_buckets = tree.route(projected)
    centers = None
    if uses_centers(config, settings):
        report("refine", 0, config.refine_iterations)
        centers, sample_buckets = refine_centers(sample, sample_buckets, tree.n_buckets, config.refine_iterations)
    estimate = np.bincount(sample_buckets, minlength=tree.n_buckets) * (total_rows / len(sample))
    return Routing(projection, tree, centers, estimate)


def finish_index(
    store: ObjectStore,
    routing: Routing,
    fingerprints: list[str],
    counts: np.ndarray,
    bucket_centers: np.ndarray | None,
    settings: dict,
    config: IndexConfig,
    stats: list[dict | None] | None = None,
    spans: list[ColumnSpan | None] | None = None,
) -> tuple[Index, str]:
    """The index over written buckets (``stats``: each one's filter statistics; ``spans``: where each one's
    id and vector columns sit, :mod:`vectree.format.spans`), stored under ``index/``; returns it and its
    fingerprint."""
    index = Index(
        projection=routing.projection,
        tree=routing.tree,
        bucket_fingerprints=fingerprints,
        bucket_rows=counts,
        settings={**settings, **config.to_dict(), **({"routing": "centers"} if routing.centers is not None else {})},
        centers=routing.centers if routing.centers is not None else bucket_centers,
        bucket_stats=stats,
        bucket_spans=spans,
    )
    data, index_fp = index.to_bytes()
    store.put(index_key(index_fp), data)
    return index, index_fp


def wants_bucket_centers(routing: Routing, settings: dict) -> bool:
    """Without refined centers, each bucket's center is the mean of its rows: it ranks the bucket for queries
    (the tree's own centers are projected)."""
    return routing.centers is None and settings.get("metric") in ("l2", "cosine")


def _partition_buckets(path: str, group_rows: int, n_rows: int) -> Iterator[tuple[int, Rows | None]]:
    """The buckets of one partition file (``n_rows`` rows), as ``(bucket, rows)`` in bucket order, and
    ``(-1, None)`` after each group of about ``group_rows`` rows (the caller writes what it has encoded).

    The file is read with explicit reads, not mapped (file-backed pages of a mapping count in the
    resident set), one record batch at a time into arrays of the partition's size, and rows are gathered
    into bucket order one group at a time: the partition is held once, plus one batch while it is read
    and one group, never a sorted copy of it whole. (Reading it as one Arrow table held it twice: a take
    from the chunked table joins every chunk again for each group, +45 MB a group on a 38 MB GloVe
    partition, and joining them once first is a second copy.)
    """
    buckets = np.empty(n_rows, np.int32)
    vectors: np.ndarray | None = None
    small: list[Rows] = []  # each batch's ids, labels and metadata (vectors go straight to ``vectors``)
    done = 0
    with pa.OSFile(path) as source:
        for batch in pa.ipc.open_stream(source):
            n = batch.num_rows
            if done + n > n_rows:
                raise CorruptionError(f"partition file {path} holds more than the {n_rows} rows routed to it")
            buckets[done : done + n] = int_values(batch.column(batch.schema.get_field_index("bucket")))
            rows = table_to_rows(batch.drop_columns(["bucket"]))
            if vectors is None:
                vectors = np.empty((n_rows, rows.vectors.shape[1]), np.float32)
            vectors[done : done + n] = rows.vectors
            # copies: a numeric column read from the stream is a view of the batch's one body buffer, and
            # a view kept would keep the batch's vectors alive with it (the partition held twice)
            labels = rows.labels.copy() if rows.labels is not None and rows.labels.dtype != object else rows.labels
            small.append(
                Rows(ids=rows.ids.copy(), vectors=np.empty((n, 0), np.float32), labels=labels, metadata=rows.metadata)
            )
            done += n
            del batch, rows
    if done != n_rows or vectors is None:
        raise CorruptionError(f"partition file {path} holds {done} rows, {n_rows} were routed to it")
    joined = Rows.concat(small, 0)
    del small
    part = Rows(ids=joined.ids, vectors=vectors, labels=joined.labels, metadata=joined.metadata)
    del joined, vectors
    order = np.argsort(buckets, kind="stable")
    sorted_buckets = buckets[order]
    del buckets
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(sorted_buckets)) + 1, [len(order)]])
    first = 0
    while first < len(bounds) - 1:
        last = int(np.searchsorted(bounds, bounds[first] + group_rows, side="right")) - 1
        last = min(max(last, first + 1), len(bounds) - 1)  # at least one bucket per group
        lo = int(bounds[first])
        group = part.take(order[lo : bounds[last]])
        for start, end in zip(bounds[first:last], bounds[first + 1 : last + 1]):
            yield int(sorted_buckets[start]), _slice(group, int(start) - lo, int(end) - lo)
        del group
        yield -1, None
        first = last


def _slice(rows: Rows, a: int, b: int) -> Rows:
    """Rows ``a:b`` of ``rows``, as views."""
    return Rows(
        ids=rows.ids[a:b],
        vectors=rows.vectors[a:b],
        labels=None if rows.labels is None else rows.labels[a:b],
        metadata=None if rows.metadata is None else rows.metadata[a:b],
    )


def _sample(chunks: Iterator[Rows], total: int, size: int, seed: int, dim: int, dtype: str = "float32") -> np.ndarray:
    """The sampled rows, gathered in place (no list of parts joined at the end: that held the sample
    twice, the fit's peak), at the precision the buckets store (``dtype``): a float16 collection's
    sample takes half the memory, and the fit converts it to float32 a block at a time."""
    wanted = sample_positions(total, size, seed)
    out = np.empty((len(wanted), dim), np.float16 if dtype == "float16" else np.float32)
    offset = 0
    for rows in chunks:
        lo, hi = np.searchsorted(wanted, [offset, offset + len(rows)])
        if hi > lo:
            pos = wanted[lo:hi] - offset
            if hi - lo == len(rows):  # every row of this file: a slice, not a gathered copy
                out[lo:hi] = rows.vectors
            else:
                out[lo:hi] = rows.vectors[pos]
        offset += len(rows)
    if offset != total:
        raise CorruptionError(f"the collection promised {total} rows but its files hold {offset}")
    return out


def build_index(
    store: ObjectStore,
    read_chunks: Callable[[], Iterator[Rows]],
    total_rows: int,
    dim: int,
    config: IndexConfig,
    *,
    settings: dict,
    label_type: str | None,
    with_metadata: bool,
    progress: Progress | None = None,
    workdir: str | None = None,
) -> BuildResult:
    """Build the index over every row ``read_chunks()`` yields (called twice) and write its buckets.

    Nothing is committed here: the caller records the result in a new manifest.
    """
    config = config.for_dim(dim)
    config.validate()
    if total_rows == 0:
        raise InvalidInputError("cannot build an empty collection: add vectors first")
    report = progress or (lambda stage, done, total: None)
    row_bytes = dim * 4 + 64
    sample_rows = sample_rows_for(total_rows, dim, config)

    report("sample", 0, total_rows)
    sample = _sample(read_chunks(), total_rows, sample_rows, config.seed, dim, config.vector_dtype)
    routing = fit_routing(sample, total_rows, config, settings, progress)
    del sample
    release_freed_memory()
    log.info("build: fitted on %d sampled rows; %s", sample_rows, memory_report())
    n_buckets, route, estimate = routing.n_buckets, routing.route, routing.estimate
    rows_per_partition = max(config.bucket_size, config.partition_bytes // row_bytes)
    partition_of_bucket = np.floor(np.cumsum(estimate) - estimate) // rows_per_partition
    partition_of_bucket = partition_of_bucket.astype(np.int64)
    n_partitions = int(partition_of_bucket.max()) + 1
    log.info("tree: %d buckets, %d partitions, fitted on a sample of %d rows", n_buckets, n_partitions, sample_rows)

    tmp = tempfile.mkdtemp(prefix="vectree-build-", dir=workdir)
    try:
        spill = KeySpill(shard_bits_for(total_rows), tmp)
        writers: dict[int, pa.ipc.RecordBatchStreamWriter] = {}
        partition_rows: dict[int, int] = {}
        pending: list[tuple[str, bytes]] = []
        done = 0
        for rows in read_chunks():
            buckets = route(rows.vectors)
            spill.add(id_keys(rows.ids), buckets)
            parts = partition_of_bucket[buckets]
            for p in np.unique(parts):
                sel = np.flatnonzero(parts == p)
                partition_rows[p] = partition_rows.get(p, 0) + len(sel)
                table = rows_to_table(
                    rows.take(sel),
                    label_type=label_type,
                    with_metadata=with_metadata,
                    extra={"bucket": numeric_array(buckets[sel], pa.int32())},
                )
                if p not in writers:
                    writers[p] = pa.ipc.new_stream(os.path.join(tmp, f"part-{p}.arrows"), table.schema)
                writers[p].write_table(table)
            done += len(rows)
            report("route", done, total_rows)
        for w in writers.values():
            w.close()
        written_parts = sorted(writers)
        del writers, table, rows, buckets, parts  # the last routed chunk and the closed writers' buffers
        release_freed_memory()  # what routing freed: the partitions are read next

        log.info("build: routed %d rows into %d partitions; %s", done, len(written_parts), memory_report())
        fingerprints = [""] * n_buckets
        counts = np.zeros(n_buckets, dtype=np.int64)
        stats: list[dict | None] = [None] * n_buckets
        spans: list = [None] * n_buckets  # ColumnSpan, CodeSpan (buckets with codes) or None
        bucket_centers = np.zeros((n_buckets, dim), np.float32) if wants_bucket_centers(routing, settings) else None
        written = 0
        group_rows = max(1, _GROUP_BYTES // row_bytes)
        for p in written_parts:
            for bucket, rows in _partition_buckets(
                os.path.join(tmp, f"part-{p}.arrows"), group_rows, partition_rows[p]
            ):
                if rows is None:  # a group of buckets is done: write it
                    store.put_many(pending)
                    pending = []
                    report("write", written, total_rows)
                    continue
                data, fp = encode_rows(rows, dtype=config.vector_dtype, label_type=label_type, codes=config.codes)
                pending.append((bucket_key(fp), data))
                fingerprints[bucket], counts[bucket] = fp, len(rows)
                stats[bucket], spans[bucket] = bucket_stats(rows), bucket_span(data)
                if bucket_centers is not None:
                    bucket_centers[bucket] = rows.vectors.mean(0)
                written += len(rows)
            release_freed_memory()  # one partition's arrays, before the next is read
        log.info("build: wrote %d buckets; %s", int((counts > 0).sum()), memory_report())

        shard_fps = []
        for shard in spill.shards():
            if len(shard.keys) > 1 and (np.diff(shard.keys) == 0).any():
                dup = shard.keys[np.flatnonzero(np.diff(shard.keys) == 0)[0]]
                raise CorruptionError(f"id key {dup} is stored twice; the collection's id map is inconsistent")
            data, fp = shard.to_bytes()
            store.put(idmap_key(fp), data)
            shard_fps.append(fp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    index, index_fp = finish_index(store, routing, fingerprints, counts, bucket_centers, settings, config, stats, spans)
    release_freed_memory()
    return BuildResult(
        index=index, index_fingerprint=index_fp, idmap_bits=spill.bits, idmap_shards=shard_fps, rows=written
    )
