"""`python benchmarks/recommend.py --quick` runs and writes its results in the shared shape."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_quick_benchmark_writes_json_md_png(tmp_path, movielens_dir):
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "recommend.py"), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rep = json.loads((tmp_path / "recommend-quick.json").read_text())
    assert {"benchmark", "command", "machine", "date", "rows"} <= set(rep)
    systems = {r["system"] for r in rep["rows"]}
    assert {"popularity", "item-knn", "content-profile", "two-tower", "two-tower + re-rank"} <= systems
    assert all({"recall_at_10", "ndcg_at_10", "coverage_at_10"} <= set(r["metrics"]) for r in rep["rows"])
    assert set(rep["latency"]) >= {"retrieval", "rerank", "rules"} and rep["capacity"]
    strat = rep["protocols"]["stratified"]
    assert {r["system"] for r in strat["rows"]} == {"popularity", "item-knn", "EASE", "BPR-MF", "two-tower", "funnel"}
    funnels = [r for r in strat["rows"] if r["system"] == "funnel"]
    assert {"gbdt", "logistic"} <= {"gbdt" if "GBDT" in r["setting"] else "logistic" for r in funnels}
    assert all(r["metrics"]["candidate_recall"]["union"] > 0 for r in funnels)
    assert {"source two_tower", "source ease", "source item_knn", "retrieval", "rerank", "rules"} == set(
        strat["stage_cost_one_user"]
    )
    assert set(strat["source_recall_at_n"]) == {"two_tower", "ease", "item_knn", "union"}
    assert strat["source_recall_at_n"]["union"] >= max(
        v for k, v in strat["source_recall_at_n"].items() if k != "union"
    )
    assert (tmp_path / "recommend-quick.md").is_file() and (tmp_path / "recommend-quick.png").is_file()
    assert (tmp_path / "recommend-protocols-quick.png").is_file()
