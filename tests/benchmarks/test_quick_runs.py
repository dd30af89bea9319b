"""The benchmarks' ``--quick`` runs of one shape: run the script, read its results, check what they say.

Each case is the script, its extra arguments, whether it reads ``../shared/data``, and the checks of its
own results (``body``: the JSON; ``out``: the folder with its .md and .png).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.benchmarks.runs import is_png, run_quick


def filters(body: dict, out: Path) -> None:
    """vectree, lancedb and faiss filtered search, summarised at recall 0.95."""
    assert body["machine"]["threads"] == 1
    assert {r["system"] for r in body["rows"]} == {"vectree", "lancedb", "faiss-ivf-flat+IDSelector"}
    assert len(body["summary"]) == 4
    for name, entry in body["summary"].items():
        assert 0 < entry["selectivity"] < 1
        assert entry["vectree"]["setting"] is not None, name  # vectree reaches recall 0.95 on every filter
        assert entry["vectree"]["recall_at_10"] >= 0.95
    assert "| filter | selectivity |" in (out / "filters-quick.md").read_text()


def hybrid(body: dict, out: Path) -> None:
    """The BM25 libraries compared, and search_text in every mode."""
    assert body["info"]["queries"] == 100 and body["info"]["stored_embedder_matches"]
    by = {(r["system"], r["setting"]): r["metrics"] for r in body["rows"]}
    assert {s for s, _ in by} == {"bm25s", "tantivy", "vectree search_text"}
    for m in by.values():
        assert 0.0 <= m["mrr_at_10"] <= m["recall_at_10"] <= 1.0 and m["qps"] > 0
    keyword = by[("vectree search_text", "keyword")]
    tantivy = next(m for (s, _), m in by.items() if s == "tantivy")
    assert abs(keyword["mrr_at_10"] - tantivy["mrr_at_10"]) <= 0.01  # the same tantivy index (ties may differ)
    assert keyword["mrr_at_10"] > 0.8  # titles find their abstracts by keyword on real data
    fused = by[("vectree search_text", "hybrid fusion=rrf probes=32")]
    assert fused["recall_at_10"] >= keyword["recall_at_10"] - 0.02
    assert "## BM25 libraries" in (out / "hybrid-quick.md").read_text()


def lifecycle(body: dict, out: Path) -> None:
    """Storage growth under each compaction policy."""
    assert body["command"] == "python benchmarks/lifecycle.py --quick"
    rows = {r["setting"]: r["metrics"] for r in body["rows"]}
    assert set(rows) == {"none", "compact", "compact+cleanup"}
    for m in rows.values():
        assert m["verify_ok"] and m["last_row_found"] and m["rows"] == m["adds"] == 160
    assert rows["none"]["versions_stored"] == 161  # every add kept a version
    assert rows["compact+cleanup"]["versions_stored"] == 1
    assert rows["compact+cleanup"]["objects"] < rows["compact"]["objects"] <= rows["none"]["objects"] * 1.1
    assert rows["compact+cleanup"]["bytes"] < rows["compact"]["bytes"] < rows["none"]["bytes"]
    assert "| compact+cleanup |" in (out / "lifecycle-quick.md").read_text()
    assert is_png(out / "lifecycle-quick.png")


def objectstore(body: dict, out: Path) -> None:
    """vectree and lancedb on SeaweedFS behind the delaying proxy: vectree's cold query is two round trips."""
    assert {(r["system"], r["storage"]) for r in body["rows"]} == {
        (s, st) for s in ("vectree", "lancedb") for st in ("local", "s3+0ms", "s3+20ms")
    }
    for r in body["rows"]:
        assert 0 < r["metrics"]["recall_at_10"] <= 1 and r["metrics"]["cold_p50_ms"] > 0
    s3 = [r["metrics"] for r in body["rows"] if r["system"] == "vectree" and r["storage"] != "local"]
    assert all(m["cold_round_trips_own_counter"] == 2 and m["warm_requests_per_query"] == 0 for m in s3)
    assert all(m["cold_retries"] == 0 and m["pooled_cold_p50_ms"] > 0 for m in s3)  # fresh connections, no failures
    by_delay = {e["delay_ms"]: e for e in body["at_recall_0_95"]}
    assert set(by_delay) == {0, 20}
    assert by_delay[20]["round_trips_vectree"] == 2  # the proxy's own count agrees, once requests take 20 ms
    assert by_delay[20]["round_trips_lancedb"] > 2
    assert "## At recall 0.95" in (out / "objectstore-quick.md").read_text()
    assert is_png(out / "objectstore-quick.png")


def service(body: dict, out: Path) -> None:
    """A real collection served and loaded (Chroma lives in a virtualenv of its own, not in the test extra)."""
    vectree_rows = [r for r in body["rows"] if r["system"] == "vectree"]
    assert [r["metrics"]["clients"] for r in vectree_rows] == [1, 8]
    for r in body["rows"]:
        m = r["metrics"]
        assert m["errors"] == 0, m["error_examples"]
        assert m["searches"] > 0 and m["throughput_ops_s"] > 0 and m["search_p99_ms"] >= m["search_p50_ms"] > 0
        assert 0.0 < m["recall_at_10"] <= 1.0 and all(x > 0 for x in m["rss_mb_per_worker"])
    assert body["notes"] and (out / "service-quick.md").read_text().startswith("# service-quick")
    assert (out / "service-quick.png").stat().st_size > 10_000


CASES: list[tuple[str, tuple[str, ...], bool, Callable[[dict, Path], None]]] = [
    ("filters", (), True, filters),
    ("hybrid", (), True, hybrid),
    ("lifecycle", (), False, lifecycle),
    ("objectstore", (), False, objectstore),
    ("service", ("--no-chroma",), True, service),
]


@pytest.mark.parametrize(("script", "extra", "reads_shared", "check"), CASES, ids=[c[0] for c in CASES])
def test_quick_run_writes_results_that_say_what_it_measured(
    script: str,
    extra: tuple[str, ...],
    reads_shared: bool,
    check: Callable[[dict, Path], None],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    env = {"VECTREE_SHARED_DATA": str(request.getfixturevalue("shared_data"))} if reads_shared else {}
    check(run_quick(script, tmp_path, *extra, env=env, timeout=900), tmp_path)
