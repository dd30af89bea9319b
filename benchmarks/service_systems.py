"""The systems the service benchmark loads: `chroma run` and `vectree serve`, each started, filled with the
same collection and measured at equal recall.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.service_load import CHROMA_API, bind, encoders, recall, run_load  # noqa: E402
from benchmarks.service_procs import free_port, log, rss_mb, stop, wait_http  # noqa: E402


# --------------------------------------------------------------------------------------------- chroma
def chroma(
    args: argparse.Namespace,
    base: np.ndarray,
    ids: list[str],
    queries: np.ndarray,
    truth_ids: np.ndarray,
    pool: np.ndarray,
    work: Path,
) -> tuple[list[dict[str, Any]], float | None, str]:
    import httpx

    binary = args.chroma_bin or shutil.which("chroma")
    if not binary or not Path(binary).exists():
        return (
            [],
            None,
            "chroma not run: no `chroma` executable (pip install chromadb==1.5.9 in a venv of its own, pass "
            "--chroma-bin)",
        )
    port = free_port()
    with open(work / "chroma.log", "wb") as server_log:  # the server writes to its own copy of the handle
        proc = subprocess.Popen(
            [binary, "run", "--path", str(work / "chroma"), "--host", "127.0.0.1", "--port", str(port)],
            stdout=server_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    rows: list[dict[str, Any]] = []
    try:
        wait_http(url + "/api/v2/heartbeat", proc)
        http = httpx.Client(base_url=url, timeout=120)
        col = http.post(CHROMA_API, json={"name": "arxiv", "configuration": {"hnsw": {"space": "cosine"}}}).json()
        cid = col["id"]
        t0 = time.perf_counter()
        for s in range(0, len(base), 1000):
            r = http.post(
                f"{CHROMA_API}/{cid}/add", json={"ids": ids[s : s + 1000], "embeddings": base[s : s + 1000].tolist()}
            )
            r.raise_for_status()
        load_s = time.perf_counter() - t0
        log(f"chroma: {len(base)} rows added in {load_s:.1f} s")
        found = []
        for s in range(0, len(queries), 50):
            r = http.post(
                f"{CHROMA_API}/{cid}/query",
                json={"query_embeddings": queries[s : s + 50].tolist(), "n_results": 10, "include": ["distances"]},
            )
            found += r.json()["ids"]
        rec = recall(found, truth_ids)
        log(f"chroma: recall@10 {rec:.3f} (default HNSW settings)")
        search, add = encoders(queries, pool, "chroma", 0)
        for n in args.clients:
            log(f"chroma: {n} client(s) for {args.duration:g} s")
            m = asyncio.run(run_load(url, {}, bind(search, cid), bind(add, cid), n, args.duration, seed=n))
            rss = rss_mb(proc.pid, 1)
            rows.append(
                {
                    "system": "chroma",
                    "setting": f"workers=1 clients={n}",
                    "dataset": "arxiv-minilm",
                    "metrics": m
                    | {
                        "clients": n,
                        "workers": 1,
                        "recall_at_10": round(rec, 4),
                        "rss_mb_per_worker": rss,
                        "load_s": round(load_s, 1),
                    },
                }
            )
            log(
                f"  {m['throughput_ops_s']} ops/s, search p50 {m['search_p50_ms']} ms p99 {m['search_p99_ms']} ms, "
                f"errors {m['errors']}"
            )
        return rows, rec, "chroma run (chromadb 1.5.9, its own virtualenv), REST API v2, HNSW defaults, space=cosine"
    finally:
        stop(proc)


# -------------------------------------------------------------------------------------------- vectree
def vectree_rows(
    args: argparse.Namespace,
    base: np.ndarray,
    ids: list[str],
    queries: np.ndarray,
    truth_ids: np.ndarray,
    pool: np.ndarray,
    target: float,
    work: Path,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    import vectree
    from vectree.service.registry import Registry
    from vectree.service.tenants import create_key

    t0 = time.perf_counter()
    src = str(work / "source")
    col = vectree.create_collection(src, dim=384, metric="cosine")
    col.add(base, ids=ids)
    col.build()
    build_s = time.perf_counter() - t0
    log(f"vectree: {len(base)} rows built in {build_s:.1f} s ({col.stats()['buckets']} buckets)")
    sweep = {}
    for probes in (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256):
        sweep[probes] = recall(col.search(queries, k=10, probes=probes).ids.tolist(), truth_ids)
        if sweep[probes] >= target:
            break
    probes = next((p for p, r in sweep.items() if r >= target), max(sweep))
    log(f"vectree: probes={probes} gives recall@10 {sweep[probes]:.3f} (target {target:.3f})")
    root = work / "root"
    registry = Registry(str(root))
    key, _ = create_key(registry.store, "bench")
    rows = []
    search, add = encoders(queries, pool, "vectree", probes)
    for workers in args.workers:
        port = free_port()
        env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
        serve = [sys.executable, "-m", "vectree", "serve", str(root), "--port", str(port), "--workers", str(workers)]
        with open(work / f"serve-{workers}.log", "wb") as server_log:  # the server writes to its own copy
            proc = subprocess.Popen(
                [*serve, "--rate", "0", "--max-batch", "100000"],
                env=env,
                stdout=server_log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_http(url + "/health", proc)
            for n in args.clients:
                name = f"arxiv-w{workers}-c{n}"
                registry.adopt(name, "bench", src)  # a fresh copy per point: the adds of one point do not slow the next
                warm = bind(search, name)
                import httpx

                with httpx.Client(base_url=url, headers={"authorization": f"Bearer {key}"}, timeout=60) as http:
                    rng = np.random.default_rng(0)
                    for _ in range(20 * workers):
                        method, path, body = warm(rng)
                        http.request(method, path, content=body).raise_for_status()
                log(f"vectree: {workers} worker(s), {n} client(s) for {args.duration:g} s")
                m = asyncio.run(
                    run_load(
                        url,
                        {"authorization": f"Bearer {key}"},
                        bind(search, name),
                        bind(add, name),
                        n,
                        args.duration,
                        seed=n,
                    )
                )
                rss = rss_mb(proc.pid, workers)
                rows.append(
                    {
                        "system": "vectree",
                        "setting": f"workers={workers} clients={n} probes={probes}",
                        "dataset": "arxiv-minilm",
                        "metrics": m
                        | {
                            "clients": n,
                            "workers": workers,
                            "probes": probes,
                            "recall_at_10": round(sweep[probes], 4),
                            "rss_mb_per_worker": rss,
                            "build_s": round(build_s, 1),
                        },
                    }
                )
                log(
                    f"  {m['throughput_ops_s']} ops/s, search p50 {m['search_p50_ms']} ms p99 {m['search_p99_ms']} "
                    f"ms, errors {m['errors']}"
                )
                registry.drop(registry.record(name))
        finally:
            stop(proc)
    return rows, {"probes": probes, "recall_sweep": {str(k): round(v, 4) for k, v in sweep.items()}}
