"""Verify: re-read every object a version names, check its fingerprint, and cross-check the manifest
against the files (row counts, keys, tombstones, metric), and the chain of versions."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vectree.collection.manifest import Manifest, list_versions, read_manifest
from vectree.errors import CorruptionError, VectreeError
from vectree.format.bucket import decode_rows
from vectree.format.codespans import CodeSpan, code_file_problem
from vectree.format.fingerprint import check_fingerprint
from vectree.format.id_keys import decode_key_list, id_keys
from vectree.format.object_keys import (
    BUCKETS,
    SEGMENTS,
    attachment_key,
    bucket_key,
    idmap_key,
    index_key,
    rows_key,
    segment_key,
    tombstones_key,
)
from vectree.format.tombstones import decode_tombstones
from vectree.index.idmap import KeyShard
from vectree.index.index import Index
from vectree.storage.base import ObjectStore

Progress = Callable[[str, int, int], None]


@dataclass
class VerifyReport:
    checked: int = 0
    versions: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class _Checker:
    """Reads each object once across the versions checked; remembers what the cross-checks need."""

    def __init__(self, store: ObjectStore, report: VerifyReport, progress: Progress | None) -> None:
        self.store, self.report, self.progress = store, report, progress
        self.results: dict[str, Any] = {}  # key -> decoded value (small objects) or (rows, keys) of a file
        self.failed: set[str] = set()

    def get(self, v: int, key: str, decode: Callable[[bytes], Any]) -> Any:
        """The decoded object (None if missing or damaged, which is reported once)."""
        if key in self.results:
            return self.results[key]
        if key in self.failed:
            return None
        try:
            value = decode(self.store.get(key))
        except (VectreeError, ValueError) as exc:
            self.report.problems.append(f"version {v}: {key}: {exc}")
            self.failed.add(key)
            return None
        finally:
            self.report.checked += 1
        self.results[key] = value
        return value

    def rows_file(self, v: int, folder: str, fp: str, dim: int) -> np.ndarray | None:
        """The sorted id keys of a bucket or segment (checked against its fingerprint and dim)."""

        def decode(data: bytes) -> np.ndarray:
            rows = decode_rows(data, fp, folder[:-1])
            if rows.vectors.shape[1] != dim:
                raise CorruptionError(f"holds vectors of dimension {rows.vectors.shape[1]}, the manifest says {dim}")
            return np.sort(id_keys(rows.ids))

        return self.get(v, rows_key(folder, fp), decode)

    def check_version(self, v: int, m: Manifest) -> None:
        bad = self.report.problems
        dim = int(m.settings["dim"])
        keys_of: dict[str, np.ndarray | None] = {}
        index = None
        if m.index:
            index = self.get(v, index_key(m.index), lambda d: Index.from_bytes(d, m.index))
        if index is not None:
            if int(index.bucket_rows.sum()) != m.indexed_rows:
                bad.append(
                    f"version {v}: the manifest says {m.indexed_rows} indexed rows, the index's buckets hold "
                    f"{int(index.bucket_rows.sum())}"
                )
            metric = index.settings.get("metric")
            if metric is not None and metric != m.settings["metric"]:
                bad.append(
                    f"version {v}: the manifest's metric is {m.settings['metric']!r}, the index was built for "
                    f"{metric!r}"
                )
            if len(m.idmap) != 1 << m.idmap_bits:
                bad.append(
                    f"version {v}: the id map has {len(m.idmap)} shards, its {m.idmap_bits} bits need "
                    f"{1 << m.idmap_bits}"
                )
            fps = index.bucket_fingerprints
            for n, (fp, count) in enumerate(zip(fps, index.bucket_rows)):
                if not fp:
                    continue
                keys = self.rows_file(v, BUCKETS, fp, dim)
                keys_of[fp] = keys
                if keys is not None and len(keys) != int(count):
                    bad.append(f"version {v}: buckets/{fp}.arrow holds {len(keys)} rows, the index says {int(count)}")
                span = index.bucket_spans[n] if index.bucket_spans is not None else None
                if keys is not None and isinstance(span, CodeSpan):  # what a two-phase read gets: codes, chunks
                    problem = code_file_problem(self.store.get(bucket_key(fp)), span, int(count), dim)
                    if problem:
                        bad.append(f"version {v}: buckets/{fp}.arrow: {problem}")
                elif keys is not None and span is not None:  # what a ranged read of its ids and vectors gets
                    got = self.store.get_range(bucket_key(fp), span.start, span.end)
                    if hashlib.sha256(got).digest() != span.digest:
                        bad.append(f"version {v}: buckets/{fp}.arrow: its id and vector span does not match the index")
                if self.progress:
                    self.progress("verify", n + 1, len(fps))
        elif m.indexed_rows and not m.index:
            bad.append(f"version {v}: the manifest says {m.indexed_rows} indexed rows but names no index")
        mapped = 0
        for fp in m.idmap:
            shard = self.get(v, idmap_key(fp), lambda d, fp=fp: KeyShard.from_bytes(d, fp))
            mapped += len(shard.keys) if shard is not None else 0
        if m.idmap and index is not None and mapped != m.indexed_rows:
            bad.append(f"version {v}: the id map holds {mapped} ids, the manifest says {m.indexed_rows} indexed rows")
        for seg in m.segments:
            keys = self.rows_file(v, SEGMENTS, seg.fingerprint, dim)
            key_list = self.get(v, seg.keys_object, lambda d, fp=seg.keys: decode_key_list(d, fp))
            listed = None if key_list is None else key_list.keys
            routing = None if key_list is None else key_list.routing
            if routing is not None and routing[0] == m.index and index is not None:
                out_of_range = len(routing[1]) and (routing[1].min() < 0 or routing[1].max() >= index.n_buckets)
                if len(routing[1]) != seg.rows or out_of_range:
                    bad.append(
                        f"version {v}: the key list {seg.keys} routes {len(routing[1])} rows of segment "
                        f"{seg.fingerprint} ({seg.rows} rows) to buckets outside the index's {index.n_buckets}"
                        if out_of_range
                        else f"version {v}: the key list {seg.keys} routes {len(routing[1])} rows of segment "
                        f"{seg.fingerprint}, which holds {seg.rows}"
                    )
            if keys is not None and len(keys) != seg.rows:
                bad.append(
                    f"version {v}: {segment_key(seg.fingerprint)} holds {len(keys)} rows, the manifest says {seg.rows}"
                )
            if keys is not None and listed is not None and not np.array_equal(keys, listed):
                bad.append(f"version {v}: the key list {seg.keys} does not match the ids of segment {seg.fingerprint}")
            keys_of[seg.fingerprint] = keys
        named = [fp for fp in (index.bucket_fingerprints if index is not None else []) if fp] + [
            s.fingerprint for s in m.segments
        ]
        if len(set(named)) != len(named):
            bad.append(
                f"version {v}: {len(named) - len(set(named))} file(s) are named twice (a tombstone of one would "
                "hide both)"
            )
        tomb = (
            self.get(v, tombstones_key(m.tombstones), lambda d: decode_tombstones(d, m.tombstones))
            if m.tombstones
            else {}
        )
        if tomb is not None:
            count = sum(len(k) for k in tomb.values())
            if count != m.tombstone_count:
                bad.append(
                    f"version {v}: the manifest counts {m.tombstone_count} deleted rows, its tombstones hold {count}"
                )
            for fp, dead in tomb.items():
                if fp not in keys_of:
                    bad.append(f"version {v}: tombstones name {fp}, which is no file of this version")
                elif keys_of[fp] is not None and not np.isin(dead, keys_of[fp]).all():
                    bad.append(f"version {v}: tombstones of {fp} name ids that file does not hold")
        for name, fp in m.attachments.items():
            self.get(
                v, attachment_key(fp), lambda d, fp=fp, name=name: check_fingerprint(d, fp, f"attachment {name!r}")
            )


def verify(store: ObjectStore, manifest: Manifest, all_versions: bool, progress: Progress | None) -> VerifyReport:
    """Fetch and check every object the version(s) refer to, and the manifest against them; report
    each bad or missing one. With ``all_versions``, a version missing between two others is reported."""
    report = VerifyReport()
    checker = _Checker(store, report, progress)
    versions = list_versions(store) if all_versions else [manifest.version]
    if all_versions:
        newest = max(versions + [manifest.version])
        from vectree.collection.lifecycle import expired_versions  # (deleted by a cleanup: not missing)

        missing = sorted(
            set(range(min(versions, default=newest), newest + 1)) - set(versions) - expired_versions(store)
        )
        for v in missing:
            report.problems.append(
                f"version {v}: its manifest is missing (versions {v - 1} and {v + 1} exist around it)"
            )
    for v in versions:
        try:
            m = manifest if v == manifest.version else read_manifest(store, v)
        except VectreeError as exc:
            report.problems.append(f"version {v}: {exc}")
            continue
        report.versions.append(v)
        if m.parent is not None and m.parent != v - 1:
            report.problems.append(f"version {v}: its parent is version {m.parent}, not {v - 1}")
        checker.check_version(v, m)
    return report
