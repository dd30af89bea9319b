"""Text commands: keyword-index (build the BM25 index) and search-text (vector, keyword or hybrid)."""

from __future__ import annotations

import json
import os

import numpy as np
import typer
from rich.table import Table

import vectree
from vectree.cli.common import console, reports_errors
from vectree.cli.main import app
from vectree.cli.readers import read_queries
from vectree.collection.plan import DEFAULT_PROBES
from vectree.errors import InvalidInputError


@app.command("keyword-index")
@reports_errors
def keyword_index(
    url: str,
    field: list[str] = typer.Option(["text"], "--field", help="Metadata field(s) to index (repeat for several)."),
) -> None:
    """Build the BM25 keyword index over metadata text fields and store it with the collection."""
    from vectree.collection.keywords import build_keyword_index

    version = build_keyword_index(vectree.open_collection(url), field)
    console.print(f"version {version}: keyword index over {', '.join(field)}")


@app.command("search-text")
@reports_errors
def search_text(
    url: str,
    texts: list[str] = typer.Argument(None, help="Query texts (or --texts-file)."),
    texts_file: str = typer.Option(None, help="A file of query texts, one per line."),
    mode: str = typer.Option("hybrid", help="vector | keyword | hybrid (reciprocal rank fusion of both)."),
    k: int = typer.Option(10, help="Results per query."),
    probes: int = typer.Option(DEFAULT_PROBES, help="Buckets the vector search visits per query."),
    where: str = typer.Option(
        None, help='Only rows matching this JSON filter, e.g. \'{"label": "cs.CL", "year": {"$gte": 2020}}\'.'
    ),
    fusion: str = typer.Option("rrf", help="Hybrid fusion: rrf (ranks) or linear (normalised scores)."),
    weight: float = typer.Option(0.5, help="Hybrid: weight of the vector ranking (0..1; 0.5 = plain RRF)."),
    vectors: str = typer.Option(
        None, help="Query vectors (.npy, .parquet, .jsonl, .csv), one per text, instead of the stored embedder."
    ),
    output: str = typer.Option(None, help="Write results as JSON lines to this file instead of a table."),
    tag: str = typer.Option(None, help="Search the version this tag names (see `vectree tag`)."),
) -> None:
    """Find the k best rows for each text, by vector (the collection's stored embedder), keyword (BM25) or both."""
    from vectree.embed.hybrid import search_text as run

    queries = list(texts or [])
    if texts_file:
        try:
            with open(texts_file, encoding="utf-8") as f:
                queries += [line.rstrip("\n") for line in f if line.strip()]
        except OSError as exc:
            raise InvalidInputError(f"--texts-file {texts_file}: cannot read it: {exc.strerror or exc}") from None
    if not queries:
        raise InvalidInputError("give one or more query texts, or --texts-file")
    if output and not os.path.isdir(os.path.dirname(os.path.abspath(output))):
        raise InvalidInputError(f"--output {output}: the directory does not exist")
    try:
        flt = None if where is None else json.loads(where)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"--where is not valid JSON ({exc}): {where!r}") from None
    col = vectree.open_collection(url, tag=tag)
    res = run(
        col,
        queries,
        k=k,
        mode=mode,
        vectors=None if vectors is None else read_queries(vectors),
        probes=probes,
        fusion=fusion,
        weight=weight,
        where=flt,
    )
    found = [
        [(_plain(i), float(s)) for i, s in zip(ids, sc) if i is not None and i != -1]
        for ids, sc in zip(res.ids, res.scores)
    ]
    if output:
        try:
            with open(output, "w") as f:
                for q, (text, hits) in enumerate(zip(queries, found)):
                    row = {"query": q, "text": text, "mode": res.mode, "ids": [i for i, _ in hits]}
                    f.write(json.dumps({**row, "scores": [s for _, s in hits]}) + "\n")
        except OSError as exc:
            raise InvalidInputError(f"--output {output}: cannot write it: {exc.strerror or exc}") from exc
        console.print(f"wrote {len(found)} results to {output}")
        return
    table = Table("query", "rank", "id", f"score ({res.mode})")
    for q, hits in enumerate(found[:20]):
        for r, (i, s) in enumerate(hits):
            table.add_row(str(q), str(r + 1), str(i), f"{s:.4f}")
    console.print(table)


def _plain(x: object) -> object:
    return x.item() if isinstance(x, np.generic) else x
