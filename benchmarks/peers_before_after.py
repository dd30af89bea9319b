"""One build of vectree against another through `benchmarks/peers.py`: did a change make it slower?

Both builds run `peers.py` on the same machine, one after the other, in the same conditions (here:
pinned to one CPU with `taskset -c 1`, everything else moved to the other), each with faiss IVF-Flat
in the same run; the comparison is of each run's ratio to IVF-Flat (which absorbs the machine's drift
between runs) and of the absolute q/s. Several pairs of runs show how much is noise.

    python benchmarks/peers_before_after.py \\
        --pair "first=/tmp/old-{dataset}/peers-{dataset}.json,/tmp/new-{dataset}/peers-{dataset}.json" \\
        --before-label "a4e1f33" --after-label "this tree"

Writes benchmarks/results/peers-before-after.{json,md,png}.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks.common import arguments, machine  # noqa: E402

DATASETS = ("fashion-mnist", "glove", "arxiv")
KEY = "vectree[kmeans]/1"
IVF = "faiss-ivf-flat/1"


def at_095(path: Path) -> dict:
    body = json.loads(path.read_text())
    summary = dict(body["summary"])["at_recall_0.95"]
    v, f = summary[KEY], summary[IVF]
    return {
        "command": body["command"],
        "load_average_at_start": body["machine"].get("load_average_at_start"),
        "single": v["qps_single"],
        "batch": v["qps_batch"],
        "single_vs_ivf": v["qps_single"] / f["qps_single"],
        "batch_vs_ivf": v["qps_batch"] / f["qps_batch"],
    }


def compare(pairs: dict[str, tuple[str, str]]) -> list[dict]:
    rows = []
    for label, (before, after) in pairs.items():
        for ds in DATASETS:
            paths = [Path(t.format(dataset=ds)) for t in (before, after)]
            if not all(p.exists() for p in paths):  # (a pair may cover some datasets only)
                continue
            b, a = (at_095(p) for p in paths)
            rows.append(
                {
                    "pair": label,
                    "dataset": ds,
                    "before": b,
                    "after": a,
                    "single_change": a["single"] / b["single"],
                    "batch_change": a["batch"] / b["batch"],
                }
            )
    return rows


def report(rows: list[dict], before: str, after: str, command: str) -> str:
    lines = [
        f"# vectree {after} against {before}: peers.py at recall@10 0.95, one thread",
        "",
        f"Command: `{command}`. Machine: {machine(1)['cpus']} cpus ({machine(1)['cpu']}); every run pinned to "
        "CPU 1 with everything else on CPU 0; each run has faiss IVF-Flat in it.",
        "",
        f"| pair | dataset | single q/s {before} | single q/s {after} | change | single x IVF-Flat {before} | "
        f"{after} | batch q/s {before} | batch q/s {after} | change | batch x IVF-Flat {before} | {after} |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        b, a = r["before"], r["after"]
        lines.append(
            f"| {r['pair']} | {r['dataset']} | {b['single']:.0f} | {a['single']:.0f} | {r['single_change']:.2f} | "
            f"{b['single_vs_ivf']:.2f} | {a['single_vs_ivf']:.2f} | {b['batch']:.0f} | {a['batch']:.0f} | "
            f"{r['batch_change']:.2f} | {b['batch_vs_ivf']:.2f} | {a['batch_vs_ivf']:.2f} |"
        )
    lines += [
        "",
        "Median over the pairs of each dataset (after / before; the ratios to IVF-Flat divided likewise):",
        "",
        "| dataset | pairs | single q/s | single x IVF-Flat | batch q/s | batch x IVF-Flat |",
        "|---|---|---|---|---|---|",
    ]
    for ds in dict.fromkeys(r["dataset"] for r in rows):
        mine = [r for r in rows if r["dataset"] == ds]

        def med(f, mine=mine) -> float:  # noqa: ANN001 - a row's figure
            return float(np.median([f(r) for r in mine]))

        lines.append(
            f"| {ds} | {len(mine)} | {med(lambda r: r['single_change']):.2f} | "
            f"{med(lambda r: r['after']['single_vs_ivf'] / r['before']['single_vs_ivf']):.2f} | "
            f"{med(lambda r: r['batch_change']):.2f} | "
            f"{med(lambda r: r['after']['batch_vs_ivf'] / r['before']['batch_vs_ivf']):.2f} |"
        )
    lines += ["", "The runs:", ""]
    for r in rows:
        for side in ("before", "after"):
            lines.append(
                f"- {r['pair']} {r['dataset']} {side}: `{r[side]['command']}` "
                f"(load average {r[side]['load_average_at_start']})"
            )
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path, before: str, after: str) -> None:
    from vectree.figures import pyplot, save_figure

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    labels = [f"{r['dataset']} #{r['pair'].split()[0]}" for r in rows]
    x = range(len(rows))
    for ax, what in zip(axes, ("single", "batch")):
        ax.bar([i - 0.2 for i in x], [r["before"][f"{what}_vs_ivf"] for r in rows], 0.4, label=before)
        ax.bar([i + 0.2 for i in x], [r["after"][f"{what}_vs_ivf"] for r in rows], 0.4, label=after)
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_xticks(list(x), labels, fontsize=7, rotation=60, ha="right")
        ax.set_ylabel(f"{what} q/s, x faiss IVF-Flat")
        ax.set_title("one query at a time" if what == "single" else "one batch")
    axes[0].legend(fontsize=8)
    save_figure(fig, path)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument(
        "--pair", action="append", required=True, help="label=BEFORE_JSON,AFTER_JSON ({dataset} filled in)"
    )
    parser.add_argument("--before-label", default="before")
    parser.add_argument("--after-label", default="after")
    args = parser.parse_args()
    pairs = {}
    for p in args.pair:
        label, paths = p.split("=", 1)
        before, after = paths.split(",")
        pairs[label] = (before, after)
    rows = compare(pairs)
    command = "python benchmarks/peers_before_after.py " + " ".join(f'--pair "{p}"' for p in args.pair)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "peers-before-after.json").write_text(
        json.dumps(
            {
                "command": command,
                "machine": machine(1),
                "before": args.before_label,
                "after": args.after_label,
                "rows": rows,
            },
            indent=1,
        )
    )
    (args.out / "peers-before-after.md").write_text(report(rows, args.before_label, args.after_label, command))
    plot(rows, args.out / "peers-before-after.png", args.before_label, args.after_label)
    print((args.out / "peers-before-after.md").read_text())


if __name__ == "__main__":
    main()
