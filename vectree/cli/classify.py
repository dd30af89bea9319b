"""``vectree classify fit|predict|evaluate``: document classification from JSONL, CSV or Parquet files."""

from __future__ import annotations

import contextlib
import gzip
import itertools
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from vectree.cli.common import console, reports_errors
from vectree.collection.plan import DEFAULT_PROBES
from vectree.errors import InvalidInputError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Document classification by nearest labelled neighbours.",
)

EMBEDDERS = ("minilm", "static", "word2vec")
EXACT = "exact"  # the row label of exact search in an evaluation sweep (the CLI spells it --exact)
TextField = typer.Option(
    "text",
    "--text-field",
    help="Field holding the text; several comma-separated fields are joined with '. ' (e.g. title,abstract).",
)
LabelField = typer.Option("label", "--label-field", help="Field holding the label.")


def read_records(path: Path, batch_size: int = 10_000) -> Iterator[list[dict[str, Any]]]:
    """Batches of records (dicts) from .jsonl[.gz], .csv or .parquet, never holding the whole file."""
    name = path.name.lower()
    if not path.is_file():
        raise InvalidInputError(f"input file {path} does not exist")
    if name.endswith((".jsonl", ".jsonl.gz", ".ndjson", ".json")):
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rt") as f:
            lines = (ln for ln in f if ln.strip())
            for n, chunk in enumerate(iter(lambda: list(itertools.islice(lines, batch_size)), [])):
                try:
                    yield [json.loads(ln) for ln in chunk]
                except json.JSONDecodeError as exc:
                    raise InvalidInputError(
                        f"{path}: a line in records {n * batch_size}..{(n + 1) * batch_size} is not JSON: {exc}"
                    ) from exc
    elif name.endswith(".parquet"):
        import pyarrow.parquet as pq

        for rb in pq.ParquetFile(path).iter_batches(batch_size=batch_size):
            yield rb.to_pylist()
    elif name.endswith(".csv"):
        import pyarrow.csv as pcsv

        for rb in pcsv.open_csv(path):
            yield rb.to_pylist()
    else:
        raise InvalidInputError(f"unsupported input {path}: use .jsonl, .jsonl.gz, .csv or .parquet")


def _text(record: dict[str, Any], fields: list[str], path: Path) -> str:
    missing = [f for f in fields if f not in record]
    if missing:
        raise InvalidInputError(
            f"{path}: a record has no field {missing[0]!r} (fields: {sorted(record)}); set --text-field"
        )
    return ". ".join(str(record[f]) for f in fields if record[f] is not None)


def read_texts(
    path: Path, text_field: str, label_field: str | None = None
) -> Iterator[tuple[list[str], list[Any] | None]]:
    """(texts, labels) batches from a file; labels None when ``label_field`` is None."""
    fields = [f.strip() for f in text_field.split(",") if f.strip()]
    for records in read_records(path):
        texts = [_text(r, fields, path) for r in records]
        if label_field is None:
            yield texts, None
            continue
        if any(label_field not in r for r in records):
            raise InvalidInputError(f"{path}: a record has no label field {label_field!r}; set --label-field")
        yield texts, [r[label_field] for r in records]


def make_embedder(kind: str, word2vec_params: dict[str, Any] | None = None) -> Any:
    """An embedder by its CLI name: minilm, static or word2vec (unfitted)."""
    from vectree.embed import SentenceEncoder, StaticEmbedder, Word2VecEmbedder

    if kind == "minilm":
        return SentenceEncoder()
    if kind == "static":
        return StaticEmbedder()
    if kind == "word2vec":
        return Word2VecEmbedder(**(word2vec_params or {}))
    raise InvalidInputError(f"unknown embedder {kind!r}: choose one of {', '.join(EMBEDDERS)}")


def _fit(
    train: Path,
    collection: str,
    embedder: str,
    text_field: str,
    label_field: str,
    n_neighbors: int,
    probes: int,
    bucket_size: int,
    sg: int,
    vector_size: int,
    epochs: int,
):  # noqa: ANN202
    from vectree.apps.classify.classifier import DocumentClassifier

    emb = make_embedder(embedder, {"sg": sg, "vector_size": vector_size, "epochs": epochs})
    clf = DocumentClassifier(
        emb, collection=collection, n_neighbors=n_neighbors, probes=probes, bucket_size=bucket_size, show_progress=True
    )
    if embedder == "word2vec":  # needs every text twice (vocabulary, then training): hold them
        texts, labels = [], []
        for t, y in read_texts(train, text_field, label_field):
            texts += t
            labels += y
        return clf.fit(texts, labels)
    pairs = ((t, y) for ts, ys in read_texts(train, text_field, label_field) for t, y in zip(ts, ys))
    a, b = itertools.tee(pairs)
    return clf.fit((t for t, _ in a), (y for _, y in b))


@app.command()
@reports_errors
def fit(
    train: Path = typer.Argument(..., help="Labelled training file (.jsonl, .csv, .parquet)."),
    collection: str = typer.Option(..., "--collection", "-c", help="URL of the collection to create."),
    embedder: str = typer.Option("minilm", help=f"One of {', '.join(EMBEDDERS)}."),
    text_field: str = TextField,
    label_field: str = LabelField,
    n_neighbors: int = typer.Option(20, help="Neighbours that vote (the classifier's default)."),
    probes: int = typer.Option(DEFAULT_PROBES, help="Buckets visited per query (stored as the default)."),
    bucket_size: int = typer.Option(None, help="Rows per bucket (default: about 160 KiB of vectors, at least 80)."),
    sg: int = typer.Option(0, help="word2vec: 0 CBOW, 1 skip-gram."),
    vector_size: int = typer.Option(200, help="word2vec: dimensions."),
    epochs: int = typer.Option(5, help="word2vec: training epochs."),
) -> None:
    """Embed a labelled file into a new collection, with its embedder, ready to classify."""
    t0 = time.perf_counter()
    clf = _fit(
        train,
        collection,
        embedder,
        text_field,
        label_field,
        n_neighbors,
        probes,
        bucket_size,
        sg,
        vector_size,
        epochs,
    )
    console.print(
        f"fitted {len(clf.collection_)} documents, {len(clf.classes_)} classes, into {clf.collection_.url} "
        f"in {time.perf_counter() - t0:.1f}s (embedder {clf.embedder_.name})"
    )


