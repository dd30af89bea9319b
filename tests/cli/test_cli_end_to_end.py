"""The command line, run as a user runs it: a real subprocess per command."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[2]


def vt(*args, check=True):
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-m", "vectree", *map(str, args)], capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"vectree {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, arxiv_sample):
    d = tmp_path_factory.mktemp("in")
    x = arxiv_sample["vectors"][:1500]
    ids, cats, titles = arxiv_sample["ids"][:1500], arxiv_sample["categories"][:1500], arxiv_sample["titles"][:1500]
    np.save(d / "vectors.npy", x)
    with open(d / "rows.jsonl", "w") as f:
        for i in range(500):
            f.write(json.dumps({"id": ids[i], "vector": x[i].tolist(), "category": cats[i], "title": titles[i]}) + "\n")
    pq.write_table(
        pa.table({"id": ids[500:1000], "vector": [v.tolist() for v in x[500:1000]], "category": cats[500:1000]}),
        d / "rows.parquet",
    )
    with open(d / "rows.csv", "w") as f:
        f.write("id,vector,category\n")
        for i in range(1000, 1500):
            f.write(f'{ids[i]},"{json.dumps(x[i].tolist())}",{cats[i]}\n')
    np.save(d / "queries.npy", x[:3])
    return d


def test_full_lifecycle_from_every_input_format(tmp_path, inputs, arxiv_sample):
    col = tmp_path / "col"
    vt("create", col, "--dim", 384, "--metric", "cosine", "--bucket-size", 200, "--vector-dtype", "float16")
    vt("add", col, inputs / "rows.jsonl", "--label-field", "category", "--metadata-fields", "title")
    vt("add", col, inputs / "rows.parquet", "--label-field", "category")
    vt("add", col, inputs / "rows.csv", "--label-field", "category", "--batch-size", 100)
    out = vt("build", col).stdout
    assert "1500 rows" in out
    out_file = tmp_path / "res.jsonl"
    vt("search", col, inputs / "queries.npy", "--k", 3, "--probes", 4, "--output", out_file)
    results = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert [r["ids"][0] for r in results] == arxiv_sample["ids"][:3]
    assert [r["labels"][0] for r in results] == arxiv_sample["categories"][:3]
    table = vt("search", col, inputs / "queries.npy", "--k", 2).stdout
    assert arxiv_sample["ids"][0] in table
    vt("delete", col, arxiv_sample["ids"][0])
    vt("compact", col)
    info = vt("info", col).stdout
    assert "1499" in info and "cosine" in info
    versions = vt("versions", col).stdout
    for op in ("create", "add", "build", "delete", "compact"):
        assert op in versions
    assert "all good" in vt("verify", col, "--all-versions").stdout


def test_npy_input_gets_assigned_ids(tmp_path, inputs):
    col = tmp_path / "np"
    vt("create", col, "--dim", 384)
    assert "1500 rows" in vt("add", col, inputs / "vectors.npy", "--batch-size", 400).stdout


def test_errors_are_one_clear_line_and_exit_code_2(tmp_path, inputs):
    col = tmp_path / "e"
    vt("create", col, "--dim", 10)
    proc = vt("add", col, inputs / "vectors.npy", check=False)
    assert proc.returncode == 2 and "dimension 384" in proc.stderr and "Traceback" not in proc.stderr
    proc = vt("add", col, tmp_path / "missing.npy", check=False)
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "vector": [1,2]}\n{oops\n')
    proc = vt("add", col, bad, check=False)
    assert proc.returncode == 2 and "bad.jsonl:2" in proc.stderr
    proc = vt("search", tmp_path / "nowhere", inputs / "queries.npy", check=False)
    assert proc.returncode == 2 and "no collection" in proc.stderr


def test_verify_exits_1_on_damage(tmp_path, inputs):
    col = tmp_path / "v"
    vt("create", col, "--dim", 384, "--bucket-size", 500)
    vt("add", col, inputs / "vectors.npy")
    vt("build", col)
    victim = next((col / "buckets").glob("*.arrow"))
    victim.write_bytes(victim.read_bytes()[:-10])
    proc = vt("verify", col, check=False)
    assert proc.returncode == 1 and victim.stem in proc.stdout.replace("\n", "")
