"""Cold quantized queries on disk: bytes read and latency of vectree with int8 / RaBitQ codes against no codes.

    python benchmarks/coldcodes.py --dataset fashion-mnist   # one dataset (fashion-mnist, glove, arxiv)
    python benchmarks/coldcodes.py --quick                   # a slice of fashion-mnist, under a minute

The on-disk regime of ``benchmarks/peers.py`` (its worker, its data, its 2%-of-the-vectors read cache),
for the vectree variants only: each is built and swept (short budgets) to the first probes reaching
recall@10 0.95 in memory, then opened in a fresh process with its files evicted from the page cache,
and timed one distinct query at a time. ``storage_bytes_per_query`` is what the kernel read from storage
(``/proc/self/io``). With codes, a query over buckets not held reads the probed buckets' code spans, then
only its short list's vector chunks (``vectree/collection/coldcodes.py``); without codes, each probed
bucket's id and vector span. Writes ``benchmarks/results/coldcodes-<dataset>.{json,md,png}``.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import arguments, machine  # noqa: E402
from benchmarks.datasets import load  # noqa: E402
from benchmarks.peers import SETTINGS, run_worker  # noqa: E402
from benchmarks.peers_summary import DISK_CACHE_FRACTION, TARGET_RECALL  # noqa: E402

SYSTEMS = ["vectree[kmeans]", "vectree[kmeans+int8]", "vectree[kmeans+rabitq]"]
DATASETS = ["fashion-mnist", "glove", "arxiv"]
# (what last session's peers run measured, codes read whole with the vectors: benchmarks/results/peers-*.json)
EARLIER = Path(__file__).resolve().parent / "results"


def earlier_disk_rows(name: str) -> dict[str, float]:
    """storage_bytes_per_query of the vectree disk rows in the committed peers results (read before this run)."""
    path = EARLIER / f"peers-{name}.json"
    if not path.exists():
        return {}
    rows = json.loads(path.read_text())["rows"]
    return {
        r["system"]: r["metrics"].get("storage_bytes_per_query")
        for r in rows
        if r.get("regime") == "disk" and r["system"] in SYSTEMS
    }


def truly_cold(index_dir: Path, probes: int, queries: np.ndarray, cache_bytes: int, n: int) -> dict:
    """``n`` queries, each from a fresh reader (its index read first) with the collection's files evicted
    from the page cache just before it: what a query that finds nothing cached reads, and how long it takes."""
    import vectree
    from benchmarks.peers_worker import drop_page_cache, storage_read_bytes

    lat, reads, fetched, methods = [], [], [], set()
    for q in queries[:n]:
        col = vectree.open_collection(str(index_dir / "c"), cache_bytes=cache_bytes)
        drop_page_cache(index_dir)
        r0, f0 = storage_read_bytes(), col.stats()["cache"]["bytes_fetched"]
        t = time.perf_counter()
        found = col.search(q, k=10, probes=probes)
        lat.append(time.perf_counter() - t)
        reads.append(storage_read_bytes() - r0)
        fetched.append(col.stats()["cache"]["bytes_fetched"] - f0)
        methods.add(("two-phase " if found.stats.get("two_phase") else "") + found.stats["method"])
    return {
        "cold_storage_bytes_per_query": float(np.mean(reads)),
        "cold_fetched_bytes_per_query": float(np.mean(fetched)),
        "cold_ms_p50": 1000 * float(np.median(lat)),
        "cold_ms_p90": 1000 * float(np.percentile(lat, 90)),
        "cold_queries": len(lat),
        "cold_method": sorted(methods),
    }


def run(name: str, quick: bool, out_dir: Path, command: str) -> Path:
    t_start = time.time()
    ds = load(name, quick)
    n, dim = np.load(ds.base_path, mmap_mode="r").shape
    n_queries = min(len(ds.queries), 200 if quick else 2000)
    work = Path(tempfile.mkdtemp(prefix=f"coldcodes-{ds.name}-"))
    earlier = earlier_disk_rows(ds.name)
    common = {
        "metric": ds.metric,
        "n": int(n),
        "dim": int(dim),
        "quick": quick,
        "bucket_size": 250 if quick else None,
        "batch_chunk": 1000,
        "batch_budget_s": 0.5 if quick else 2.0,
        "single_budget_s": 0.2 if quick else 1.0,
        "n_single": 50 if quick else 200,
        "single_rounds": 2,
        "stop_recall": TARGET_RECALL,  # the first setting at recall 0.95 is the one measured on disk
        "min_qps": 50,
        "cache_bytes": max(1 << 20, int(DISK_CACHE_FRACTION * n * dim * 4)),
    }
    rows: list[dict] = []
    print(f"[coldcodes] {ds.name}: {n} x {dim}, cache {common['cache_bytes'] / 2**20:.1f} MB, work {work}", flush=True)
    try:
        np.save(work / "queries.npy", ds.queries[:n_queries].astype(np.float32))
        np.save(work / "truth.npy", ds.truth[:n_queries, :10])
        common.update(base_path=str(ds.base_path), queries_path=str(work / "queries.npy"))
        common["truth_path"] = str(work / "truth.npy")
        for system in SYSTEMS:
            index_dir = work / system.replace("[", "-").replace("]", "").replace("+", "-")
            index_dir.mkdir()
            a = {**common, "mode": "sweep", "system": system, "index_dir": str(index_dir), "build": True}
            out = run_worker({**a, "settings": SETTINGS["vectree"]}, 1)
            mem = out["rows"]
            hit = [r for r in mem if r["metrics"]["recall_at_10"] >= TARGET_RECALL]
            chosen = hit[0] if hit else max(mem, key=lambda r: r["metrics"]["recall_at_10"])
            print(f"[coldcodes] {ds.name} {system}: on disk at probes={chosen['setting']}", flush=True)
            disk = run_worker(
                {**common, "mode": "disk", "system": system, "index_dir": str(index_dir), "setting": chosen["setting"],
                 "n_single": 50 if quick else 500, "single_budget_s": 1.0 if quick else 15.0},
                1,
            )  # fmt: skip
            m = disk["metrics"]
            later = np.load(common["queries_path"])
            later = later[len(later) // 2 :]  # (not the queries the disk regime ran)
            cold = truly_cold(index_dir, chosen["setting"], later, common["cache_bytes"], 20 if quick else 60)
            print(f"[coldcodes] {ds.name} {system}: truly cold {cold}", flush=True)
            rows.append(
                {
                    "system": system,
                    "setting": f"probes={chosen['setting']}",
                    "dataset": ds.name,
                    "threads": 1,
                    "regime": "disk",
                    "metrics": {
                        **cold,
                        "storage_bytes_per_query": m["storage_bytes_per_query"],
                        "fetched_bytes_per_query": m.get("fetched_bytes_per_query"),
                        "ms_single_p50": m["ms_single_p50"],
                        "ms_single_p99": m["ms_single_p99"],
                        "recall_at_10_single": m["recall_at_10_single"],
                        "recall_at_10_memory": chosen["metrics"]["recall_at_10"],
                        "first_query_ms": m["first_query_ms"],
                        "peak_rss_single_mb": m["peak_rss_single_mb"],
                        "n_single_queries": m["n_single_queries"],
                        "page_cache_shrank_mb": m["page_cache_shrank_mb"],
                        "earlier_storage_bytes_per_query": earlier.get(system),
                        "cache_bytes_fetched": (disk["info"].get("cache") or {}).get("bytes_fetched"),
                    },
                    "info": disk.get("info", {}),
                }
            )
            shutil.rmtree(index_dir, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    plain = next((r["metrics"]["storage_bytes_per_query"] for r in rows if r["system"] == SYSTEMS[0]), None)
    base = next((r["metrics"] for r in rows if r["system"] == SYSTEMS[0]), None)
    for r in rows:
        if base:
            r["metrics"]["cold_bytes_vs_no_codes"] = (
                r["metrics"]["cold_storage_bytes_per_query"] / base["cold_storage_bytes_per_query"]
            )
            r["metrics"]["cold_p50_vs_no_codes"] = r["metrics"]["cold_ms_p50"] / base["cold_ms_p50"]
    fetched = next((r["metrics"]["fetched_bytes_per_query"] for r in rows if r["system"] == SYSTEMS[0]), None)
    for r in rows:
        b, f = r["metrics"]["storage_bytes_per_query"], r["metrics"]["fetched_bytes_per_query"]
        r["metrics"]["bytes_vs_no_codes"] = b / plain if plain and b is not None else None
        r["metrics"]["fetched_vs_no_codes"] = f / fetched if fetched and f is not None else None
    body = {
        "benchmark": f"coldcodes-{ds.name}",
        "command": command,
        "machine": machine(1),
        "date": datetime.date.today().isoformat(),
        "dataset": {"name": ds.name, "rows": int(n), "dim": int(dim), "metric": ds.metric, "queries": n_queries},
        "params": {k: v for k, v in common.items() if not k.endswith("_path")},
        "rows": rows,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "wall_s": time.time() - t_start,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"coldcodes-{ds.name}"  # (the quick slice is named fashion-mnist-quick)
    path = out_dir / f"{stem}.json"
    path.write_text(json.dumps(body, indent=1, default=float))
    write_markdown(body, out_dir / f"{stem}.md")
    plot(body, out_dir / f"{stem}.png")
    print(f"[coldcodes] {ds.name} done in {time.time() - t_start:.0f} s: {path}", flush=True)
    return path


def write_markdown(body: dict, path: Path) -> None:
    d = body["dataset"]
    lines = [
        f"# Cold quantized queries on disk: {d['name']} ({d['rows']:,} x {d['dim']}, {d['metric']})",
        "",
        f"Command: `{body['command']}`; {body['date']}; machine {body['machine'].get('cpu', '')}, "
        f"{body['machine'].get('cpus')} cores; load average at the end {body['load_average_at_end']}; "
        f"{body['wall_s']:.0f} s. Read cache {body['params']['cache_bytes'] / 2**20:.1f} MB (2% of the raw "
        "vectors), page cache dropped, one distinct query at a time, 1 thread.",
        "",
        "## Truly cold queries (a fresh reader, the collection's files evicted from the page cache before each)",
        "",
        "| system | setting | disk bytes read / query | x no codes | bytes fetched / query | p50 ms | x no codes "
        "| p90 ms | queries | path |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *[
            f"| {r['system']} | {r['setting']} | {r['metrics']['cold_storage_bytes_per_query'] / 1024:,.0f} KiB | "
            f"{r['metrics'].get('cold_bytes_vs_no_codes', 0):.2f}x | "
            f"{r['metrics']['cold_fetched_bytes_per_query'] / 1024:,.0f} KiB | {r['metrics']['cold_ms_p50']:.2f} | "
            f"{r['metrics'].get('cold_p50_vs_no_codes', 0):.2f}x | {r['metrics']['cold_ms_p90']:.2f} | "
            f"{r['metrics']['cold_queries']} | {', '.join(r['metrics']['cold_method'])} |"
            for r in body["rows"]
        ],
        "",
        "## peers' on-disk regime (one reader, page cache dropped once, then distinct queries one at a time)",
        "",
        "| system | setting | disk bytes read / query | x no codes | bytes fetched / query | x no codes "
        "| before: disk bytes (whole buckets) | p50 ms | p99 ms | recall@10 (disk) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in body["rows"]:
        m = r["metrics"]
        ratio = f"{m['bytes_vs_no_codes']:.2f}x" if m.get("bytes_vs_no_codes") is not None else "-"
        fratio = f"{m['fetched_vs_no_codes']:.2f}x" if m.get("fetched_vs_no_codes") is not None else "-"
        fetched = "-" if m.get("fetched_bytes_per_query") is None else f"{m['fetched_bytes_per_query'] / 1024:,.0f} KiB"
        before = m.get("earlier_storage_bytes_per_query")
        lines.append(
            f"| {r['system']} | {r['setting']} | {m['storage_bytes_per_query'] / 1024:,.0f} KiB | {ratio} | "
            f"{fetched} | {fratio} | "
            f"{'-' if before is None else f'{before / 1024:,.0f} KiB'} | {m['ms_single_p50']:.2f} | "
            f"{m['ms_single_p99']:.2f} | {m['recall_at_10_single']:.3f} |"
        )
    lines += [
        "",
        "disk bytes read: what the kernel read from storage per query (`read_bytes` of /proc/self/io: pages the",
        "page cache did not hold; it fills as the queries go). bytes fetched: what vectree's read cache asked the",
        "store for per query (its own counter), cold or not. 'before': the",
        "same system's on-disk row in the committed `peers-<dataset>.json` (last session's run, codes read whole",
        "with the vectors), for reference only: another run, another load.",
    ]
    path.write_text("\n".join(lines) + "\n")


def plot(body: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = body["rows"]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    names = [r["system"].replace("vectree", "") for r in rows]
    axes[0].bar(names, [r["metrics"]["cold_storage_bytes_per_query"] / 1024 for r in rows], color="#4477aa")
    axes[0].set_ylabel("KiB read from disk per cold query")
    axes[1].bar(names, [r["metrics"]["cold_ms_p50"] for r in rows], color="#cc6677")
    axes[1].set_ylabel("cold p50 (ms)")
    fig.suptitle(f"vectree on disk, page cache dropped before each query: {body['dataset']['name']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = arguments(__doc__, quick="a slice of fashion-mnist, under a minute")
    parser.add_argument("--dataset", action="append", help=f"repeatable: {', '.join(DATASETS)}")
    args = parser.parse_args()
    names = args.dataset or (["fashion-mnist"] if args.quick else DATASETS)
    for name in names:
        if name not in DATASETS:
            parser.error(f"unknown dataset {name!r}: choose from {', '.join(DATASETS)}")
    command = "python benchmarks/coldcodes.py " + " ".join(sys.argv[1:])
    for name in names:
        run(name, args.quick, args.out, command.strip())


if __name__ == "__main__":
    main()
