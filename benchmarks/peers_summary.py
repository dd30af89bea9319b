"""The peers benchmark's verdicts: QPS at recall 0.95 on each curve, ratios to faiss IVF-Flat, and the
issues' targets judged on the run's own numbers.
"""

from __future__ import annotations

import math
from typing import Any

REFERENCE = "faiss-ivf-flat"


TARGET_RECALL = 0.95


DISK_CACHE_FRACTION = 0.02  # vectree's decoded-bucket cache in the on-disk regime, as a share of the raw vectors


def at_recall(points: list[tuple[float, float]], target: float = TARGET_RECALL) -> tuple[float | None, str]:
    """QPS at ``target`` recall on a system's Pareto frontier, log-linear between the bracketing settings."""
    pts = sorted(p for p in points if p[1] and p[1] > 0)
    if not pts or pts[-1][0] < target:
        return None, f"max recall {pts[-1][0]:.3f}" if pts else "no points"
    frontier: list[tuple[float, float]] = []
    for r, q in reversed(pts):  # from high recall down: keep a point only if it is faster than every higher-recall one
        if not frontier or q > frontier[-1][1]:
            frontier.append((r, q))
    frontier.reverse()
    if frontier[0][0] >= target:
        return frontier[0][1], f"fastest setting already at recall {frontier[0][0]:.3f}"
    for (r0, q0), (r1, q1) in zip(frontier, frontier[1:]):
        if r0 <= target <= r1:
            w = (target - r0) / (r1 - r0) if r1 > r0 else 1.0
            return math.exp(math.log(q0) + w * (math.log(q1) - math.log(q0))), "interpolated"
    return None, "not bracketed"


def runs_of(body: dict) -> dict[str, int]:
    """Which run each system's rows come from: 0 the first, i the i-th ``--merge`` run (the last that ran it)."""
    out: dict[str, int] = {}
    for i, merged in enumerate(body.get("merged_runs", []), 1):
        for system in merged["systems"]:
            out[system] = i
    return out


def summarise(rows: list[dict], raw_mb: float, runs: dict[str, int] | None = None) -> dict:
    """Each system at recall 0.95; its ratios to faiss IVF-Flat only when both come from the same run
    (``runs``, from :func:`runs_of`): another run's machine load makes a cross-run ratio meaningless."""
    runs = runs or {}
    mem = [r for r in rows if r["regime"] == "memory"]
    table: dict[str, dict] = {}
    for threads in sorted({r["threads"] for r in mem}):
        for system in dict.fromkeys(r["system"] for r in mem if r["threads"] == threads):
            rs = [r for r in mem if r["system"] == system and r["threads"] == threads]
            m0 = rs[0]["metrics"]
            batch, how_b = at_recall([(r["metrics"]["recall_at_10"], r["metrics"]["qps_batch"]) for r in rs])
            single, how_s = at_recall([(r["metrics"]["recall_at_10"], r["metrics"].get("qps_single")) for r in rs])
            table[f"{system}/{threads}"] = {
                "system": system,
                "threads": threads,
                "qps_batch": batch,
                "qps_batch_how": how_b,
                "qps_single": single,
                "qps_single_how": how_s,
                "build_s": m0.get("build_s"),
                "index_mb": m0.get("index_mb"),
                "peak_rss_mb": max(r["metrics"]["peak_rss_mb"] for r in rs),
                "max_recall": max(r["metrics"]["recall_at_10"] for r in rs),
            }
    for e in table.values():
        same_run = runs.get(e["system"], 0) == runs.get(REFERENCE, 0)
        ref = (table.get(f"{REFERENCE}/{e['threads']}") or {}) if same_run else {}
        for k in ("qps_batch", "qps_single"):
            e[f"{k}_vs_ivf"] = e[k] / ref[k] if e[k] and ref.get(k) else None
        ref1 = table.get(f"{REFERENCE}/1", {}) if same_run else {}
        e["build_vs_ivf"] = e["build_s"] / ref1["build_s"] if e.get("build_s") and ref1.get("build_s") else None
    return {
        "at_recall_0.95": table,
        "targets": targets(table, rows, raw_mb),
        "targets_issue_19": targets_codes(table, rows),
        "targets_issue_19_rabitq": targets_codes(table, rows, RABITQ),
    }


