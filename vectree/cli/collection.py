"""Collection commands: create, add, build, search, info, compact, verify, versions, delete."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import vectree
from vectree.cli.common import console, err, reports_errors
from vectree.cli.main import app
from vectree.cli.readers import read_batches, read_queries
from vectree.collection.plan import DEFAULT_PROBES
from vectree.errors import InvalidInputError


@contextmanager
def _progress() -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar fed by vectree's ``progress(stage, done, total)`` callbacks."""
    with Progress(
        TextColumn("{task.description:>8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as bar:
        tasks: dict[str, int] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total or None)
            bar.update(tasks[stage], completed=done, total=total or None)

        yield update


@app.command()
@reports_errors
def create(
    url: str = typer.Argument(..., help="Where the collection lives: a path, file://, or s3://bucket/prefix."),
    dim: int = typer.Option(..., help="Vector dimension."),
    metric: str = typer.Option("l2", help="l2 | cosine | dot."),
    bucket_size: int = typer.Option(
        None, help="Most rows per bucket (default: about 160 KiB of vectors, at least 80)."
    ),
    tree_rule: str = typer.Option("kmeans", help="kmeans (default) | variance | seed."),
    vector_dtype: str = typer.Option("float32", help="float32 | float16 (half the bytes stored, cached and scanned)."),
    codes: str = typer.Option(
        None, help="int8: store a compact code per row; searches scan the codes first (same answers)."
    ),
    private: bool = typer.Option(False, help="Mark the collection private (enforced by the HTTP service)."),
) -> None:
    """Create an empty collection."""
    col = vectree.create_collection(
        url,
        dim=dim,
        metric=metric,
        bucket_size=bucket_size,
        tree_rule=tree_rule,
        vector_dtype=vector_dtype,
        codes=codes,
        private=private,
    )
    console.print(
        f"created {col.url} (dim={dim}, metric={metric}, bucket_size={col.stats()['bucket_size']}, "
        f"tree_rule={tree_rule}, vector_dtype={vector_dtype}, codes={codes})"
    )


@app.command()
@reports_errors(also=(OSError,))
def add(
    url: str,
    path: str = typer.Argument(..., help="Input file: .npy, .parquet, .jsonl(.gz) or .csv."),
    vector_field: str = typer.Option("vector", help="Field holding the vector (a list, or a string in CSV)."),
    id_field: str = typer.Option("id", help="Field holding the id (ids are assigned if absent)."),
    label_field: str = typer.Option(None, help="Field holding the label."),
    metadata_fields: str = typer.Option(None, help="Comma-separated fields kept as metadata, or '*' for all others."),
    batch_size: int = typer.Option(50_000, help="Rows read at a time."),
) -> None:
    """Add rows from a file, streamed in batches, in one commit."""
    rows = [0, 0]  # the records of the batch being added (0-based, inclusive)

    def tracked() -> Iterator[dict]:
        for batch in read_batches(path, batch_size, vector_field, id_field, label_field, metadata_fields):
            rows[:] = [rows[1], rows[1] + len(batch["vectors"])]
            yield batch

    col = vectree.open_collection(url)
    try:
        with _progress() as update:
            version = col.add_batches(tracked(), progress=update)
    except InvalidInputError as exc:
        if path in str(exc) or rows == [0, 0]:
            raise
        raise InvalidInputError(f"{path}: records {rows[0]}-{rows[1] - 1}: {exc}") from exc
    console.print(
        f"version {version}: {len(col)} rows ({col.manifest.tail_rows} not yet indexed; run build or compact)"
    )


@app.command()
@reports_errors
def build(
    url: str,
    ray: str = typer.Option(
        None,
        "--ray",
        help="Build on Ray: a cluster ADDRESS ('auto': the running one), or 'local' / 'local:N' to start one here. "
        "Needs --source.",
    ),
    source: list[str] = typer.Option(
        None,
        "--source",
        help="With --ray: .npy / .parquet input files, local or s3:// (repeatable), read by the workers.",
    ),
    dim: int = typer.Option(
        None, help="With --ray, for a new collection: vector dimension (default: from the source)."
    ),
    metric: str = typer.Option("l2", help="With --ray, for a new collection: l2 | cosine | dot."),
    bucket_size: int = typer.Option(None, help="With --ray, for a new collection: most rows per bucket."),
) -> None:
    """Fit the projection and tree and write the buckets (a full rebuild); with --ray, build from --source on Ray."""
    if ray is not None:
        if not source:
            raise vectree.InvalidInputError("--ray builds from input files: give --source PATH (repeatable)")
        from vectree.distributed import build as ray_build

        with console.status("building on Ray ..."):
            col = ray_build(url, list(source), dim=dim, metric=metric, bucket_size=bucket_size, address=ray)
        version = col.version
    else:
        col = vectree.open_collection(url)
        with _progress() as update:
            version = col.build(progress=update)
    s = col.stats()
    console.print(
        f"version {version}: {s['rows']} rows in {s['buckets']} buckets (mean {s['bucket_rows_mean']:.0f} rows)"
    )


@app.command()
@reports_errors
def search(
    url: str,
    queries: str = typer.Argument(..., help="Query vectors: .npy, .parquet, .jsonl or .csv."),
    k: int = typer.Option(10, help="Neighbours per query."),
    probes: int = typer.Option(DEFAULT_PROBES, help="Buckets visited per query (more: slower, more accurate)."),
    exact: bool = typer.Option(False, "--exact", help="Scan every bucket (brute force) instead of --probes."),
    output: str = typer.Option(None, help="Write results as JSON lines to this file instead of a table."),
    tag: str = typer.Option(None, help="Search the version this tag names (see `vectree tag`)."),
    where: str = typer.Option(
        None, help='Only rows matching this JSON filter, e.g. \'{"label": "cs.CL", "year": {"$gte": 2020}}\'.'
    ),
) -> None:
    """Find the k nearest rows of each query."""
    if output and not os.path.isdir(os.path.dirname(os.path.abspath(output))):
        raise InvalidInputError(
            f"--output {output}: the directory {os.path.dirname(os.path.abspath(output))} does not exist"
        )
    try:
        flt = None if where is None else json.loads(where)
    except json.JSONDecodeError as exc:
        raise vectree.InvalidInputError(f"--where is not valid JSON ({exc}): {where!r}") from None
    col = vectree.open_collection(url, tag=tag)
    res = col.search(read_queries(queries), k=k, probes=probes, exact=exact, where=flt)
    if output:
        try:
            _write_results(output, res)
        except OSError as exc:
            raise InvalidInputError(f"--output {output}: cannot write it: {exc.strerror or exc}") from exc
        console.print(f"wrote {len(res)} results to {output}")
        return
    table = Table("query", "rank", "id", "distance", "label")
    for i in range(min(len(res), 20)):
        for r in range(res.ids.shape[1]):  # k is capped at the collection's row count
            table.add_row(
                str(i),
                str(r + 1),
                str(res.ids[i, r]),
                f"{res.distances[i, r]:.4f}",
                "" if res.labels is None else str(res.labels[i, r]),
            )
    console.print(table)


def _write_results(output: str, res: vectree.SearchResult) -> None:
    with open(output, "w") as f:
        for i in range(len(res)):
            f.write(
                json.dumps(
                    {
                        "query": i,
                        "ids": [_plain(x) for x in res.ids[i]],
                        "distances": [float(x) for x in res.distances[i]],
                        "labels": None if res.labels is None else [_plain(x) for x in res.labels[i]],
                    }
                )
                + "\n"
            )


def _plain(x: object) -> object:
    return x.item() if isinstance(x, np.generic) else x


@app.command()
@reports_errors
def info(
    url: str,
    version: int = typer.Option(None, help="An older version."),
    tag: str = typer.Option(None, help="The version this tag names."),
) -> None:
    """Settings, sizes and tree shape of a collection."""
    col = vectree.open_collection(url, version=version, tag=tag)
    table = Table("property", "value")
    for key, value in col.stats().items():
        table.add_row(key, json.dumps(value) if isinstance(value, dict) else str(value))
    console.print(table)


@app.command()
@reports_errors
def compact(url: str) -> None:
    """Fold the unindexed tail into the tree, drop deleted rows, split buckets past twice bucket_size
    (rewriting only the buckets touched; a full rebuild once the tail outgrows the indexed rows)."""
    col = vectree.open_collection(url)
    with _progress() as update:
        version = col.compact(progress=update)
    console.print(f"version {version}: {len(col)} rows in {col.stats()['buckets']} buckets")


@app.command()
@reports_errors
def verify(
    url: str,
    all_versions: bool = typer.Option(False, "--all-versions", help="Check every version, not only the latest."),
) -> None:
    """Re-read every object and check its fingerprint; exit 1 if anything is damaged or missing."""
    col = vectree.open_collection(url)
    with _progress() as update:
        report = col.verify(all_versions=all_versions, progress=update)
    for problem in report.problems:
        console.print(f"[red]BAD[/red] {problem}")
    console.print(
        f"checked {report.checked} objects in version(s) {report.versions}: "
        + ("[green]all good[/green]" if report.ok else f"[red]{len(report.problems)} problem(s)[/red]")
    )
    if not report.ok:
        raise typer.Exit(code=1)


@app.command()
@reports_errors
def versions(url: str) -> None:
    """Every committed version."""
    col = vectree.open_collection(url)
    import datetime

    table = Table("version", "created", "operation", "rows")
    for v in col.versions():
        table.add_row(
            str(v["version"]),
            datetime.datetime.fromtimestamp(v["created"]).isoformat(timespec="seconds"),
            v["operation"],
            str(v["rows"]),
        )
    console.print(table)


@app.command()
@reports_errors(also=(ValueError,))
def delete(
    url: str, ids: list[str] = typer.Argument(..., help="Ids to delete (ints in an int-id collection).")
) -> None:
    """Delete rows by id (hidden at once; space is reclaimed by compact)."""
    col = vectree.open_collection(url)
    typed = [int(i) for i in ids] if col.settings.get("id_type") != "str" else ids
    version = col.delete(typed)
    console.print(f"version {version}: deleted {len(ids)} rows")
