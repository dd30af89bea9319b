"""The scale benchmarks' --quick runs (20k clustered rows) work end to end and write results in the documented shape."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from tests.benchmarks.runs import REPO, run_quick


def _run(script: str, tmp_path: Path, name: str) -> dict:
    env = {"VECTREE_BENCH_CACHE": str(tmp_path / "cache"), "VECTREE_SCALE_WORK": str(tmp_path)}
    return run_quick(script, tmp_path / "out", env=env, name=name)


def test_the_generator_is_clustered_nested_and_its_truth_exact(tmp_path, monkeypatch):
    monkeypatch.setenv("VECTREE_BENCH_CACHE", str(tmp_path))
    sys.path.insert(0, str(REPO))  # benchmarks/ is not a package of the library
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
    body = _run("scale", tmp_path, "scale-peers")
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
    body = _run("scale_ingest", tmp_path, "scale-ingest")
    g = body["goals"]
    assert g["rebuilds"] == 0 and g["tail_rows_max"] <= g["tail_bound_rows"]
    phases = {r["phase"]: r["metrics"] for r in body["rows"]}
    assert phases["quiet after"]["rows_visible_min"] == body["base_rows"] + body["added_rows"]
    assert phases["while ingesting"]["recall_at_10"] > 0.8
    slow = body["slow_queries"]  # every slow busy query is placed once, against the moves the reader made
    assert slow["busy_queries"] == phases["while ingesting"]["queries"]
    assert slow["slow"] == slow["during_prepare"] + slow["after_move"] + slow["other"]
    assert 0 < slow["prepare_share_of_busy_time"] < 1


def test_ray_quick_builds_the_local_index(tmp_path):
    pytest.importorskip("ray")
    body = _run("scale_ray", tmp_path, "scale-ray")
    ray_rows = [r for r in body["rows"] if r["system"] == "vectree.distributed"]
    assert len(ray_rows) == 2 and all(r["metrics"]["index_equals_local"] for r in ray_rows)
