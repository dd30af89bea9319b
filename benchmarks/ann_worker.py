"""One vectree configuration on one dataset, in its own process (so peak RSS is its own)."""

from __future__ import annotations

import json
import sys
import tempfile
import time

import numpy as np

import vectree
from benchmarks.common import peak_rss_mb
from benchmarks.datasets import load, recall
from vectree.index import IndexConfig


def ingest(col: vectree.Collection, base: np.ndarray, n: int) -> None:
    """Add the first n rows; past the end of ``base``, further copies with small deterministic noise."""

    def chunks():
        for s in range(0, n, 50_000):
            idx = np.arange(s, min(s + 50_000, n))
            block = np.asarray(base[idx % len(base)], dtype=np.float32)
            if s >= len(base):
                block = block + np.random.default_rng(s).normal(scale=0.05, size=block.shape).astype(np.float32)
            yield block

    col.add_batches(chunks())


def sweep(args: dict) -> dict:
    ds = load(args["dataset"], args["quick"])
    base, q, n = ds.base, ds.queries, len(ds.base)
    with tempfile.TemporaryDirectory() as tmp:
        col = vectree.create_collection(
            f"{tmp}/c", dim=base.shape[1], metric=ds.metric, bucket_size=args["bucket_size"], tree_rule=args["rule"]
        )
        t0 = time.perf_counter()
        ingest(col, base, n)
        t1 = time.perf_counter()
        col.build()
        t2 = time.perf_counter()
        n_buckets = col.stats()["buckets"]
        col.search(q[:200], k=10, probes=n_buckets)  # warm the cache: in-memory regime
        rows = []
        for probes in args["probes"]:
            if probes > n_buckets:
                continue
            t = time.perf_counter()
            res = col.search(q, k=10, probes=probes)
            batch_s = time.perf_counter() - t
            single = q[: args["n_single"] if probes <= 16 else max(50, args["n_single"] // 5)]
            t = time.perf_counter()
            for v in single:
                col.search(v, k=10, probes=probes)
            single_s = time.perf_counter() - t
            rows.append(
                {
                    "probes": probes,
                    "recall_at_10": recall(res.ids, ds.truth),
                    "qps_batch": len(q) / batch_s,
                    "ms_per_query_batch": 1000 * batch_s / len(q),
                    "ms_per_query_single": 1000 * single_s / len(single),
                    "fraction_scanned": res.stats["rows_scanned"] / (len(q) * n),
                }
            )
        exact = col.search(q, k=10, exact=True)
        identical = bool((col.search(q, k=10, probes=n_buckets).ids == exact.ids).all())
    return {
        "rows": rows,
        "ingest_s": t1 - t0,
        "build_s": t2 - t1,
        "buckets": n_buckets,
        "n": n,
        "exact_recall_at_10": recall(exact.ids, ds.truth),
        "all_probes_identical_to_exact": identical,
        "peak_rss_mb": peak_rss_mb(),
    }


def build_memory(args: dict) -> dict:
    """Peak RSS of a build alone, on the first n rows (the collection is ingested by another process)."""
    if args["stage"] == "ingest":
        ds = load(args["dataset"], args["quick"])
        col = vectree.create_collection(
            args["path"], dim=ds.base.shape[1], metric=ds.metric, bucket_size=args["bucket_size"]
        )
        ingest(col, ds.base, args["n"])
        return {"rows": len(col)}
    col = vectree.open_collection(args["path"])
    before = peak_rss_mb()
    t = time.perf_counter()
    col.build(
        config=IndexConfig(
            bucket_size=args["bucket_size"], sample_size=args["sample_size"], partition_bytes=args["partition_bytes"]
        )
    )
    return {
        "build_s": time.perf_counter() - t,
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_build_mb": before,
        "rows": len(col),
    }


if __name__ == "__main__":
    a = json.loads(sys.stdin.read())
    out = build_memory(a) if a.get("mode") == "memory" else sweep(a)
    print(json.dumps(out))
