"""Malformed inputs to the command line (issue 14, item 5): each is one line on stderr naming the file,
the line or row and the problem, exit code 2, no traceback, and the collection is unchanged."""

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import vectree
from vectree.cli.main import app

REPO = Path(__file__).resolve().parents[2]
GOOD = '{"id": 1, "vector": [1, 2, 3]}\n'


def _parquet(path, rows):
    pq.write_table(pa.table(rows), path)
    return path


def _truncated_parquet(path):
    _parquet(path, {"id": list(range(200)), "vector": [[1.0, 2.0, 3.0]] * 200})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


CASES = [  # name, file name, content (bytes, str or a function of the path), what the message must say
    ("jsonl scalar line", "a.jsonl", GOOD + "5\n", ["a.jsonl:2", "expected a record", "int"]),
    (
        "jsonl vector 'abc'",
        "a.jsonl",
        GOOD + '{"id": 2, "vector": "abc"}\n',
        ["a.jsonl:2", "'abc' is not a list of numbers"],
    ),
    (
        "jsonl vector '[1, 2, 3'",
        "a.jsonl",
        GOOD + '{"id": 2, "vector": "[1, 2, 3"}\n',
        ["a.jsonl:2", "[1, 2, 3", "not a list of numbers"],
    ),
    ("jsonl dict vector", "a.jsonl", GOOD + '{"id": 2, "vector": {"x": 1}}\n', ["a.jsonl:2", "is a dict"]),
    (
        "jsonl text in a vector",
        "a.jsonl",
        GOOD + '{"id": 2, "vector": [1, "b", 3]}\n',
        ["a.jsonl:2", "element 1", "not a number"],
    ),
    ("jsonl record without id", "a.jsonl", GOOD + '{"vector": [1, 2, 3]}\n', ["a.jsonl:2", "no 'id' field"]),
    ("jsonl ragged vectors", "a.jsonl", GOOD + '{"id": 2, "vector": [1, 2]}\n', ["a.jsonl:2", "2 values"]),
    ("jsonl invalid JSON", "a.jsonl", GOOD + '{"id": 2,\n', ["a.jsonl:2", "not valid JSON"]),
    (
        "jsonl latin-1 bytes",
        "a.jsonl",
        GOOD.encode() + '{"id": 2, "vector": [1, 2, 3], "t": "caf\u00e9"}\n'.encode("latin-1"),
        ["a.jsonl:2", "not UTF-8"],
    ),
    ("fake .gz", "a.jsonl.gz", GOOD, ["a.jsonl.gz:1", "gzip"]),
    (
        "truncated .gz",
        "a.jsonl.gz",
        lambda p: p.write_bytes(
            gzip.compress("".join(json.dumps({"id": i, "vector": [i, 2.5, 3]}) + "\n" for i in range(5000)).encode())[
                :3000
            ]
        ),
        ["a.jsonl.gz", "gzip"],
    ),
    ("csv extra columns", "a.csv", 'id,vector\n1,"1 2 3"\n2,"1 2 3",9\n', ["a.csv:3", "Expected 2 columns, got 3"]),
    ("csv non-numeric vector", "a.csv", 'id,vector\n1,"1 2 3"\n2,"1 x 3"\n', ["a.csv:3", "not a list of numbers"]),
    ("csv empty file", "a.csv", "", ["a.csv", "empty"]),
    ("csv no vector column", "a.csv", "id,v\n1,2\n", ["a.csv:2", "no vector field 'vector'"]),
    ("garbage parquet", "a.parquet", b"not a parquet file at all", ["a.parquet", "not a readable Parquet file"]),
    ("truncated parquet", "a.parquet", _truncated_parquet, ["a.parquet", "not a readable Parquet file"]),
    (
        "parquet text vector",
        "a.parquet",
        lambda p: _parquet(p, {"id": [1, 2], "vector": ["1 2 3", "a b"]}),
        ["a.parquet: row 1", "not a list of numbers"],
    ),
    ("garbage npy", "a.npy", b"\x93NUMPY garbage", ["a.npy", "not a valid .npy file"]),
]


@pytest.fixture()
def url(tmp_path):
    vectree.create_collection(tmp_path / "c", dim=3).add(np.ones((1, 3), np.float32), ids=[100])
    return str(tmp_path / "c")


def _one_line_error(result, expect):
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for part in expect:
        assert part in lines[0], (part, lines[0])


@pytest.mark.parametrize("name,filename,content,expect", CASES, ids=[c[0] for c in CASES])
def test_a_malformed_input_is_one_line_naming_file_line_and_problem(tmp_path, url, name, filename, content, expect):
    path = tmp_path / filename
    if callable(content):
        content(path)
    else:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = sorted(os.listdir(os.path.join(url, "segments")))
    result = CliRunner().invoke(app, ["add", url, str(path)])
    _one_line_error(result, expect)
    col = vectree.open_collection(url)
    assert col.version == 1 and len(col) == 1
    assert col.verify().ok
    assert sorted(os.listdir(os.path.join(url, "segments"))) == before  # nothing left of the failed add


def test_a_batch_the_collection_refuses_names_the_file_and_records(tmp_path, url):
    path = tmp_path / "a.jsonl"
    path.write_text(GOOD + '{"id": 100, "vector": [1, 2, 3]}\n')
    _one_line_error(
        CliRunner().invoke(app, ["add", url, str(path)]), ["a.jsonl: records 0-1", "already stored", "[100]"]
    )
    path.write_text('{"id": 1, "vector": [1, 2]}\n')
    _one_line_error(CliRunner().invoke(app, ["add", url, str(path)]), ["a.jsonl: records 0-0", "dimension 2"])


def test_search_with_a_huge_k_and_an_output_in_a_missing_directory(tmp_path, url):
    q = tmp_path / "q.npy"
    np.save(q, np.ones((1, 3), np.float32))
    result = CliRunner().invoke(app, ["search", url, str(q), "--k", "100000000"])
    assert result.exit_code == 0 and "100" in result.output
    out = tmp_path / "missing" / "r.jsonl"
    _one_line_error(
        CliRunner().invoke(app, ["search", url, str(q), "--output", str(out)]),
        ["--output", "missing", "does not exist"],
    )
    result = CliRunner().invoke(app, ["search", url, str(q), "--k", "100000000", "--output", str(tmp_path / "r.jsonl")])
    assert result.exit_code == 0
    assert json.loads((tmp_path / "r.jsonl").read_text())["ids"] == [100]


def test_a_real_process_prints_no_traceback(tmp_path, url):
    bad = tmp_path / "a.jsonl"
    bad.write_text(GOOD + '{"id": 2, "vector": "[1, 2, 3"}\n')
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "40"}  # a narrow terminal must not wrap it
    proc = subprocess.run(
        [sys.executable, "-m", "vectree", "add", url, str(bad)], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert f"{bad}:2" in proc.stderr
