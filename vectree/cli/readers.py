"""Streaming readers for ``vectree add``: .npy, .parquet, .jsonl, .csv, in batches (files larger than RAM work).

Every malformed input is an :class:`InvalidInputError` of one line naming the file, the line (JSONL,
CSV; the header is line 1) or row (Parquet, .npy; 0-based) and the problem.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from vectree.errors import InvalidInputError

Batch = dict[str, Any]


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def _vector(v: Any, where: str) -> list[float]:
    """One record's vector: a list of numbers, or a string of them ("[1, 2]" or "1 2")."""
    shown = repr(v) if len(repr(v)) <= 40 else repr(v)[:37] + "..."
    if isinstance(v, str):
        text = v.strip()
        try:
            v = json.loads(text) if text.startswith("[") else [float(x) for x in text.replace(",", " ").split()]
        except ValueError:
            raise InvalidInputError(f"{where}: the vector {shown} is not a list of numbers") from None
    if v is None:
        raise InvalidInputError(f"{where}: the record has no vector")
    if isinstance(v, np.ndarray):
        v = v.tolist()
    if not isinstance(v, (list, tuple)):
        raise InvalidInputError(f"{where}: the vector is a {type(v).__name__} ({shown}), not a list of numbers")
    if not v:
        raise InvalidInputError(f"{where}: the vector is empty")
    for j, x in enumerate(v):
        if not _is_number(x):
            raise InvalidInputError(f"{where}: element {j} of the vector is {x!r:.40}, not a number")
    return list(v)


def _vectors_from(values: list[Any], where: list[str]) -> np.ndarray:
    out = [_vector(v, w) for v, w in zip(values, where)]
    width = len(out[0])
    for v, w in zip(out, where):
        if len(v) != width:
            raise InvalidInputError(f"{w}: the vector has {len(v)} values, the first of its batch has {width}")
    return np.asarray(out, dtype=np.float32)


