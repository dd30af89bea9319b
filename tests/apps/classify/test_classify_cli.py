"""``vectree classify fit|predict|evaluate`` on real files, run as a user runs them (a subprocess each)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[2]


def vt(*args: object) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-m", "vectree", *map(str, args)], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, f"vectree {args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def files(newsgroups, tmp_path_factory):
    d = tmp_path_factory.mktemp("classify")
    train = [{"body": r["text"], "group": r["label"]} for r in newsgroups["train"][:300]]
    with open(d / "train.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in train)
    test = [{"id": i, "body": r["text"], "group": r["label"]} for i, r in enumerate(newsgroups["test"][:40])]
    pq.write_table(pa.Table.from_pylist(test), d / "test.parquet")
    return d


def test_fit_then_predict(files):
    url = files / "col"
    out = vt(
        "classify",
        "fit",
        files / "train.jsonl",
        "-c",
        url,
        "--embedder",
        "static",
        "--text-field",
        "body",
        "--label-field",
        "group",
        "--bucket-size",
        "50",
    )
    assert "fitted 300 documents, 4 classes" in out.stdout
    vt(
        "classify",
        "predict",
        files / "test.parquet",
        "-c",
        url,
        "--text-field",
        "body",
        "--id-field",
        "id",
        "-o",
        files / "pred.jsonl",
    )
    rows = [json.loads(line) for line in (files / "pred.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == list(range(40))
    assert {r["label"] for r in rows} <= {"comp.graphics", "rec.sport.hockey", "sci.space", "talk.religion.misc"}

    # exact search is spelled --exact: to standard output, the same answers as visiting every bucket
    common = ("classify", "predict", files / "test.parquet", "-c", url, "--text-field", "body")
    exact = [json.loads(line) for line in vt(*common, "--exact").stdout.splitlines()]
    every = [json.loads(line) for line in vt(*common, "--probes", "100000").stdout.splitlines()]
    assert len(exact) == 40 and exact == every
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    old = subprocess.run(
        [sys.executable, "-m", "vectree", *map(str, common), "--probes", "exact"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert old.returncode == 2 and "--exact" in old.stderr and len(old.stderr.strip().splitlines()) == 1, old.stderr


def test_evaluate_prints_the_probes_table(files):
    out = vt(
        "classify",
        "evaluate",
        "--train",
        files / "train.jsonl",
        "--test",
        files / "test.parquet",
        "--embedder",
        "static",
        "--text-field",
        "body",
        "--label-field",
        "group",
        "--bucket-size",
        "50",
        "--probes",
        "1,3",
        "--json",
        files / "eval.json",
    )
    for word in ("probes", "accuracy", "macro-F1", "embed ms/doc", "search ms/doc", "exact"):
        assert word in out.stdout
    rows = json.loads((files / "eval.json").read_text())["rows"]
    assert [r["probes"] for r in rows] == ["1", "3", "exact"]
    assert all(0 <= r["accuracy"] <= 1 and r["search_ms_per_doc"] >= 0 for r in rows)