CODED = "vectree[kmeans+int8]"
RABITQ = "vectree[kmeans+rabitq]"


def targets_codes(table: dict, rows: list[dict], coded: str = CODED) -> list[dict]:
    """Issue 19's goals for vectree with codes (int8, or ``coded``; 1 thread, recall 0.95); n/a where a peer
    did not run."""
    CODED = coded  # noqa: N806 - the checks below name the coded system
    v, ivf, hnsw = table.get(f"{CODED}/1"), table.get(f"{REFERENCE}/1", {}), table.get("hnswlib/1", {})
    if not v:
        return []
    out = []

    def check(name: str, a: float | None, b: float | None, ok: Any, detail: str) -> None:
        out.append({"target": name, "met": None if a is None or b is None else bool(ok(a, b)), "detail": detail})

    vs, hs = v.get("qps_single"), hnsw.get("qps_single")
    check(
        "one at a time >= hnswlib",
        vs,
        hs,
        lambda a, b: a >= b,
        f"{CODED} {fmt(vs)} q/s vs hnswlib {fmt(hs)} q/s (ratio {fmt(vs / hs if vs and hs else None, '.2f')})",
    )
    vb, rb = v.get("qps_batch"), ivf.get("qps_batch")
    check(
        "batch >= 2x faiss IVF-Flat",
        vb,
        rb,
        lambda a, b: a >= 2 * b,
        f"{CODED} {fmt(vb)} q/s vs faiss IVF-Flat {fmt(rb)} q/s (ratio "
        f"{fmt(vb / rb if vb and rb else None, '.2f')}, needs 2)",
    )
    for peer in ("faiss-ivf-rabitq-fs", "faiss-ivfpq-fs"):
        pb = table.get(f"{peer}/1", {}).get("qps_batch")
        check(
            f"batch ahead of {peer} (exact refine)",
            vb,
            pb,
            lambda a, b: a > b,
            f"{CODED} {fmt(vb)} q/s vs {peer} {fmt(pb)} q/s (ratio {fmt(vb / pb if vb and pb else None, '.2f')})",
        )
    vr, hr = v.get("peak_rss_mb"), hnsw.get("peak_rss_mb")
    check(
        "in-memory peak RSS <= hnswlib's",
        vr,
        hr,
        lambda a, b: a <= b,
        f"{CODED} {fmt(vr)} MB vs hnswlib {fmt(hr)} MB (process high-water mark, build included)",
    )
    disk = {r["system"]: r["metrics"] for r in rows if r["regime"] == "disk"}
    dc, dp = disk.get(CODED, {}).get("peak_rss_single_mb"), disk.get("vectree[kmeans]", {}).get("peak_rss_single_mb")
    check(
        "on disk: peak RSS below vectree without codes",
        dc,
        dp,
        lambda a, b: a < b,
        f"{CODED} {fmt(dc)} MB vs vectree[kmeans] {fmt(dp)} MB",
    )
    mine, plain = disk.get(CODED, {}), disk.get("vectree[kmeans]", {})
    if "cold_storage_bytes_per_query" in mine and "cold_storage_bytes_per_query" in plain:
        bc, bp = mine["cold_storage_bytes_per_query"], plain["cold_storage_bytes_per_query"]
        how = (
            f"mean of {mine.get('n_cold_queries')} queries, each from a cold start: page cache dropped, index "
            "opened afresh; /proc/self/io read_bytes"
        )
    else:  # results from before the cold measurement
        bc, bp = mine.get("storage_bytes_per_query"), plain.get("storage_bytes_per_query")
        how = "/proc/self/io read_bytes over distinct queries in one process, the page cache filling"
    sc_, sp = mine.get("storage_bytes_per_query"), plain.get("storage_bytes_per_query")
    check(
        "on disk: bytes read from storage per cold query below vectree without codes",
        bc,
        bp,
        lambda a, b: a < b,
        f"{CODED} {fmt(bc)} vs vectree[kmeans] {fmt(bp)} bytes ({how}; over the steady run, the page cache "
        f"filling: {fmt(sc_)} vs {fmt(sp)})",
    )
    return out


