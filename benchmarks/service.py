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

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import arguments, markdown_table, named, write_results  # noqa: E402
from benchmarks.datasets import SHARED as DATA  # noqa: E402
from benchmarks.service_procs import log  # noqa: E402
from benchmarks.service_systems import chroma, vectree_rows  # noqa: E402
from vectree.figures import pyplot, save_figure  # noqa: E402


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
                f"{peer['metrics']['search_p50_ms'] / r['metrics']['search_p50_ms']:.2f}x | "
                f"{peer['metrics']['search_p99_ms'] / r['metrics']['search_p99_ms']:.2f}x |"
            )
    md = [
        f"# {name}",
        "",
        f"`{command}` on {json.loads(path.read_text())['date']}: {n_rows} arXiv MiniLM rows (384-d, cosine), "
        f"{args.duration:g} s per point, 90% batch-1 searches (k=10) / 10% adds of 100 rows, loopback, one asyncio "
        "load generator on the same machine.",
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
