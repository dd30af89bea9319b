"""The HTTP service under load: N concurrent clients, 90% batch-1 searches and 10% adds of 100 rows.

    python benchmarks/service.py [--quick] [--duration S] [--rows N]

On the arXiv MiniLM vectors (../shared/data/arxiv-abstracts-minilm.npy, 384-d, cosine): a collection
of ``--rows`` papers is built once, then for every point (1 and 2 worker processes x 1, 8, 32
clients) a fresh copy of it is served by ``vectree serve`` on loopback and loaded for ``--duration``
seconds. Chroma's server (``chroma run``, from a virtualenv of its own: --chroma-bin) gets the same
rows, queries and mix, with vectree's probes chosen for the recall@10 Chroma reaches. Reported per
point: throughput, p50/p99 latency of searches and adds, errors, RSS per server process. The load
generator is one asyncio process (httpx) on the same 2 cores, for both systems alike.
Writes benchmarks/results/service[-quick].{json,md,png}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import arguments, markdown_table, named, write_results  # noqa: E402
from benchmarks.datasets import SHARED as DATA  # noqa: E402
from vectree.figures import pyplot, save_figure  # noqa: E402

CHROMA_API = "/api/v2/tenants/default_tenant/databases/default_database/collections"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout_s: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout_s} s")


def rss_mb(pid: int, workers: int) -> list[float]:
    """RSS of each process serving requests: the workers of a multi-worker server, else the server."""
    import psutil

    root = psutil.Process(pid)
    procs = (
        [c for c in root.children(recursive=True) if "spawn_main" in " ".join(c.cmdline())] if workers > 1 else [root]
    )
    return [round(p.memory_info().rss / 2**20, 1) for p in procs]


def stop(proc: subprocess.Popen) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(5)


# ------------------------------------------------------------------------------------------- load
async def run_load(
    base_url: str, headers: dict[str, str], search, add, clients: int, duration_s: float, seed: int
) -> dict[str, Any]:  # noqa: ANN001
    """``clients`` coroutines, each sending one request at a time until the deadline."""
    import httpx

    lat: dict[str, list[float]] = {"search": [], "add": []}
    errors: list[str] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60, limits=limits) as http:
        deadline = time.monotonic() + duration_s

        async def client(i: int) -> None:
            rng = np.random.default_rng(seed * 1000 + i)
            n = 0
            while time.monotonic() < deadline:
                n += 1
                kind = "add" if rng.random() < 0.1 else "search"
                method, path, body = add(rng, f"{seed}-{i}-{n}") if kind == "add" else search(rng)
                t0 = time.perf_counter()
                try:
                    r = await http.request(method, path, content=body, headers={"content-type": "application/json"})
                    ok = r.status_code < 300
                    if not ok:
                        errors.append(f"{r.status_code} {r.text[:120]}")
                except httpx.HTTPError as exc:
                    ok = False
                    errors.append(repr(exc)[:120])
                if ok:
                    lat[kind].append(time.perf_counter() - t0)

        start = time.monotonic()
        await asyncio.gather(*(client(i) for i in range(clients)))
        elapsed = time.monotonic() - start
    s, a = np.array(lat["search"]) * 1000, np.array(lat["add"]) * 1000
    pct = lambda x, q: round(float(np.percentile(x, q)), 2) if len(x) else None  # noqa: E731
    return {
        "throughput_ops_s": round((len(s) + len(a)) / elapsed, 1),
        "searches": len(s),
        "adds": len(a),
        "search_p50_ms": pct(s, 50),
        "search_p99_ms": pct(s, 99),
        "add_p50_ms": pct(a, 50),
        "add_p99_ms": pct(a, 99),
        "errors": len(errors),
        "error_examples": errors[:3],
        "duration_s": round(elapsed, 1),
    }


def encoders(queries: np.ndarray, pool: np.ndarray, system: str, probes: int):  # noqa: ANN201
    """Request makers: bodies are JSON, pre-encoded where possible so the generator costs little."""
    qjson = [json.dumps(q.round(6).tolist()) for q in queries]
    pjson = [json.dumps(v.round(6).tolist()) for v in pool]

    def batch(rng: np.random.Generator) -> tuple[list[int], str]:
        start = int(rng.integers(0, len(pool) - 100))
        return list(range(start, start + 100)), "[" + ",".join(pjson[start : start + 100]) + "]"

    if system == "vectree":

        def search(rng):  # noqa: ANN001, ANN202
            return (
                "POST",
                "/collections/{name}/search",
                f'{{"vectors":[{qjson[int(rng.integers(len(qjson)))]}],"k":10,"probes":{probes}}}'.encode(),
            )

        def add(rng, tag):  # noqa: ANN001, ANN202
            idx, vec = batch(rng)
            ids = json.dumps([f"n{tag}-{j}" for j in range(100)])
            return "POST", "/collections/{name}/add", f'{{"vectors":{vec},"ids":{ids}}}'.encode()
    else:

        def search(rng):  # noqa: ANN001, ANN202
            return (
                "POST",
                CHROMA_API + "/{name}/query",
                f'{{"query_embeddings":[{qjson[int(rng.integers(len(qjson)))]}],"n_results":10,"include":["distances"]}}'.encode(),
            )

        def add(rng, tag):  # noqa: ANN001, ANN202
            idx, vec = batch(rng)
            ids = json.dumps([f"n{tag}-{j}" for j in range(100)])
            return "POST", CHROMA_API + "/{name}/add", f'{{"ids":{ids},"embeddings":{vec}}}'.encode()

    return search, add


def bind(maker, name: str):  # noqa: ANN001, ANN201
    def call(*args):  # noqa: ANN002, ANN202
        method, path, body = maker(*args)
        return method, path.format(name=name), body

    return call


def recall(found: list[list[Any]], truth: np.ndarray) -> float:
    return float(np.mean([len(set(map(str, f)) & set(map(str, t))) / len(t) for f, t in zip(found, truth.tolist())]))


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
            "chroma not run: no `chroma` executable (pip install chromadb==1.5.9 in a venv of its own, pass --chroma-bin)",
        )
    port = free_port()
    proc = subprocess.Popen(
        [binary, "run", "--path", str(work / "chroma"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=open(work / "chroma.log", "wb"),
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
                f"  {m['throughput_ops_s']} ops/s, search p50 {m['search_p50_ms']} ms p99 {m['search_p99_ms']} ms, errors {m['errors']}"
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
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vectree",
                "serve",
                str(root),
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--rate",
                "0",
                "--max-batch",
                "100000",
            ],
            env=env,
            stdout=open(work / f"serve-{workers}.log", "wb"),
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
                    f"  {m['throughput_ops_s']} ops/s, search p50 {m['search_p50_ms']} ms p99 {m['search_p99_ms']} ms, errors {m['errors']}"
                )
                registry.drop(registry.record(name))
        finally:
            stop(proc)
    return rows, {"probes": probes, "recall_sweep": {str(k): round(v, 4) for k, v in sweep.items()}}


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    plt = pyplot()

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    series: dict[str, list[dict]] = {}
    for r in rows:
        series.setdefault(
            f"{r['system']} ({r['metrics']['workers']} worker{'s' if r['metrics']['workers'] > 1 else ''})", []
        ).append(r["metrics"])
    for (label, ms), color in zip(series.items(), ["tab:blue", "tab:green", "tab:red", "tab:purple"]):
        ms = sorted(ms, key=lambda m: m["clients"])
        c = [m["clients"] for m in ms]
        axes[0].plot(c, [m["search_p50_ms"] for m in ms], "o-", color=color, label=f"{label} p50")
        axes[0].plot(c, [m["search_p99_ms"] for m in ms], "x--", color=color, label=f"{label} p99")
        axes[1].plot(c, [m["throughput_ops_s"] for m in ms], "o-", color=color, label=label)
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrent clients")
        ax.grid(alpha=0.3)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("batch-1 search latency (ms)")
    axes[1].set_ylabel("requests/s (90% search, 10% add of 100 rows)")
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=8)
    fig.suptitle("vectree serve vs chroma run on loopback, arXiv MiniLM (384-d), equal recall@10")
    save_figure(fig, path, dpi=110)


def main() -> None:
    p = arguments(__doc__.splitlines()[0], quick="3,000 rows, 1 and 8 clients, 1 worker, 2 s per point")
    p.add_argument("--duration", type=float, default=None, help="seconds per point (default 60; 2 with --quick)")
    p.add_argument("--rows", type=int, default=None, help="rows in the collection (default 60,000; 5,000 with --quick)")
    p.add_argument("--chroma-bin", default=os.environ.get("CHROMA_BIN", "/tmp/chroma-venv/bin/chroma"))
    p.add_argument("--no-chroma", action="store_true")
    p.add_argument("--replot", action="store_true", help="only redraw the PNG from the JSON results")
    args = p.parse_args()
    if args.replot:
        name = "service-quick" if args.quick else "service"
        plot(json.loads((Path(args.out) / f"{name}.json").read_text())["rows"], Path(args.out) / f"{name}.png")
        return
    args.duration = args.duration or (2.0 if args.quick else 60.0)
    n_rows = args.rows or (3000 if args.quick else 60000)
    args.clients = [1, 8] if args.quick else [1, 8, 32]
    args.workers = [1] if args.quick else [1, 2]
    vectors = np.load(DATA / "arxiv-abstracts-minilm.npy", mmap_mode="r")
    all_ids = (DATA / "arxiv-abstracts-minilm.ids.txt").read_text().split()
    n_q = 200
    base = np.asarray(vectors[:n_rows], dtype=np.float32)
    queries = np.asarray(vectors[-n_q:], dtype=np.float32)
    pool = np.asarray(vectors[n_rows : n_rows + 5000], dtype=np.float32)
    ids = all_ids[:n_rows]
    b = base / np.linalg.norm(base, axis=1, keepdims=True)
    qn = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    truth = np.argsort(-(qn @ b.T), axis=1)[:, :10]
    truth_ids = np.asarray(ids, dtype=object)[truth]
    work = Path(tempfile.mkdtemp(prefix="vectree-bench-service-"))
    notes = []
    try:
        crows, crec, note = (
            ([], None, "chroma skipped (--no-chroma)")
            if args.no_chroma
            else chroma(args, base, ids, queries, truth_ids, pool, work)
        )
        notes.append(note)
        target = crec if crec is not None else 0.95
        vrows, extra = vectree_rows(args, base, ids, queries, truth_ids, pool, target, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = vrows + crows
    name, command = named("service", args.quick)
    out = Path(args.out)
    command = (
        command
        + (f" --duration {args.duration:g}" if args.duration != (2.0 if args.quick else 60.0) else "")
        + (f" --rows {n_rows}" if args.rows else "")
    )
    path = write_results(
        name,
        command,
        "OMP_NUM_THREADS=1 per server process",
        rows,
        {"rows_in_collection": n_rows, "queries": n_q, "duration_s_per_point": args.duration, "notes": notes, **extra},
        out,
    )
    ratio_lines = []
    for r in vrows:
        peer = next((c for c in crows if c["metrics"]["clients"] == r["metrics"]["clients"]), None)
        if peer:
            ratio_lines.append(
                f"| {r['setting']} | {r['metrics']['throughput_ops_s'] / peer['metrics']['throughput_ops_s']:.2f}x | "
                f"{peer['metrics']['search_p50_ms'] / r['metrics']['search_p50_ms']:.2f}x | {peer['metrics']['search_p99_ms'] / r['metrics']['search_p99_ms']:.2f}x |"
            )
    md = [
        f"# {name}",
        "",
        f"`{command}` on {json.loads(path.read_text())['date']}: {n_rows} arXiv MiniLM rows (384-d, cosine), "
        f"{args.duration:g} s per point, 90% batch-1 searches (k=10) / 10% adds of 100 rows, loopback, one asyncio load generator on the same machine.",
        "",
        "Notes: "
        + "; ".join(notes)
        + f". vectree probes={extra['probes']} chosen for the recall@10 of the peer (sweep {extra['recall_sweep']}).",
        "",
        markdown_table(
            rows,
            [
                "throughput_ops_s",
                "search_p50_ms",
                "search_p99_ms",
                "add_p50_ms",
                "add_p99_ms",
                "errors",
                "recall_at_10",
                "rss_mb_per_worker",
            ],
        ),
    ]
    if ratio_lines:
        md += [
            "",
            "vectree / chroma at the same number of clients (above 1 is vectree better):",
            "",
            "| vectree setting | throughput | search p50 | search p99 |",
            "|---|---|---|---|",
            *ratio_lines,
        ]
    (out / f"{name}.md").write_text("\n".join(md) + "\n")
    plot(rows, out / f"{name}.png")
    log(f"wrote {path}, {name}.md, {name}.png")


if __name__ == "__main__":
    main()
