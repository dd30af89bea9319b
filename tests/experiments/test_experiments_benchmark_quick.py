"""The experiments benchmark runs end to end in its quick mode and writes JSON, markdown and PNG."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_quick_benchmark_writes_results(tmp_path):
    subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "experiments.py"), "--quick", "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    result = json.loads((tmp_path / "experiments-quick.json").read_text())
    assert result["benchmark"] == "experiments" and result["rows"]
    for row in result["rows"]:
        assert {"system", "setting", "dataset", "metrics"} <= set(row)
    rows = {r["setting"]: r["metrics"] for r in result["rows"]}
    peek = [m for s, m in rows.items() if re.match(r"\d+ looks, ", s)]
    assert len(peek) == 4
    assert peek[-1]["naive_false_positive_rate"] > peek[-1]["msprt_false_positive_rate"]
    cuped = [m for s, m in rows.items() if s.startswith("CUPED")]
    assert [m["rho"] for m in cuped] == [0.3, 0.5, 0.7]
    for m in cuped:
        assert m["measured_variance_ratio"] == pytest.approx(m["theoretical_variance_ratio"], abs=0.03)
        assert m["n_per_arm"] < m["n_per_arm_without_cuped"]
    bh = next(m for s, m in rows.items() if "Benjamini-Hochberg" in s)
    holm = next(m for s, m in rows.items() if "Holm" in s)
    assert bh["power"] > holm["power"]
    assert any(s.startswith("chance to win") for s in rows) and any(s.startswith("sequential hybrid") for s in rows)
    assert next(m for s, m in rows.items() if "loses 25%" in s)["detection_rate"] == 1.0
    # MovieLens comes from a registry wheel: either the A/B ran end to end or the result says why not
    assert any(s.startswith("funnel backtest") for s in rows) or "movielens_skipped" in result
    assert (tmp_path / "experiments-quick.md").read_text().startswith("# experiments-quick")
    assert (tmp_path / "experiments-quick.png").read_bytes()[:4] == b"\x89PNG"
