"""``benchmarks/coldcodes.py --quick`` (issue 19): on a slice of fashion-mnist on disk, a truly cold query
with codes takes the two-phase read (code spans, then the short list's chunks), fetches fewer bytes than
the same collection without codes, and int8's exact bound keeps the answers of the full-width scan."""

from __future__ import annotations

from pathlib import Path

from tests.benchmarks.runs import is_png, run_quick


def test_coldcodes_quick_reads_codes_first_and_fetches_less(tmp_path: Path, shared_data: Path) -> None:
    env = {"VECTREE_SHARED_DATA": str(shared_data)}
    body = run_quick("coldcodes", tmp_path, env=env, timeout=600, name="coldcodes-fashion-mnist-quick")
    by = {r["system"]: r["metrics"] for r in body["rows"]}
    assert set(by) == {"vectree[kmeans]", "vectree[kmeans+int8]", "vectree[kmeans+rabitq]"}
    plain = by["vectree[kmeans]"]
    assert "two-phase quantized" not in plain["cold_method"]
    for system in ("vectree[kmeans+int8]", "vectree[kmeans+rabitq]"):
        m = by[system]
        assert m["cold_method"] == ["two-phase quantized"], (system, m["cold_method"])
        assert m["cold_fetched_bytes_per_query"] < plain["cold_fetched_bytes_per_query"], (system, m, plain)
    assert by["vectree[kmeans+int8]"]["recall_at_10_single"] == plain["recall_at_10_single"]
    assert is_png(tmp_path / "coldcodes-fashion-mnist-quick.png")
