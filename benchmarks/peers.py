"""vectree side by side with faiss, hnswlib, annoy and lancedb: recall@10 against QPS, build time, size, memory.

    python benchmarks/peers.py                              # fashion-mnist, glove, arxiv; 1 thread and all cores
    python benchmarks/peers.py --dataset glove --threads 1  # one dataset, one thread only
    python benchmarks/peers.py --quick                      # small slice of fashion-mnist, under a minute

Every system runs in its own process per dataset and thread setting (peak RSS is its own): the first
process builds the index (timed) and writes it to a temporary folder (its size on disk is measured), later
ones load it. Each process sweeps the system's knob over settings from low to high recall, timing batch
queries and one-at-a-time queries. Then the on-disk regime: vectree (small cache), lancedb and annoy (mmap)
opened fresh in a new process with their files evicted from the page cache, at the setting that first
reaches recall 0.95. Writes benchmarks/results/peers-<dataset>.{json,md,png}.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import arguments, machine  # noqa: E402
from benchmarks.datasets import load  # noqa: E402
from benchmarks.peers_report import plot, write_markdown  # noqa: E402
from benchmarks.peers_summary import DISK_CACHE_FRACTION, TARGET_RECALL, runs_of, summarise  # noqa: E402
from benchmarks.peers_systems import setting_name  # noqa: E402

DATASETS = ["fashion-mnist", "glove", "arxiv"]
SYSTEMS = [
    "faiss-flat",
    "faiss-ivf-flat",
    "vectree[kmeans]",
    "vectree[kmeans+int8]",
    "vectree[kmeans+rabitq]",
    "vectree[seed]",
    "faiss-ivf-rabitq-fs",
    "faiss-ivfpq-fs",
    "faiss-hnsw",
    "hnswlib",
    "annoy",
    "lancedb-ivf-pq",
    "lancedb-ivf-flat",
]
DISK_SYSTEMS = [
    "vectree[kmeans]",
    "vectree[kmeans+int8]",
    "vectree[kmeans+rabitq]",
    "vectree[seed]",
    "lancedb-ivf-pq",
    "lancedb-ivf-flat",
    "annoy",
]
QUICK_SKIP = {"lancedb-ivf-pq", "vectree[seed]/disk"}  # --quick: lancedb's PQ training alone takes ~25 s

CODED_FAISS = (
    [[p, 10] for p in (1, 2, 4, 8, 12, 16)]
    + [[p, 20] for p in (24, 32, 48, 64)]
    + [[p, 50] for p in (32, 48, 64, 96, 128)]
    + [[p, 100] for p in (128, 192, 256, 384)]
    + [[512, 200]]
)
SETTINGS = {
    "vectree": [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256],
    "faiss-ivf-flat": [1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512],
    "hnsw": [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024],
    "annoy": [500, 1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000],
    "lancedb-ivf-pq": [[p, 10] for p in (1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128)] + [[128, 40], [256, 40]],
    "lancedb-ivf-flat": [1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256],
    "faiss-flat": ["exact"],
    # compact codes with an exact refine of k_factor x 10 candidates: k_factor 10 alone tops out at recall
    # 0.80-0.90 on GloVe (session 8), so the sweep walks nprobe and k_factor up together
    "faiss-ivf-rabitq-fs": CODED_FAISS,
    "faiss-ivfpq-fs": CODED_FAISS,
}


def settings_for(system: str) -> list:
    if system.startswith("vectree"):
        return SETTINGS["vectree"]
    if system in ("faiss-hnsw", "hnswlib"):
        return SETTINGS["hnsw"]
    return SETTINGS[system]


def run_worker(args: dict, threads: int) -> dict:
    """``python -m benchmarks.peers_worker`` in a fresh process: progress streams to our stderr, JSON comes back."""
    env = dict(os.environ)
    for var in (
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
        "LANCE_CPU_THREADS",
        "RAYON_NUM_THREADS",
    ):
        env[var] = str(threads)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    env.setdefault("RUST_LOG", "error")
    env.setdefault("LANCE_LOG", "error")
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.peers_worker"],
        input=json.dumps({**args, "threads": threads}),
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"peers_worker failed for {args['system']} (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def copy_bandwidth_gbps(quick: bool = False) -> float:
    """STREAM-style copy on one thread: bytes read plus bytes written per second, best of several
    copies of an array far larger than the caches (256 MB; 32 MB with --quick)."""
    n = (32 if quick else 256) << 20
    src, dst = np.ones(n // 8), np.empty(n // 8)
    best = float("inf")
    for _ in range(3 if quick else 6):
        t = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t)
    return 2 * n / best / 1e9


# ------------------------------------------------------------------ one dataset
def run_dataset(
    name: str, quick: bool, thread_modes: list[int], out_dir: Path, command: str, merge: bool = False
) -> Path:
    t_start = time.time()
    mach = machine("1 and all" if len(thread_modes) > 1 else thread_modes[0])
    mach["copy_bandwidth_gbps"] = copy_bandwidth_gbps(quick)
    ds = load(name, quick)
    n, dim = np.load(ds.base_path, mmap_mode="r").shape
    raw_mb = n * dim * 4 / 2**20
    n_queries = min(len(ds.queries), 200 if quick else 5000)
    work = Path(tempfile.mkdtemp(prefix=f"peers-{ds.name}-"))
    print(
        f"[peers] {ds.name}: {n} x {dim} ({ds.metric}), {n_queries} queries, raw vectors {raw_mb:.0f} MB, "
        f"threads {thread_modes}, work dir {work}",
        flush=True,
    )
    params = {
        "bucket_size": 250 if quick else None,
        "hnsw_m": 16,
        "ef_construction": 100,
        "n_trees": 10 if quick else 50,
        "batch_chunk": 1000,
        "batch_budget_s": 0.5 if quick else 10.0,
        "single_budget_s": 0.2 if quick else 3.0,
        "n_single": 50 if quick else 1000,
        "single_rounds": 5,
        "stop_recall": 0.995 if quick else 0.999,
        "min_qps": 100,
        "cache_bytes": max(1 << 20, int(DISK_CACHE_FRACTION * n * dim * 4)),
    }
    rows: list[dict] = []
    errors: dict[str, str] = {}
    try:
        np.save(work / "queries.npy", ds.queries[:n_queries].astype(np.float32))
        np.save(work / "truth.npy", ds.truth[:n_queries, :10])
        common = {
            "base_path": str(ds.base_path),
            "queries_path": str(work / "queries.npy"),
            "truth_path": str(work / "truth.npy"),
            "metric": ds.metric,
            "n": int(n),
            "dim": int(dim),
            "quick": quick,
            **params,
        }
        for system in [s for s in SYSTEMS if not (quick and s in QUICK_SKIP)]:
            index_dir = work / system.replace("[", "-").replace("]", "")
            index_dir.mkdir()
            built = False
            for threads in thread_modes:
                if system == "annoy" and threads > 1:
                    print(
                        "[peers] annoy: no multi-threaded query API (the GIL is held); all-cores rows skipped",
                        flush=True,
                    )
                    continue
                print(f"[peers] {ds.name} {system} threads={threads}", flush=True)
                a = {
                    **common,
                    "mode": "sweep",
                    "system": system,
                    "index_dir": str(index_dir),
                    "build": not built,
                    "settings": settings_for(system),
                }
                if threads > 1:
                    a["n_single"] = 0  # one-at-a-time queries are timed with one thread only
                try:
                    out = run_worker(a, threads)
                except RuntimeError as e:
                    errors[f"{system}/{threads}"] = str(e)
                    print(f"[peers] {e}", flush=True)
                    break
                built = True
                for r in out["rows"]:
                    m = {
                        **r["metrics"],
                        **{k: v for k, v in out["build"].items() if isinstance(v, (int, float))},
                        "rss_baseline_mb": out["rss_baseline_mb"],
                        "rss_after_build_mb": out["rss_after_build_mb"],
                        "raw_vector_mb": raw_mb,
                    }
                    rows.append(
                        {
                            "system": system,
                            "setting": setting_name(system, r["setting"]),
                            "knob": r["setting"],
                            "dataset": ds.name,
                            "threads": threads,
                            "regime": "memory",
                            "metrics": m,
                            "info": out.get("info", {}),
                        }
                    )
        rows += disk_rows(ds.name, common, rows, work, errors, quick)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    body = {
        "benchmark": f"peers-{ds.name}",
        "command": command,
        "machine": mach,
        "date": datetime.date.today().isoformat(),
        "started_utc": datetime.datetime.fromtimestamp(t_start, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "rows": rows,
        "dataset": {
            "name": ds.name,
            "rows": int(n),
            "dim": int(dim),
            "metric": ds.metric,
            "queries": n_queries,
            "raw_vector_mb": raw_mb,
        },
        "params": params,
        "errors": errors,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "wall_s": time.time() - t_start,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"peers-{ds.name}.json"
    if merge and path.exists():  # replace only the systems run now; the rest stay from the earlier run
        old = json.loads(path.read_text())
        ran = {r["system"] for r in rows}
        old["rows"] = [r for r in old["rows"] if r["system"] not in ran] + rows
        old.setdefault("merged_runs", []).append(
            {k: body[k] for k in ("command", "machine", "date", "started_utc", "load_average_at_end", "wall_s")}
            | {"systems": sorted(ran)}
        )
        old["errors"] = {**old.get("errors", {}), **errors}
        body = old
    body["summary"] = summarise(body["rows"], raw_mb, runs_of(body))
    path.write_text(json.dumps(body, indent=1, default=float))
    write_markdown(body, out_dir / f"peers-{ds.name}.md")
    plot(body, out_dir / f"peers-{ds.name}.png")
    print(f"[peers] {ds.name} done in {time.time() - t_start:.0f} s: {path}", flush=True)
    return path


def disk_rows(name: str, common: dict, rows: list[dict], work: Path, errors: dict, quick: bool) -> list[dict]:
    out_rows = []
    for system in [s for s in DISK_SYSTEMS if not (quick and f"{s}/disk" in QUICK_SKIP)]:
        mem = [r for r in rows if r["system"] == system and r["threads"] == 1]
        if not mem:
            continue
        hit = [r for r in mem if r["metrics"]["recall_at_10"] >= TARGET_RECALL]
        chosen = hit[0] if hit else max(mem, key=lambda r: r["metrics"]["recall_at_10"])
        print(f"[peers] {name} {system} on disk at {chosen['setting']}", flush=True)
        a = {
            **common,
            "mode": "disk",
            "system": system,
            "setting": chosen["knob"],
            "index_dir": str(work / system.replace("[", "-").replace("]", "")),
        }
        try:
            out = run_worker(a, 1)
        except RuntimeError as e:
            errors[f"{system}/disk"] = str(e)
            continue
        m = {
            **out["metrics"],
            "raw_vector_mb": common["n"] * common["dim"] * 4 / 2**20,
            "cache_mb": common["cache_bytes"] / 2**20 if system.startswith("vectree") else None,
        }
        m["peak_rss_fraction_of_raw"] = m["peak_rss_single_mb"] / m["raw_vector_mb"]
        m["peak_rss_over_baseline_fraction_of_raw"] = (m["peak_rss_single_mb"] - m["rss_baseline_mb"]) / m[
            "raw_vector_mb"
        ]
        # the same, less the shared-library code the queries faulted in after the baseline (pyarrow's
        # IPC reader alone is 2-3 MB): what the process holds for data
        m["peak_data_rss_fraction_of_raw"] = (
            m["peak_rss_single_mb"] - m["rss_baseline_mb"] - m.get("library_code_added_mb", 0.0)
        ) / m["raw_vector_mb"]
        out_rows.append(
            {
                "system": system,
                "setting": chosen["setting"],
                "knob": chosen["knob"],
                "dataset": name,
                "threads": 1,
                "regime": "disk",
                "metrics": m,
                "info": out.get("info", {}),
            }
        )
    return out_rows


# ------------------------------------------------------------------ analysis
def main() -> None:
    parser = arguments(__doc__, quick="small slice of fashion-mnist (unless --dataset), under a minute")
    parser.add_argument("--dataset", action="append", help=f"repeatable or comma list of {', '.join(DATASETS)}")
    parser.add_argument("--threads", choices=["1", "all", "both"], help="default: both (1 with --quick)")
    parser.add_argument("--systems", help="comma list to run a subset (default: all)")
    parser.add_argument(
        "--merge", action="store_true", help="with --systems: replace those systems' rows in an existing results file"
    )
    parser.add_argument(
        "--from-json", type=Path, help="only re-render the .md and .png (and summary) of a results .json"
    )
    args = parser.parse_args()
    if args.from_json:
        body = json.loads(args.from_json.read_text())
        body["summary"] = summarise(body["rows"], body["dataset"]["raw_vector_mb"], runs_of(body))
        args.from_json.write_text(json.dumps(body, indent=1, default=float))
        write_markdown(body, args.from_json.with_suffix(".md"))
        plot(body, args.from_json.with_suffix(".png"))
        return
    names = [
        d for item in (args.dataset or (["fashion-mnist"] if args.quick else DATASETS)) for d in item.split(",") if d
    ]
    for d in names:
        if d not in DATASETS:
            parser.error(f"unknown dataset {d!r}: choose from {', '.join(DATASETS)}")
    if args.systems:
        global SYSTEMS
        unknown = set(args.systems.split(",")) - set(SYSTEMS)
        if unknown:
            parser.error(f"unknown systems {sorted(unknown)}: choose from {', '.join(SYSTEMS)}")
        SYSTEMS = [s for s in SYSTEMS if s in args.systems.split(",")]
    cores = os.cpu_count() or 1
    threads = args.threads or ("1" if args.quick else "both")
    modes = {"1": [1], "all": [cores], "both": [1, cores] if cores > 1 else [1]}[threads]
    command = "python benchmarks/peers.py " + " ".join(sys.argv[1:])
    for name in names:
        run_dataset(name, args.quick, modes, args.out, command.strip(), merge=args.merge)


if __name__ == "__main__":
    main()
