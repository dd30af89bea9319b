"""``benchmarks/rerank_sweep.py --quick`` (issue 19): int8 and RaBitQ codes at every ``rerank`` on a slice of
fashion-mnist; a cap of k reads k rows a query, and a long enough list keeps recall."""

from __future__ import annotations

from pathlib import Path

from tests.benchmarks.runs import is_png, run_quick


def test_rerank_sweep_quick_measures_both_codes_at_every_cap(tmp_path: Path, shared_data: Path) -> None:
    env = {"VECTREE_SHARED_DATA": str(shared_data)}
    body = run_quick("rerank_sweep", tmp_path, env=env, timeout=900, name="rerank-sweep-quick")
    by = {(r["system"], r["setting"].split(",rerank=")[1]): r["metrics"] for r in body["rows"]}
    assert {s for s, _ in by} == {"vectree[kmeans+int8]", "vectree[kmeans+rabitq]"}
    for system in ("vectree[kmeans+int8]", "vectree[kmeans+rabitq]"):
        assert by[(system, "10")]["rows_reranked"] <= 10
        assert by[(system, "160")]["recall_at_10"] >= 0.9, by[(system, "160")]
    assert by[("vectree[kmeans+int8]", "None")]["recall_at_10"] >= 0.95  # the probes were chosen for it
    assert is_png(tmp_path / "rerank-sweep-quick.png")