def _from_records(records: list[Any], where: list[str], fields: dict[str, str | None]) -> Batch:
    vf, idf, lf, mf = fields["vector"], fields["id"], fields["label"], fields["metadata"]
    for r, w in zip(records, where):
        if not isinstance(r, dict):
            raise InvalidInputError(f"{w}: expected a record (a JSON object), got a {type(r).__name__}: {r!r:.40}")
        if vf not in r:
            raise InvalidInputError(f"{w}: the record has no vector field {vf!r} (its fields: {sorted(r)[:8]})")
    batch: Batch = {"vectors": _vectors_from([r[vf] for r in records], where)}
    has_id = [bool(idf) and idf in r and r[idf] is not None for r in records]
    if any(has_id) and not all(has_id):
        w = where[has_id.index(False)]
        raise InvalidInputError(f"{w}: the record has no {idf!r} field, but others have one: give every record an id")
    batch["ids"] = [r[idf] for r in records] if all(has_id) else None
    batch["labels"] = [r.get(lf) for r in records] if lf else None
    if mf == "*":
        skip = {vf, idf, lf}
        batch["metadata"] = [{k: v for k, v in r.items() if k not in skip} for r in records]
    elif mf:
        batch["metadata"] = [{k: r.get(k) for k in mf.split(",")} for r in records]
    return batch


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


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

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "v.jsonl")
    >>> _ = open(p, "w").write('{"id": 1, "vector": [1, 2]}\\n{"id": 2, "vector": "abc"}\\n')
    >>> list(read_batches(p))
    Traceback (most recent call last):
    ...
    vectree.errors.InvalidInputError: ...v.jsonl:2: the vector 'abc' is not a list of numbers
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"input file {path} does not exist")
    suffix = "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix
    fields = {"vector": vector_field, "id": id_field, "label": label_field, "metadata": metadata_fields}
    if suffix == ".npy":
        yield from _read_npy(path, batch_size)
    elif suffix == ".parquet":
        yield from _read_parquet(path, batch_size, fields)
    elif suffix in (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz"):
        yield from _read_jsonl(path, batch_size, fields, suffix.endswith(".gz"))
    elif suffix == ".csv":
        yield from _read_csv(path, fields)
    else:
        raise InvalidInputError(f"unsupported input format {suffix!r} for {path}: use .npy, .parquet, .jsonl or .csv")


def _read_npy(path: Path, batch_size: int) -> Iterator[Batch]:
    """Batches of a .npy file read with explicit reads at their offsets, never memory-mapped: the pages of a
    mapping that a pass has touched count in the process's resident set (a 10M x 96 file: 3.7 GB)."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = header(f)
            offset = f.tell()
    except (ValueError, OSError, EOFError) as exc:
        raise InvalidInputError(f"{path}: not a valid .npy file: {_first_line(exc)}") from exc
    if len(shape) != 2 or dtype.kind not in "iuf":
        raise InvalidInputError(f"{path}: expected a 2-d array of numbers, got {dtype} of shape {shape}")
    if fortran:
        raise InvalidInputError(f"{path}: a Fortran-order array cannot be read in row batches; save it C-ordered")
    n, dim = shape
    if path.stat().st_size < offset + n * dim * dtype.itemsize:
        raise InvalidInputError(f"{path}: not a valid .npy file: shorter than its header's shape {shape}")
    with open(path, "rb") as f:
        f.seek(offset)
        for start in range(0, n, batch_size):
            count = min(batch_size, n - start) * dim
            yield {"vectors": np.fromfile(f, dtype=dtype, count=count).reshape(-1, dim).astype(np.float32)}


def _read_parquet(path: Path, batch_size: int, fields: dict[str, str | None]) -> Iterator[Batch]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    row = 0
    try:
        batches = pq.ParquetFile(path).iter_batches(batch_size=batch_size)
        for rb in batches:
            records = rb.to_pylist()
            yield _from_records(records, [f"{path}: row {row + i}" for i in range(len(records))], fields)
            row += len(records)
    except (pa.ArrowException, OSError) as exc:
        raise InvalidInputError(f"{path}: not a readable Parquet file (after {row} rows): {_first_line(exc)}") from exc


def _read_jsonl(path: Path, batch_size: int, fields: dict[str, str | None], gz: bool) -> Iterator[Batch]:
    import gzip

    records: list[Any] = []
    where: list[str] = []
    n = 0
    try:
        with gzip.open(path, "rb") if gz else open(path, "rb") as f:
            for n, raw in enumerate(f, 1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise InvalidInputError(
                        f"{path}:{n}: not UTF-8 text (byte {raw[exc.start]:#04x} at column "
                        f"{exc.start + 1}); save the file as UTF-8"
                    ) from None
                if not line.strip():
                    continue
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise InvalidInputError(f"{path}:{n}: not valid JSON: {exc}") from None
                where.append(f"{path}:{n}")
                if len(records) >= batch_size:
                    yield _from_records(records, where, fields)
                    records, where = [], []
    except (OSError, EOFError) as exc:  # gzip: not a gzip file, or cut short
        raise InvalidInputError(
            f"{path}:{n + 1}: cannot be read as {'gzip' if gz else 'text'}: {_first_line(exc)}"
        ) from exc
    if records:
        yield _from_records(records, where, fields)


def _read_csv(path: Path, fields: dict[str, str | None]) -> Iterator[Batch]:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    if path.stat().st_size == 0:
        raise InvalidInputError(f"{path}: the file is empty (expected a header line and rows)")
    # ids and labels are read as text (so "2506.22807" stays an id, not a float), then as ints if all are
    text = {f: pa.string() for f in (fields["id"], fields["label"]) if f}
    line = 2  # the first data line (line 1 is the header)
    try:
        reader = pcsv.open_csv(
            path,
            read_options=pcsv.ReadOptions(block_size=1 << 24, use_threads=False),
            convert_options=pcsv.ConvertOptions(column_types=text),
        )
        for rb in reader:
            records = rb.to_pylist()
            batch = _from_records(records, [f"{path}:{line + i}" for i in range(len(records))], fields)
            line += len(records)
            for key in ("ids", "labels"):
                if batch.get(key) is not None and all(
                    isinstance(v, str) and v.lstrip("-").isdigit() for v in batch[key]
                ):
                    batch[key] = [int(v) for v in batch[key]]
            yield batch
    except pa.ArrowException as exc:
        message = _first_line(exc).replace("CSV parse error: ", "")
        if message.startswith("Row #"):
            number, _, rest = message[len("Row #") :].partition(": ")
            raise InvalidInputError(f"{path}:{number}: {rest}") from exc
        raise InvalidInputError(f"{path}: {message}") from exc


def read_queries(path: str | Path, vector_field: str = "vector") -> np.ndarray:
    """All query vectors of a (small) file."""
    parts = [b["vectors"] for b in read_batches(path, vector_field=vector_field, id_field=None)]
    return np.concatenate(parts) if parts else np.empty((0, 0), np.float32)
