"""The recommender benchmark's markdown and figure."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.recommend_protocols import protocols_markdown  # noqa: E402
from vectree.apps.recommend.funnel import STAGES  # noqa: E402
from vectree.figures import pyplot, save_figure  # noqa: E402


def beats(rows: list[dict], m: dict, system: str) -> bool:
    base = next(r["metrics"] for r in rows if r["system"] == system)
    return m["recall_at_10"] > base["recall_at_10"] and m["ndcg_at_10"] > base["ndcg_at_10"]


def markdown(rep: dict) -> str:
    lines = [
        f"# {rep['benchmark']}",
        "",
        f"Command: `{rep['command']}`  ",
        f"Date: {rep['date']}  ",
        f"Machine: {rep['machine']}  ",
        f"Split: {rep['split']}  ",
        f"Settings: {rep['settings']}",
        "",
        "| system | setting | Recall@10 | NDCG@10 | coverage@10 | fit s |",
        "|---|---|---|---|---|---|",
    ]
    for r in rep["rows"]:
        m = r["metrics"]
        lines.append(
            f"| {r['system']} | {r['setting']} | {m['recall_at_10']:.4f} | {m['ndcg_at_10']:.4f} | "
            f"{m['coverage_at_10']:.3f} | {m.get('fit_s', '')} |"
        )
    lines += [
        "",
        "## Exact vs ANN (two-tower + re-rank)",
        "",
        "| probes | Recall@10 | NDCG@10 | recall lost vs exact |",
        "|---|---|---|---|",
    ]
    for s in rep["probes_sweep"]:
        lines.append(
            f"| {s['probes']} | {s['recall_at_10']:.4f} | {s['ndcg_at_10']:.4f} | "
            f"{100 * s['recall_loss_vs_exact']:.2f}% |"
        )
    lines += [
        "",
        "## Latency per stage (one user per call)",
        "",
        "| stage | p50 ms | p99 ms | mean ms |",
        "|---|---|---|---|",
    ]
    for s in STAGES:
        v = rep["latency"][s]
        lines.append(f"| {s} | {v['p50_ms']:.2f} | {v['p99_ms']:.2f} | {v['mean_ms']:.2f} |")
    lines += [
        "",
        f"Per-item re-rank cost (p99): {rep['per_item_rerank_ms_p99']:.4f} ms",
        "",
        "## Capacity: shards to meet a p99 budget",
        "",
        "| items re-scored | budget ms | qps | shards | est. p99 ms | utilisation |",
        "|---|---|---|---|---|---|",
    ]
    for c in rep["capacity"]:
        if "error" in c:
            lines.append(f"| {c['n_items']} | {c['budget_ms']} | {c['qps']} | none fits | | |")
        else:
            lines.append(
                f"| {c['n_items']} | {c['budget_ms']} | {c['qps']} | {c['shards']} | {c['p99_ms']:.1f} | "
                f"{c['utilization']:.2f} |"
            )
    lines += ["", "## Checks", "", *[f"- {k}: {v}" for k, v in rep["checks"].items()], ""]
    lines += protocols_markdown(rep.get("protocols", {}))
    return "\n".join(lines)


def plot(rep: dict, path: Path) -> None:
    plt = pyplot()

    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 4.8))
    names = [f"{r['system']}\n{r['setting'][:34]}" for r in rep["rows"]]
    x = np.arange(len(names))
    a.bar(x - 0.2, [r["metrics"]["recall_at_10"] for r in rep["rows"]], 0.4, label="Recall@10")
    a.bar(x + 0.2, [r["metrics"]["ndcg_at_10"] for r in rep["rows"]], 0.4, label="NDCG@10")
    a.set_xticks(x, names, rotation=70, ha="right", fontsize=6)
    a.set_title("MovieLens 100k, time split")
    a.legend()
    sw = rep["probes_sweep"]
    b.plot([s["probes"] for s in sw], [s["recall_at_10"] for s in sw], "o-", label="ANN (vectree collection)")
    exact = next(r["metrics"]["recall_at_10"] for r in rep["rows"] if r["setting"].endswith("exact retrieval"))
    b.axhline(exact, color="k", ls="--", label="exact retrieval")
    b.axhline(exact * 0.98, color="r", ls=":", label="exact - 2%")
    b.set_xscale("log", base=2)
    b.set_xlabel("probes")
    b.set_ylabel("Recall@10 after re-rank")
    b.set_title("two-tower + re-rank: exact vs ANN retrieval")
    b.legend()
    save_figure(fig, path, dpi=120)
