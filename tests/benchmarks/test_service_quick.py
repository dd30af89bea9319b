"""`python benchmarks/service.py --quick` serves a real collection, loads it, and writes results in the documented shape."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_service_quick_writes_json_md_png(tmp_path: Path, shared_data: Path) -> None:
    env = {**os.environ, "VECTREE_SHARED_DATA": str(shared_data), "PYTHONPATH": str(REPO)}
    # --no-chroma: Chroma lives in a virtualenv of its own (benchmarks/service.py --chroma-bin), not in the test extra
    proc = subprocess.run(
        [sys.executable, "benchmarks/service.py", "--quick", "--no-chroma", "--out", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-2000:]
    body = json.loads((tmp_path / "service-quick.json").read_text())
    assert body["benchmark"] == "service-quick" and body["command"].startswith("python benchmarks/service.py --quick")
    assert {"cpus", "python", "numpy", "threads", "load_average_at_start"} <= set(body["machine"])
    vectree_rows = [r for r in body["rows"] if r["system"] == "vectree"]
    assert [r["metrics"]["clients"] for r in vectree_rows] == [1, 8]
    for r in body["rows"]:
        m = r["metrics"]
        assert m["errors"] == 0, m["error_examples"]
        assert m["searches"] > 0 and m["throughput_ops_s"] > 0 and m["search_p99_ms"] >= m["search_p50_ms"] > 0
        assert 0.0 < m["recall_at_10"] <= 1.0 and all(x > 0 for x in m["rss_mb_per_worker"])
    assert body["notes"] and (tmp_path / "service-quick.md").read_text().startswith("# service-quick")
    assert (tmp_path / "service-quick.png").stat().st_size > 10_000
