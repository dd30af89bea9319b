"""The index object: projection, tree, bucket references and settings, in one small file.

Readers fetch it first; it holds no vectors, only the fingerprint and row count of each
bucket, so its size grows with the number of buckets, not of vectors.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from vectree.errors import CorruptionError
from vectree.format.codespans import CodeSpan, StoredSpans, pack_code_spans
from vectree.format.fingerprint import check_fingerprint, fingerprint, pack_fingerprints, unpack_fingerprints
from vectree.format.spans import ColumnSpan, pack_spans
from vectree.index.bucketstats import StoredStats, stats_text
from vectree.index.centers import CenterRanker, center_norms, nearest_center
from vectree.index.grouped import GROUPED_MIN_CENTERS, GroupedCenters
from vectree.index.probe import probe, probe_centers
from vectree.index.projection import Projection
from vectree.index.tree import Tree

# 2: fingerprints as 32-byte digests, settings and statistics as UTF-8 bytes (format 1 held them as numpy
# unicode, 4 bytes a character: 8x and 4x the bytes a cold reader fetches first); format 1 still reads
INDEX_FORMAT = 2
_READ_FORMATS = (1, 2)
_SPAN_ARRAYS = ("bucket_spans", "bucket_span_digests")
_CODE_SPAN_ARRAYS = ("bucket_code_spans", "bucket_code_span_digests")
_SHORTLIST_MAX_QUERIES = 16
# from this many centers a batch too is ranked one query at a time by the compiled ranking, whose
# projected bounds read few centers in full: the product with every center (and the argpartition of
# its queries x centers matrix) cost 1.3-1.7 ms a query at 43,759 centers (11M rows, 96-d), the
# compiled ranking 0.4-0.6 ms (benchmarks/README.md)
_RANKED_ONE_BY_ONE_CENTERS = GROUPED_MIN_CENTERS
_GROUPED_MIN_ROWS = 2_048  # grouping the centers costs ~0.3 s at 41k of them: worth it for many rows only


@dataclass
class Index:
    """The routing structure of a built collection (the seed's ``NormalIndex``)."""

    projection: Projection
    tree: Tree
    bucket_fingerprints: list[str]  # per bucket; "" for a bucket with no rows
    bucket_rows: np.ndarray  # int64 per bucket
    settings: dict[str, Any] = field(default_factory=dict)  # tree_rule, bucket_size, metric, private...
    # (n_buckets, dim) full-width center of each bucket (l2, cosine): with settings["routing"] == "centers"
    # the refined centers rows are stored by, else the mean of each bucket's rows (older builds)
    centers: np.ndarray | None = None
    # per bucket: what its rows' id, label and metadata fields hold (:mod:`vectree.index.bucketstats`), None
    # for a bucket without them; the whole list None in indexes built before statistics were stored
    bucket_stats: Sequence[dict | None] | None = None
    # per bucket: the byte span of its id and vector columns (:mod:`vectree.format.spans`), or of a bucket
    # with codes its code span (:mod:`vectree.format.codespans`), None for a bucket read whole; the whole
    # list None in indexes written before spans were recorded
    bucket_spans: Sequence[ColumnSpan | CodeSpan | None] | None = None
    raw: bytes | None = field(default=None, repr=False, compare=False)  # the bytes it was read from or written as

    @property
    def n_buckets(self) -> int:
        return len(self.bucket_fingerprints)

    @cached_property
    def bucket_of(self) -> dict[str, int]:
        """Bucket fingerprint -> a bucket number holding it (buckets with the same rows share a file)."""
        out = dict(zip(reversed(self.bucket_fingerprints), range(self.n_buckets - 1, -1, -1)))
        out.pop("", None)
        return out

    @cached_property
    def boxes(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-bucket box bounds in projected space, derived once per loaded index."""
        return self.tree.bucket_boxes(self.projection.n_components)

    @cached_property
    def projected_centers(self) -> np.ndarray:
        """Per bucket, the tree's center of it in projected space (what plane-free trees route by)."""
        return self.tree.bucket_centers(self.projection.n_components)

    @cached_property
    def _center_norms(self) -> np.ndarray:
        return center_norms(self.centers)

    @cached_property
    def _center_ranker(self) -> CenterRanker:
        return CenterRanker(self.centers, self._center_norms, self.projection.mean, self.projection.components)

    @cached_property
    def _empty_buckets(self) -> np.ndarray:
        return np.asarray(self.bucket_rows) == 0

    @property
    def routes_by_centers(self) -> bool:
        """True when every row is stored in the bucket whose full-width center is nearest it."""
        return self.settings.get("routing") == "centers" and self.centers is not None

    @cached_property
    def _grouped_centers(self) -> GroupedCenters:
        return GroupedCenters(self.centers)

    def assign(self, vectors: np.ndarray) -> np.ndarray:
        """The bucket each stored row (n, dim) belongs in: (n,) int64 bucket numbers."""
        if self.routes_by_centers:
            # many rows against many centers: pruned groups of centers, as the build routes them
            if len(self.centers) >= GROUPED_MIN_CENTERS and len(vectors) >= _GROUPED_MIN_ROWS:
                return self._grouped_centers.nearest(vectors)
            return nearest_center(vectors, self.centers, self._center_norms)
        return self.tree.route(self.projection.project(vectors))

    def probe(self, queries: np.ndarray, probes: int) -> np.ndarray:
        """The ``probes`` buckets each query visits, nearest first: (n, min(probes, n_buckets)).

        Plane-only trees rank buckets by the distance to their boxes (a lower bound on the true distance);
        trees with Voronoi nodes rank buckets by the distance to their centers, at full width where
        the index has them.
        """
        if self.routes_by_centers:
            # the ranking nearest_center makes, so a stored row's own bucket comes first
            few = len(queries) <= _SHORTLIST_MAX_QUERIES or self.n_buckets >= _RANKED_ONE_BY_ONE_CENTERS
            if few and probes * 4 < self.n_buckets:
                return self._center_ranker.rank(queries, probes, self._empty_buckets)
            return probe_centers(queries, self.centers, probes, empty=self._empty_buckets, center_sq=self._center_norms)
        points = self.projection.project_queries(queries)
        if self.tree.has_planes_only:
            lo, hi = self.boxes
            return probe(points, lo, hi, probes)
        # the bucket a query routes to comes first, so a stored vector always finds its own bucket
        first = self.tree.route(points)
        if self.centers is None or len(self.centers) != self.n_buckets:
            return probe_centers(points, self.projected_centers, probes, first=first)
        # ranked at full width, as an inverted file does: the tree's centers live in the projected
        # space, which on high-dimensional text embeddings keeps too little of the distance
        if len(queries) > _SHORTLIST_MAX_QUERIES or probes * 4 >= self.n_buckets:
            return probe_centers(
                queries, self.centers, probes, first=first, empty=self._empty_buckets, center_sq=self._center_norms
            )
        # a few queries: shortlist in the projected space, then rank the shortlist at full width (one
        # matrix-vector product over every center would read them all for each query)
        short = probe_centers(points, self.projected_centers, 2 * probes + 8, first=first)
        near = self.centers[short]  # (n, s, dim)
        d = self._center_norms[short] - 2.0 * np.einsum("nsd,nd->ns", near, queries)
        d[self._empty_buckets[short]] = np.inf
        d[:, 0] = -np.inf  # the query's own bucket stays first
        pick = np.argsort(d, axis=1, kind="stable")[:, :probes]
        return short[np.arange(len(short))[:, None], pick]

    def to_bytes(self) -> tuple[bytes, str]:
        """Serialize (npz, no pickle) and return ``(data, fingerprint)``."""
        buf = io.BytesIO()
        np.savez(
            buf,
            format=np.array(INDEX_FORMAT),
            settings=_utf8(json.dumps(self.settings, sort_keys=True).encode()),
            mean=self.projection.mean,
            components=self.projection.components,
            augment_norm=np.array(self.projection.augment_norm),
            axis=self.tree.axis,
            threshold=self.tree.threshold,
            left=self.tree.left,
            right=self.tree.right,
            node_centers=self.tree.node_centers if self.tree.node_centers is not None else np.zeros((0, 0), np.float32),
            bucket_fingerprints=pack_fingerprints(self.bucket_fingerprints),
            bucket_rows=np.asarray(self.bucket_rows, dtype=np.int64),
            centers=(self.centers if self.centers is not None else np.zeros((0, 0))).astype(np.float16),
            **({} if self.bucket_stats is None else {"bucket_stats": _utf8(stats_text(self.bucket_stats))}),
            **({} if self.bucket_spans is None else dict(zip(_SPAN_ARRAYS, pack_spans(self.bucket_spans)))),
            **(
                dict(zip(_CODE_SPAN_ARRAYS, pack_code_spans(self.bucket_spans)))
                if self.bucket_spans is not None and any(isinstance(s, CodeSpan) for s in self.bucket_spans)
                else {}
            ),
        )
        data = buf.getvalue()
        self.raw = data
        return data, fingerprint(data)

    @classmethod
    def from_bytes(cls, data: bytes, expected_fingerprint: str | None = None) -> Index:
        """Decode an index file, checking its fingerprint first."""
        if expected_fingerprint is not None:
            check_fingerprint(data, expected_fingerprint, f"index {expected_fingerprint}")
        try:
            z = np.load(io.BytesIO(data), allow_pickle=False)
            empty = np.zeros((0, 0), np.float32)

            def opt(name: str, default: np.ndarray) -> np.ndarray:  # fields added after format 1 shipped
                return z[name] if name in z.files else default

            # files written before the vocabulary was settled name these "leaf_means" and "centroid"
            centers = opt("centers", opt("leaf_means", empty))
            node_centers = opt("node_centers", opt("centroid", empty))
            if int(z["format"]) not in _READ_FORMATS:
                raise CorruptionError(
                    f"index format {int(z['format'])} is not supported (this version reads {_READ_FORMATS})"
                )
            fps = z["bucket_fingerprints"]
            fps = [str(s) for s in fps] if fps.dtype.kind == "U" else unpack_fingerprints(fps)
            return cls(
                projection=Projection(
                    mean=z["mean"], components=z["components"], augment_norm=float(opt("augment_norm", np.array(0.0)))
                ),
                tree=Tree(
                    axis=z["axis"],
                    threshold=z["threshold"],
                    left=z["left"],
                    right=z["right"],
                    node_centers=node_centers if node_centers.size else None,
                ),
                bucket_fingerprints=fps,
                bucket_rows=z["bucket_rows"].astype(np.int64),
                settings=json.loads(_raw(z["settings"])),
                centers=centers.astype(np.float32) if centers.size else None,
                bucket_stats=StoredStats(_raw(z["bucket_stats"]), len(fps)) if "bucket_stats" in z.files else None,
                bucket_spans=_spans(z),
                raw=bytes(data),
            )
        except (ValueError, KeyError, OSError) as exc:
            raise CorruptionError(f"index {expected_fingerprint or ''} cannot be decoded: {exc}") from exc


def _utf8(text: bytes) -> np.ndarray:
    return np.frombuffer(text, dtype=np.uint8)


def _raw(arr: np.ndarray) -> bytes:
    """A stored text's UTF-8 bytes: stored as such (format 2) or as a numpy unicode scalar (format 1)."""
    return arr.tobytes() if arr.dtype == np.uint8 else str(arr).encode("utf-8")


def _spans(z: np.lib.npyio.NpzFile) -> StoredSpans | None:
    if _SPAN_ARRAYS[0] not in z.files:
        return None
    coded = _CODE_SPAN_ARRAYS[0] in z.files  # buckets with codes (indexes written before them have none)
    spans = StoredSpans(
        z[_SPAN_ARRAYS[0]],
        z[_SPAN_ARRAYS[1]],
        z[_CODE_SPAN_ARRAYS[0]] if coded else None,
        z[_CODE_SPAN_ARRAYS[1]] if coded else None,
    )
    if len(spans) != len(z["bucket_fingerprints"]):
        raise CorruptionError(
            f"the index records {len(spans)} bucket spans for {len(z['bucket_fingerprints'])} buckets"
        )
    return spans
