"""The main job on the embedded local default: build a collection from a real sample and search it.

The sample (demo/arxiv-minilm-4k.npz) is 4,000 arXiv papers (CC0 metadata) embedded with
all-MiniLM-L6-v2 (384-d, cosine), drawn from ../shared/data/arxiv-abstracts-minilm.npy.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

import vectree

HERE = Path(__file__).resolve().parent


def main(path: str = "demo-collection") -> None:
    console = Console()
    data = np.load(HERE / "arxiv-minilm-4k.npz")
    vectors, titles, cats = data["vectors"].astype(np.float32), data["titles"], data["categories"]
    queries, base = (
        np.arange(0, len(vectors), 20),
        np.setdiff1d(np.arange(len(vectors)), np.arange(0, len(vectors), 20)),
    )
    shutil.rmtree(path, ignore_errors=True)
    col = vectree.create_collection(path, dim=vectors.shape[1], metric="cosine", bucket_size=200)
    col.add(
        vectors[base],
        ids=[str(i) for i in data["ids"][base]],
        labels=cats[base].tolist(),
        metadata=[{"title": str(t)} for t in titles[base]],
    )
    t0 = time.perf_counter()
    col.build()
    s = col.stats()
    console.print(
        f"[bold]collection[/bold] {col.url}: {s['rows']} papers in {s['buckets']} buckets "
        f"(built in {time.perf_counter() - t0:.2f} s)"
    )

    q = vectors[queries]
    res = col.search(q[:3], k=5, probes=4, include_metadata=True)
    for i in range(3):
        table = Table(title=f"query: {titles[queries[i]]} [{cats[queries[i]]}]", title_justify="left")
        table.add_column("rank"), table.add_column("distance"), table.add_column("category"), table.add_column("title")
        for r in range(5):
            table.add_row(
                str(r + 1), f"{res.distances[i, r]:.3f}", str(res.labels[i, r]), res.metadata[i][r]["title"][:90]
            )
        console.print(table)

    exact = col.search(q, k=10, exact=True)
    table = Table(title=f"recall@10 against exact search ({len(q)} held-out queries)", title_justify="left")
    for name in ("probes", "recall@10", "buckets scanned", "vectors scanned", "ms / query (batch)"):
        table.add_column(name)
    for probes in (1, 2, 4, 8, 16, s["buckets"]):
        t0 = time.perf_counter()
        r = col.search(q, k=10, probes=probes)
        ms = (time.perf_counter() - t0) * 1000 / len(q)
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(r.ids, exact.ids)])
        frac = r.stats["rows_scanned"] / (len(q) * len(col))
        table.add_row(str(probes), f"{recall:.3f}", str(min(probes, s["buckets"])), f"{frac:.1%}", f"{ms:.3f}")
    console.print(table)
    knn = col.search(q, k=10, probes=8)
    votes = [max(set(row.tolist()), key=row.tolist().count) for row in knn.labels]
    acc = np.mean([v == c for v, c in zip(votes, cats[queries])])
    console.print(f"10-NN category vote on the held-out papers: accuracy {acc:.3f}")
    report = col.verify()
    console.print(f"verify: {report.checked} objects checked, {'all good' if report.ok else report.problems}")


if __name__ == "__main__":
    main(*sys.argv[1:])