@app.command()
@reports_errors
def predict(
    input: Path = typer.Argument(..., help="File of texts to classify."),
    collection: str = typer.Option(..., "--collection", "-c", help="URL of a fitted classifier's collection."),
    text_field: str = TextField,
    id_field: str = typer.Option(None, help="Field copied to the output to identify each row."),
    output: Path = typer.Option(None, "--output", "-o", help="JSONL output (default: standard output)."),
    probes: str = typer.Option(None, help="Override the stored probes (buckets visited per query)."),
    exact: bool = typer.Option(False, "--exact", help="Scan every bucket (exact neighbours) instead of --probes."),
    n_neighbors: int = typer.Option(None, help="Override the stored n_neighbors."),
) -> None:
    """Write one JSON line per input text: its predicted label and probability."""
    from vectree.apps.classify.classifier import DocumentClassifier

    overrides: dict[str, Any] = {}
    if probes is not None:
        overrides["probes"] = _probe_count(probes)
    if exact:
        overrides["exact"] = True
    if n_neighbors is not None:
        overrides["n_neighbors"] = n_neighbors
    clf = DocumentClassifier.open(collection, **overrides)
    fields = [f.strip() for f in text_field.split(",")]
    with open(output, "w") if output else contextlib.nullcontext(sys.stdout) as out:
        for records in read_records(input):
            proba = clf.predict_proba([_text(r, fields, input) for r in records])
            for r, p in zip(records, proba):
                i = int(p.argmax())
                label = clf.classes_[i]
                row = {"label": label.item() if hasattr(label, "item") else label, "probability": round(float(p[i]), 4)}
                if id_field:
                    row = {id_field: r.get(id_field), **row}
                out.write(json.dumps(row, default=str) + "\n")
    if output:
        console.print(f"wrote predictions to {output}")


def _probe_count(text: str) -> int:
    """One ``--probes`` value: a positive integer (exact search is ``--exact``)."""
    p = text.strip()
    if p == "exact":
        raise InvalidInputError("--probes takes buckets to visit, not 'exact': for exact search pass --exact")
    if not (p.isdigit() and int(p) > 0):
        raise InvalidInputError(f"--probes takes positive integers, comma-separated; got {p!r}")
    return int(p)


@app.command()
@reports_errors
def evaluate(
    train: Path = typer.Option(..., "--train", help="Labelled training file."),
    test: Path = typer.Option(..., "--test", help="Labelled test file."),
    embedder: str = typer.Option("minilm", help=f"One of {', '.join(EMBEDDERS)}."),
    text_field: str = TextField,
    label_field: str = LabelField,
    collection: str = typer.Option(None, "--collection", "-c", help="Collection URL (default: a temporary directory)."),
    n_neighbors: int = typer.Option(20, help="Neighbours that vote (the classifier's default)."),
    probes: str = typer.Option("1,3,5,10,20", help="Probe settings to compare, comma-separated."),
    exact: bool = typer.Option(True, "--exact/--no-exact", help="Also score exact search (every bucket scanned)."),
    bucket_size: int = typer.Option(None, help="Rows per bucket (default: about 160 KiB of vectors, at least 80)."),
    json_out: Path = typer.Option(None, "--json", help="Also write the rows as JSON here."),
) -> None:
    """Fit on --train, then print accuracy, macro-F1 and ms per document (embedding, search) for each probes setting."""
    from vectree.apps.classify.evaluate import embed_timed, evaluate_probes

    settings: list[int | str] = [_probe_count(p) for p in probes.split(",")] + ([EXACT] if exact else [])
    with tempfile.TemporaryDirectory(prefix="vectree-classify-") as tmp:
        url = collection or str(Path(tmp) / "collection")
        t0 = time.perf_counter()
        clf = _fit(train, url, embedder, text_field, label_field, n_neighbors, 10, bucket_size, 0, 200, 5)
        fit_s = time.perf_counter() - t0
        texts, labels = [], []
        for t, y in read_texts(test, text_field, label_field):
            texts += t
            labels += y
        vectors, embed_s = embed_timed(clf, texts)
        rows = evaluate_probes(clf, vectors, labels, settings, embed_s=embed_s, texts=texts)
    table = Table(
        title=f"{clf.embedder_.name}, k={n_neighbors}: {len(clf.collection_)} train, {len(labels)} test documents, "
        f"{rows[0].buckets} buckets (fit {fit_s:.1f}s)"
    )
    for col in ("probes", "accuracy", "macro-F1", "embed ms/doc", "search ms/doc", "total ms/doc"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            r.probes,
            f"{100 * r.accuracy:.2f}%",
            f"{100 * r.macro_f1:.2f}%",
            f"{r.embed_ms_per_doc:.2f}",
            f"{r.search_ms_per_doc:.3f}",
            f"{r.total_ms_per_doc:.2f}",
        )
    console.print(table)
    if json_out:
        json_out.write_text(
            json.dumps(
                {
                    "embedder": clf.embedder_.name,
                    "n_neighbors": n_neighbors,
                    "fit_s": fit_s,
                    "rows": [r.to_dict() for r in rows],
                },
                indent=1,
            )
        )
