"""`python benchmarks/lifecycle.py --quick` measures storage growth for each policy and writes results in the documented shape."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_lifecycle_quick_writes_json_md_png(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "benchmarks/lifecycle.py", "--quick", "--out", str(tmp_path)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    body = json.loads((tmp_path / "lifecycle-quick.json").read_text())
    assert body["benchmark"] == "lifecycle-quick" and body["command"] == "python benchmarks/lifecycle.py --quick"
    rows = {r["setting"]: r["metrics"] for r in body["rows"]}
    assert set(rows) == {"none", "compact", "compact+cleanup"}
    for m in rows.values():
        assert m["verify_ok"] and m["last_row_found"] and m["rows"] == m["adds"] == 240
    assert rows["none"]["versions_stored"] == 241  # every add kept a version
    assert rows["compact+cleanup"]["versions_stored"] == 1
    assert rows["compact+cleanup"]["objects"] < rows["compact"]["objects"] <= rows["none"]["objects"] * 1.1
    assert rows["compact+cleanup"]["bytes"] < rows["compact"]["bytes"] < rows["none"]["bytes"]
    assert "| compact+cleanup |" in (tmp_path / "lifecycle-quick.md").read_text()
    assert (tmp_path / "lifecycle-quick.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
