"""`python benchmarks/images.py --quick` runs on fashion-mnist and writes its results and pictures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_quick_images_benchmark_writes_results_and_pictures(tmp_path, shared_data):
    env = dict(os.environ, VECTREE_SHARED_DATA=str(shared_data))
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "images.py"), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rep = json.loads((tmp_path / "images-quick.json").read_text())
    systems = {r["system"] for r in rep["rows"]}
    assert systems == {"raw pixels", "PCA", "autoencoder", "CNN"}
    assert all(0.5 < r["metrics"]["accuracy"] <= 1 for r in rep["rows"])
    assert {r["metrics"]["dim"] for r in rep["rows"] if r["system"] != "raw pixels"} == {64}
    for png in ("images-quick.png", "images-quick-similar.png", "images-quick-reconstruction.png"):
        assert (tmp_path / png).stat().st_size > 1000
