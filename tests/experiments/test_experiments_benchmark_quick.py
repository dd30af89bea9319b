"""The experiments benchmark runs end to end in its quick mode and writes JSON, markdown and PNG."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_quick_benchmark_writes_results(tmp_path):
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "experiments.py"), "--quick", "--out", str(tmp_path)],
                   check=True, capture_output=True, text=True, timeout=300)
    result = json.loads((tmp_path / "experiments-quick.json").read_text())
    assert result["benchmark"] == "experiments" and result["rows"]
    for row in result["rows"]:
        assert {"system", "setting", "dataset", "metrics"} <= set(row)
    peek = [r for r in result["rows"] if "looks" in r["setting"]]
    assert peek[-1]["metrics"]["naive_false_positive_rate"] > peek[-1]["metrics"]["msprt_false_positive_rate"]
    assert (tmp_path / "experiments-quick.md").read_text().startswith("# experiments-quick")
