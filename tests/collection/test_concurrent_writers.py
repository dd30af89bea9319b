"""Two processes adding to one collection: every row lands exactly once, history stays linear."""

import os
import subprocess
import sys
from pathlib import Path

import vectree

REPO = Path(__file__).resolve().parents[2]


def test_two_writers_lose_nothing(tmp_path):
    path = tmp_path / "c"
    vectree.create_collection(path, dim=8)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    script = str(Path(__file__).with_name("concurrent_writer.py"))
    procs = [subprocess.Popen([sys.executable, script, str(path), str(off), "60"], env=env) for off in (0, 1000)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    col = vectree.open_collection(path)
    ids = sorted(i for b in col.iter_batches() for i in b["ids"].tolist())
    assert ids == list(range(60)) + list(range(1000, 1060))
    versions = [v["version"] for v in col.versions()]
    assert versions == list(range(121))
    assert [m["rows"] for m in col.versions()] == list(range(121))
