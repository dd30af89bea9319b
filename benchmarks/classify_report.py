"""The classification benchmark's markdown and figure (accuracy against ms per document)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import RESULTS, markdown_table  # noqa: E402
from vectree.figures import pyplot, save_figure  # noqa: E402

SEED_TABLE = [
    ("seed (Algorithmia), k=10 buckets", 0.8242, 97.8),
    ("seed, k=5", 0.7927, 57.92),
    ("seed, k=3", 0.7671, 42.69),
    ("seed, k=1", 0.6279, 34.99),
    ("seed: fastText", 0.7836, None),
]


def write_markdown(name: str, command: str, rows: list[dict], note: str) -> None:
    cols = ["accuracy", "macro_f1", "embed_ms_per_doc", "search_ms_per_doc", "ms_per_doc", "train_s"]
    text = f"# {name}\n\n`{command}`\n\n{note}\n\n" + markdown_table(rows, cols) + "\n"
    (RESULTS / f"{name}.md").write_text(text)


def arxiv_note(rows: list[dict]) -> str:
    fts = [r for r in rows if r["system"] == "fastText"]
    if not fts:
        return ""
    ft = max(fts, key=lambda r: r["metrics"]["accuracy"])
    ok = [r for r in rows if r["system"].startswith("vectree") and r["metrics"]["search_ms_per_doc"] <= 5.0]
    best = max(ok, key=lambda r: r["metrics"]["accuracy"]) if ok else None
    lines = [
        "Seed (100k arXiv abstracts, its own split): "
        + "; ".join(f"{n} {100 * a:.2f}%" + (f" at {ms} ms/doc" if ms else "") for n, a, ms in SEED_TABLE)
        + "."
    ]
    if best:
        m = best["metrics"]
        lines.append(
            f"Best vectree setting with search <= 5 ms/doc: {best['system']} {best['setting']}: "
            f"{100 * m['accuracy']:.2f}% (search {m['search_ms_per_doc']:.2f} ms/doc, embedding "
            f"{m['embed_ms_per_doc']:.1f} ms/doc) against the best fastText ({ft['setting']}) "
            f"{100 * ft['metrics']['accuracy']:.2f}%: "
            f"{'at least as accurate' if m['accuracy'] >= ft['metrics']['accuracy'] else 'LESS accurate'}."
        )
    return "\n\n".join(lines)


def plot(all_rows: list[dict], path: Path) -> None:
    plt = pyplot()

    datasets = sorted({r["dataset"] for r in all_rows if "ms_per_doc" in r["metrics"]})
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 4.2), squeeze=False)
    for ax, d in zip(axes[0], datasets):
        rows = [r for r in all_rows if r["dataset"] == d]
        for system in sorted({r["system"] for r in rows}):
            pts = [r for r in rows if r["system"] == system]
            xs = [max(r["metrics"]["ms_per_doc"], 1e-3) for r in pts]
            ys = [r["metrics"]["accuracy"] for r in pts]
            ax.plot(xs, ys, "o-" if system.startswith("vectree") else "s", label=system)
        ax.set_xscale("log")
        ax.set_xlabel("ms per document (embedding + search)")
        ax.set_ylabel("accuracy")
        ax.set_title(d)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    save_figure(fig, path, dpi=110)
