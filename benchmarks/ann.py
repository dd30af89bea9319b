"""vectree's index on real data: recall@10 against speed and fraction scanned, seed rule vs default rule.

    python benchmarks/ann.py            # fashion-mnist and GloVe-6B-50d, full size (about 10 minutes)
    python benchmarks/ann.py --quick    # small slices, under a minute

Writes benchmarks/results/ann.{json,md,png}. Every configuration runs in its own process with one
BLAS thread; the build-memory rows run a build alone on growing prefixes of GloVe.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import RESULTS, markdown_table, run_child, write_results  # noqa: E402
from vectree.figures import pyplot, save_figure  # noqa: E402

PROBES = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 40, 48, 56, 64]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--datasets", default="fashion-mnist,glove")
    parser.add_argument(
        "--memory-only",
        action="store_true",
        help="re-run only the build-memory rows, keeping the rest of results/ann.json",
    )
    args = parser.parse_args()
    command = "python benchmarks/ann.py" + (" --quick" if args.quick else "")
    name = "ann-quick" if args.quick else "ann"  # a quick run never overwrites the committed results
    if args.memory_only:
        import json

        old = json.loads((RESULTS / f"{name}.json").read_text())
        rows = [r for r in old["rows"] if not r["setting"].startswith("build")] + build_memory_rows(args.quick)
        write_results(
            name,
            old["command"],
            1,
            rows,
            {"summary": old["summary"], "memory_rows_command": command + " --memory-only"},
        )
        write_markdown(name, old["command"], rows, old["summary"])
        plot(name, rows)
        return
    rows, summary = [], {}
    for dataset in args.datasets.split(","):
        for rule in ("kmeans", "variance", "seed"):
            bucket_size = 250 if args.quick else 1000
            print(f"[ann] {dataset} rule={rule} bucket_size={bucket_size} ...", flush=True)
            out = run_child(
                "benchmarks.ann_worker",
                {
                    "dataset": dataset,
                    "quick": args.quick,
                    "rule": rule,
                    "bucket_size": bucket_size,
                    "probes": PROBES,
                    "n_single": 100 if args.quick else 500,
                },
            )
            summary[f"{dataset}/{rule}"] = {k: v for k, v in out.items() if k != "rows"}
            for r in out["rows"]:
                metrics = {k: v for k, v in r.items() if k != "probes"}
                metrics.update(
                    {"build_s": out["build_s"], "ingest_s": out["ingest_s"], "peak_rss_mb": out["peak_rss_mb"]}
                )
                rows.append(
                    {
                        "system": f"vectree[{rule}]",
                        "setting": f"probes={r['probes']}",
                        "dataset": dataset,
                        "metrics": metrics,
                    }
                )
                print(
                    f"   probes={r['probes']:>3} recall@10={r['recall_at_10']:.3f} scanned={r['fraction_scanned']:.3f} "
                    f"batch={r['ms_per_query_batch']:.3f} ms/q single={r['ms_per_query_single']:.3f} ms/q",
                    flush=True,
                )
    memory = build_memory_rows(args.quick)
    rows += memory
    write_results(name, command, 1, rows, {"summary": summary})
    write_markdown(name, command, rows, summary)
    plot(name, rows)


def build_memory_rows(quick: bool) -> list[dict]:
    # past 390k rows, GloVe is repeated with small noise: the point is memory against rows, not recall
    sizes = [2000, 4000, 8000] if quick else [50_000, 100_000, 200_000, 390_000, 780_000, 1_560_000]
    out = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            base = {
                "mode": "memory",
                "dataset": "glove",
                "quick": quick,
                "path": f"{tmp}/c",
                "n": n,
                "bucket_size": 1000,
                "sample_size": 20_000,
                "partition_bytes": 16 << 20,
            }
            run_child("benchmarks.ann_worker", {**base, "stage": "ingest"})
            res = run_child("benchmarks.ann_worker", {**base, "stage": "build"})
        print(
            f"[ann] build alone on {n} GloVe rows: peak RSS {res['peak_rss_mb']:.0f} MB in {res['build_s']:.1f} s",
            flush=True,
        )
        out.append(
            {
                "system": "vectree[variance]",
                "setting": f"build n={n}",
                "dataset": "glove",
                "metrics": {
                    "rows": n,
                    "build_s": res["build_s"],
                    "peak_rss_mb": res["peak_rss_mb"],
                    "peak_rss_before_build_mb": res["rss_before_build_mb"],
                    "raw_vector_mb": n * 50 * 4 / 2**20,
                },
            }
        )
    return out


def write_markdown(name: str, command: str, rows: list[dict], summary: dict) -> None:
    sweep = [r for r in rows if r["setting"].startswith("probes")]
    memory = [r for r in rows if r["setting"].startswith("build")]
    lines = [
        f"# {name}: vectree's tree index on real data",
        "",
        f"Command: `{command}` (one BLAS thread per process).",
        "",
    ]
    lines.append("## Summary")
    lines.append("")
    for key, s in summary.items():
        lines.append(
            f"- **{key}**: {s['n']} rows in {s['buckets']} buckets; ingest {s['ingest_s']:.1f} s, build "
            f"{s['build_s']:.1f} s, peak RSS {s['peak_rss_mb']:.0f} MB; probes=all identical to exact: "
            f"{s['all_probes_identical_to_exact']}"
        )
    lines += [
        "",
        "## Recall against probes",
        "",
        markdown_table(
            sweep, ["recall_at_10", "fraction_scanned", "ms_per_query_batch", "ms_per_query_single", "qps_batch"]
        ),
        "",
        "## Peak memory of a build alone, by rows (GloVe, dim 50, bucket_size 1000)",
        "",
        markdown_table(memory, ["rows", "raw_vector_mb", "peak_rss_mb", "build_s"]),
        "",
        f"![recall vs speed]({name}.png)",
        "",
    ]
    (RESULTS / f"{name}.md").write_text("\n".join(lines))


def plot(name: str, rows: list[dict]) -> None:
    plt = pyplot()

    sweep = [r for r in rows if r["setting"].startswith("probes")]
    datasets = sorted({r["dataset"] for r in sweep})
    fig, axes = plt.subplots(2, len(datasets), figsize=(6 * len(datasets), 8), squeeze=False)
    for j, ds in enumerate(datasets):
        for system in sorted({r["system"] for r in sweep}):
            pts = [r["metrics"] for r in sweep if r["dataset"] == ds and r["system"] == system]
            axes[0, j].plot([p["fraction_scanned"] for p in pts], [p["recall_at_10"] for p in pts], "o-", label=system)
            axes[1, j].plot(
                [p["recall_at_10"] for p in pts], [1000 / p["ms_per_query_batch"] for p in pts], "o-", label=system
            )
        axes[0, j].set(
            title=f"{ds}: recall@10 vs fraction scanned",
            xlabel="fraction of vectors scanned",
            ylabel="recall@10",
            xscale="log",
        )
        axes[1, j].set(
            title=f"{ds}: queries/s (batch, 1 thread) vs recall",
            xlabel="recall@10",
            ylabel="queries per second",
            yscale="log",
        )
        for ax in axes[:, j]:
            ax.grid(True, alpha=0.3)
            ax.legend()
    save_figure(fig, RESULTS / f"{name}.png", dpi=110)


if __name__ == "__main__":
    main()
