"""Streaming readers for ``vectree add``: .npy, .parquet, .jsonl, .csv, in batches (files larger than RAM work)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from vectree.errors import InvalidInputError

Batch = dict[str, Any]


def _vectors_from(values: list[Any], path: Path) -> np.ndarray:
    out = []
    for i, v in enumerate(values):
        if isinstance(v, str):
            v = json.loads(v) if v.strip().startswith("[") else [float(x) for x in v.split()]
        if v is None:
            raise InvalidInputError(f"{path}: row {i} of the batch has no vector")
        out.append(v)
    try:
        return np.asarray(out, dtype=np.float32)
    except ValueError as exc:
        raise InvalidInputError(f"{path}: vectors of different lengths or non-numeric values: {exc}") from exc


def _from_records(records: list[dict[str, Any]], path: Path, fields: dict[str, str | None]) -> Batch:
    vf, idf, lf, mf = fields["vector"], fields["id"], fields["label"], fields["metadata"]
    missing = [r for r in records if vf not in r]
    if missing:
        raise InvalidInputError(f"{path}: records without the vector field {vf!r} (fields seen: {sorted(missing[0])})")
    batch: Batch = {"vectors": _vectors_from([r[vf] for r in records], path)}
    batch["ids"] = [r[idf] for r in records] if idf and idf in records[0] else None
    batch["labels"] = [r.get(lf) for r in records] if lf else None
    if mf == "*":
        skip = {vf, idf, lf}
        batch["metadata"] = [{k: v for k, v in r.items() if k not in skip} for r in records]
    elif mf:
        batch["metadata"] = [{k: r.get(k) for k in mf.split(",")} for r in records]
    return batch


def read_batches(
    path: str | Path,
    batch_size: int = 50_000,
    vector_field: str = "vector",
    id_field: str | None = "id",
    label_field: str | None = None,
    metadata_fields: str | None = None,
) -> Iterator[Batch]:
    """Yield ``{"vectors", "ids", "labels", "metadata"}`` batches from a file, never loading it whole.

    ``metadata_fields`` is a comma-separated list of fields to keep per row, or ``*`` for all others.
    A ``.npy`` file holds vectors only (ids are assigned).
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"input file {path} does not exist")
    suffix = "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix
    fields = {"vector": vector_field, "id": id_field, "label": label_field, "metadata": metadata_fields}
    if suffix == ".npy":
        try:
            arr = np.load(path, mmap_mode="r")
        except ValueError as exc:
            raise InvalidInputError(f"{path} is not a valid .npy file: {exc}") from exc
        for start in range(0, len(arr), batch_size):
            yield {"vectors": np.asarray(arr[start : start + batch_size], dtype=np.float32)}
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        for rb in pq.ParquetFile(path).iter_batches(batch_size=batch_size):
            yield _from_records(rb.to_pylist(), path, fields)
    elif suffix in (".jsonl", ".jsonl.gz", ".ndjson"):
        import gzip

        opener = gzip.open if suffix.endswith(".gz") else open
        records: list[dict[str, Any]] = []
        with opener(path, "rt") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise InvalidInputError(f"{path}:{n}: not valid JSON: {exc}") from exc
                if len(records) >= batch_size:
                    yield _from_records(records, path, fields)
                    records = []
        if records:
            yield _from_records(records, path, fields)
    elif suffix == ".csv":
        import pyarrow.csv as pcsv

        # ids and labels are read as text (so "2506.22807" stays an id, not a float), then as ints if all are
        import pyarrow as pa

        text = {f: pa.string() for f in (id_field, label_field) if f}
        reader = pcsv.open_csv(path, read_options=pcsv.ReadOptions(block_size=1 << 24),
                               convert_options=pcsv.ConvertOptions(column_types=text))
        for rb in reader:
            batch = _from_records(rb.to_pylist(), path, fields)
            for key in ("ids", "labels"):
                if batch.get(key) is not None and all(isinstance(v, str) and v.lstrip("-").isdigit() for v in batch[key]):
                    batch[key] = [int(v) for v in batch[key]]
            yield batch
    else:
        raise InvalidInputError(f"unsupported input format {suffix!r} for {path}: use .npy, .parquet, .jsonl or .csv")


def read_queries(path: str | Path, vector_field: str = "vector") -> np.ndarray:
    """All query vectors of a (small) file."""
    parts = [b["vectors"] for b in read_batches(path, vector_field=vector_field, id_field=None)]
    return np.concatenate(parts) if parts else np.empty((0, 0), np.float32)
