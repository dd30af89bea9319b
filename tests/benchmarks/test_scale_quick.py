"""The scale benchmarks' --quick runs (20k clustered rows) work end to end and write results in the documented shape."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


def _run(script: str, tmp_path: Path, *extra: str) -> None:
    env = {**os.environ, "VECTREE_BENCH_CACHE": str(tmp_path / "cache"), "VECTREE_SCALE_WORK": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, f"benchmarks/{script}", "--quick", "--out", str(tmp_path / "out"), *extra],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_the_generator_is_clustered_nested_and_its_truth_exact(tmp_path, monkeypatch):
    monkeypatch.setenv("VECTREE_BENCH_CACHE", str(tmp_path))
    sys.path.insert(0, str(REPO))
    from benchmarks import datasets

    a = datasets.synth_rows(0, 3000)
    np.testing.assert_array_equal(datasets.synth_rows(1000, 2000), a[1000:2000])  # the same rows whatever the n
    q = datasets.synth_queries()[:20]
    path = tmp_path / "a.npy"
    np.save(path, a)
    ids, d = datasets.exact_knn_chunked(path, q, k=10, chunk=700)
    brute = ((q[:, None, :] - a[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(ids[:, 0], brute.argmin(1))
    np.testing.assert_allclose(d[:, 0], brute.min(1), rtol=1e-3)
    # clustered, not uniform: a query's nearest row is far closer than a typical row
    assert np.median(np.sqrt(brute.min(1))) < 0.2 * np.median(np.sqrt(brute))


def test_scale_quick_writes_every_system_and_the_disk_regime(tmp_path):
    pytest.importorskip("faiss")
    pytest.importorskip("lancedb")
    _run("scale.py", tmp_path)
    body = json.loads((tmp_path / "out" / "scale-peers.json").read_text())
    assert body["benchmark"] == "scale-peers" and {"cpus", "threads"} <= set(body["machine"])
    systems = {(r["system"], r["regime"]) for r in body["rows"]}
    assert {
        ("vectree[kmeans]", "memory"),
        ("faiss-ivf-flat", "memory"),
        ("vectree[kmeans]", "disk"),
        ("faiss-ivf-ondisk", "disk"),
    } <= systems
    v = next(s for s in body["summary"] if s["system"] == "vectree[kmeans]")
    assert v["max_recall"] >= 0.95 and v["buckets"] > 20 and v["build_peak_rss_mb"] > 0 and "disk_ms_single_p50_95" in v
    assert (tmp_path / "out" / "scale-peers.md").read_text().startswith("# scale-peers")
    assert (tmp_path / "out" / "scale-peers.png").stat().st_size > 1000


def test_ingest_quick_keeps_the_tail_bounded_and_never_rebuilds(tmp_path):
    _run("scale_ingest.py", tmp_path)
    body = json.loads((tmp_path / "out" / "scale-ingest.json").read_text())
    g = body["goals"]
    assert g["rebuilds"] == 0 and g["tail_rows_max"] <= g["tail_bound_rows"]
    phases = {r["phase"]: r["metrics"] for r in body["rows"]}
    assert phases["quiet after"]["rows_visible_min"] == body["base_rows"] + body["added_rows"]
    assert phases["while ingesting"]["recall_at_10"] > 0.8


def test_ray_quick_builds_the_local_index(tmp_path):
    pytest.importorskip("ray")
    _run("scale_ray.py", tmp_path)
    body = json.loads((tmp_path / "out" / "scale-ray.json").read_text())
    ray_rows = [r for r in body["rows"] if r["system"] == "vectree.distributed"]
    assert len(ray_rows) == 2 and all(r["metrics"]["index_equals_local"] for r in ray_rows)
