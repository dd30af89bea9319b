"""The ``rerank`` knob swept for int8 and RaBitQ codes: recall@10 and time per query, one at a time.

    python benchmarks/rerank_sweep.py            # fashion-mnist, glove, arxiv
    python benchmarks/rerank_sweep.py --quick    # a slice of fashion-mnist, under a minute

Per dataset, vectree (kmeans tree, the peers benchmark's float16 rule) is built once with int8 codes and
once with RaBitQ codes. The probes are the first of 8, 12, 16, 24, 32, 48, 64, 96 at which the int8
build (its exact bound, no cap) reaches recall 0.95; at those probes each build answers the same
queries one at a time for every ``rerank`` (None: the code's own default; else the cap on rows read in
full), fastest of 3 rounds. Writes benchmarks/results/rerank-sweep.{json,md,png}.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import arguments, machine, markdown_table, named, write_results  # noqa: E402
from benchmarks.datasets import load, recall  # noqa: E402
from vectree.collection.plan import TUNING  # noqa: E402

K = 10
RERANKS = [None, 10, 20, 40, 80, 160]
PROBES = [8, 12, 16, 24, 32, 48, 64, 96]
CODES = ["int8", "rabitq"]


def _dtype(base: np.ndarray) -> str:
    s = base[:5000]
    return "float16" if np.array_equal(s.astype(np.float16).astype(np.float32), s) else "float32"


def _build(ds, codes: str, folder: str):
    import vectree

    base = ds.base
    col = vectree.create_collection(folder, dim=base.shape[1], metric=ds.metric, vector_dtype=_dtype(base), codes=codes)
    for a in range(0, len(base), 10_000):
        col.add(np.ascontiguousarray(base[a : a + 10_000], np.float32), ids=np.arange(a, min(a + 10_000, len(base))))
    col.build()
    col.search(ds.queries[:2], k=K, exact=True)  # every bucket cached
    return col


def _run(col, queries: np.ndarray, truth: np.ndarray, probes: int, rerank: int | None) -> dict:
    best, found, reranked = float("inf"), None, 0
    for _ in range(3):
        ids, rows = [], 0
        t = time.perf_counter()
        for q in queries:
            r = col.search(q, k=K, probes=probes, rerank=rerank)
            ids.append(r.ids[0])
            rows += r.stats.get("rows_reranked", 0)
        best = min(best, time.perf_counter() - t)
        found, reranked = np.array(ids), rows
    return {
        "recall_at_10": recall(found, truth, K),
        "us_single": best / len(queries) * 1e6,
        "qps_single": len(queries) / best,
        "rows_reranked": reranked / len(queries),
    }


def sweep(name: str, quick: bool, log=print) -> list[dict]:
    ds = load(name, quick=quick)
    n_q = 100 if quick else 500
    queries, truth = ds.queries[:n_q].astype(np.float32), ds.truth[:n_q]
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        cols = {c: _build(ds, c, f"{tmp}/{c}") for c in CODES}
        probes = PROBES[-1]
        for p in PROBES:
            if _run(cols["int8"], queries, truth, p, None)["recall_at_10"] >= 0.95:
                probes = p
                break
        for codes, col in cols.items():
            for rr in RERANKS:
                m = _run(col, queries, truth, probes, rr)
                m["buckets"] = col.stats()["buckets"]
                setting = f"probes={probes},rerank={rr}"
                log(
                    f"[rerank] {name} {codes} {setting}: recall {m['recall_at_10']:.4f} {m['us_single']:.0f} us "
                    f"{m['rows_reranked']:.1f} rows re-ranked"
                )
                rows.append({"system": f"vectree[kmeans+{codes}]", "setting": setting, "dataset": name, "metrics": m})
            del col
    return rows


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted({r["dataset"] for r in rows})
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 4), squeeze=False)
    for ax, name in zip(axes[0], names):
        for system in sorted({r["system"] for r in rows}):
            pts = [r["metrics"] for r in rows if r["dataset"] == name and r["system"] == system]
            ax.plot([m["recall_at_10"] for m in pts], [m["us_single"] for m in pts], "o-", label=system)
        ax.set_title(name)
        ax.set_xlabel("recall@10")
        ax.set_ylabel("us per query (one at a time)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--dataset", default=None, help="comma list (default: fashion-mnist,glove,arxiv)")
    args = parser.parse_args()
    names = (
        args.dataset.split(",")
        if args.dataset
        else (["fashion-mnist"] if args.quick else ["fashion-mnist", "glove", "arxiv"])
    )
    load_start = machine(1)["load_average_at_start"]
    rows = [r for name in names for r in sweep(name, args.quick)]
    name, command = named("rerank_sweep", args.quick)
    name = name.replace("_", "-")  # results named as the others are (peers-glove, scale-peers)
    import os

    extra = {"load_average_at_end": [round(x, 2) for x in os.getloadavg()]}
    path = write_results(name, command, 1, rows, extra, args.out)
    columns = ["recall_at_10", "us_single", "qps_single", "rows_reranked", "buckets"]
    md = [
        f"# {name}: the rerank knob for int8 and RaBitQ codes, one query at a time",
        "",
        f"Command: `{command}`. Load average {load_start} at start, {extra['load_average_at_end']} at end "
        "(2 shared cores: read the differences within a dataset). rerank=None is each code's default "
        f"(int8: every row its exact bound keeps; RaBitQ: {TUNING.rabitq_rerank} x k).",
        "",
        markdown_table(rows, columns),
        "",
        f"![recall vs time]({name}.png)",
    ]
    (args.out / f"{name}.md").write_text("\n".join(md) + "\n")
    plot(rows, args.out / f"{name}.png")
    print(path)


if __name__ == "__main__":
    main()
