"""`python benchmarks/filters.py --quick` runs vectree, lancedb and faiss filtered search and summarises them at recall 0.95."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_filters_quick_writes_json_md(tmp_path: Path, shared_data: Path) -> None:
    env = {**os.environ, "VECTREE_SHARED_DATA": str(shared_data), "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "benchmarks/filters.py", "--quick", "--out", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    body = json.loads((tmp_path / "filters-quick.json").read_text())
    assert body["benchmark"] == "filters-quick" and body["machine"]["threads"] == 1
    assert {r["system"] for r in body["rows"]} == {"vectree", "lancedb", "faiss-ivf-flat+IDSelector"}
    assert len(body["summary"]) == 4
    for name, entry in body["summary"].items():
        assert 0 < entry["selectivity"] < 1
        assert entry["vectree"]["setting"] is not None, name  # vectree reaches recall 0.95 on every filter
        assert entry["vectree"]["recall_at_10"] >= 0.95
    assert "| filter | selectivity |" in (tmp_path / "filters-quick.md").read_text()
