"""`python benchmarks/hybrid.py --quick` compares the BM25 libraries and runs search_text in every mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_hybrid_quick_writes_json_md(tmp_path: Path, shared_data: Path) -> None:
    env = {**os.environ, "VECTREE_SHARED_DATA": str(shared_data), "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "benchmarks/hybrid.py", "--quick", "--out", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    body = json.loads((tmp_path / "hybrid-quick.json").read_text())
    assert body["benchmark"] == "hybrid-quick" and body["info"]["queries"] == 100
    assert body["info"]["stored_embedder_matches"]
    by = {(r["system"], r["setting"]): r["metrics"] for r in body["rows"]}
    assert {s for s, _ in by} == {"bm25s", "tantivy", "vectree search_text"}
    for m in by.values():
        assert 0.0 <= m["mrr_at_10"] <= m["recall_at_10"] <= 1.0 and m["qps"] > 0
    keyword = by[("vectree search_text", "keyword")]
    tantivy = next(m for (s, _), m in by.items() if s == "tantivy")
    assert (
        abs(keyword["mrr_at_10"] - tantivy["mrr_at_10"]) <= 0.01
    )  # the same tantivy index (ties may order differently)
    assert keyword["mrr_at_10"] > 0.8  # titles find their abstracts by keyword on real data
    hybrid = by[("vectree search_text", "hybrid fusion=rrf probes=32")]
    assert hybrid["recall_at_10"] >= keyword["recall_at_10"] - 0.02
    assert "## BM25 libraries" in (tmp_path / "hybrid-quick.md").read_text()