def targets(table: dict, rows: list[dict], raw_mb: float) -> list[dict]:
    v, ref = table.get("vectree[kmeans]/1", {}), table.get(f"{REFERENCE}/1", {})
    out = []

    def check(name: str, ok: bool | None, detail: str) -> None:
        out.append({"target": name, "met": ok, "detail": detail})

    vb, rb = v.get("qps_batch"), ref.get("qps_batch")
    check(
        "batch QPS >= faiss IVF-Flat at recall 0.95 (1 thread)",
        vb is not None and rb is not None and vb >= rb,
        f"vectree {fmt(vb)} q/s vs faiss IVF-Flat {fmt(rb)} q/s (ratio {fmt(vb / rb if vb and rb else None, '.2f')})",
    )
    vs, rs = v.get("qps_single"), ref.get("qps_single")
    check(
        "one-at-a-time QPS >= 0.5x faiss IVF-Flat at recall 0.95 (1 thread)",
        vs is not None and rs is not None and vs >= 0.5 * rs,
        f"vectree {fmt(vs)} q/s vs faiss IVF-Flat {fmt(rs)} q/s (ratio "
        f"{fmt(vs / rs if vs and rs else None, '.2f')}, needs 0.5)",
    )
    disk = {r["system"]: r["metrics"] for r in rows if r["regime"] == "disk"}
    vd = disk.get("vectree[kmeans]")
    lance = [
        (s, m) for s, m in disk.items() if s.startswith("lancedb") and m["recall_at_10_single"] >= TARGET_RECALL - 0.02
    ]
    if vd:
        best_lance = max(lance, key=lambda sm: sm[1]["qps_single"]) if lance else None
        frac, frac_b = vd["peak_rss_fraction_of_raw"], vd["peak_rss_over_baseline_fraction_of_raw"]
        fast = best_lance is not None and vd["qps_single"] >= best_lance[1]["qps_single"]
        lq = (
            f"{best_lance[0]} {best_lance[1]['qps_single']:.0f} q/s"
            if best_lance
            else "lancedb: no run at recall ~0.95"
        )
        # the interpreter with numpy and pyarrow alone (61-76 MB) outweighs 10% of any raw size here: the
        # target is read above that baseline; the absolute figure is printed beside it
        check(
            "on disk: peak RSS above the interpreter + imports <= 10% of raw vector bytes at QPS >= lancedb "
            "(one at a time, 1 thread)",
            frac_b <= 0.10 and fast,
            f"vectree {frac_b:.1%} of {raw_mb:.0f} MB raw above the {vd['rss_baseline_mb']:.0f} MB baseline "
            f"({vd.get('peak_data_rss_fraction_of_raw', frac_b):.1%} less the "
            f"{vd.get('library_code_added_mb', 0.0):.1f} MB "
            f"of shared-library code the queries faulted in; absolute peak RSS {vd['peak_rss_single_mb']:.0f} MB = "
            f"{frac:.1%} of raw, {'within' if frac <= 0.10 else 'over'} 10%); "
            f"{vd['qps_single']:.0f} q/s at recall {vd['recall_at_10_single']:.3f} vs {lq}",
        )
    else:
        check("on disk: peak RSS <= 10% of raw vector bytes at QPS >= lancedb", None, "no on-disk run")
    vbs, rbs = v.get("build_s"), ref.get("build_s")
    check(
        "build time <= faiss IVF-Flat train+add (1 thread)",
        vbs is not None and rbs is not None and vbs <= rbs,
        f"vectree ingest+build {fmt(vbs, '.1f')} s vs faiss IVF-Flat train+add {fmt(rbs, '.1f')} s "
        f"(ratio {fmt(vbs / rbs if vbs and rbs else None, '.2f')})",
    )
    return out


def fmt(x: Any, spec: str = ".0f") -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)
