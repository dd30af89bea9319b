"""The peers benchmark's report: QPS at recall 0.95 on each curve, the issue's targets, the Markdown
table and the recall-vs-QPS plot, from the rows ``peers.py`` collects."""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import markdown_table
from benchmarks.peers_summary import CODED, DISK_CACHE_FRACTION, RABITQ, TARGET_RECALL, fmt
from vectree.figures import pyplot, save_figure


# ------------------------------------------------------------------ reports
def bytes_section(mem: list[dict], mach: dict) -> list[str]:
    """Per system (1 thread), at the first setting reaching recall 0.95: the bytes of vectors or codes
    one query reads and what that makes per second one query at a time, against the copy bandwidth."""
    bw = mach.get("copy_bandwidth_gbps")
    lines = [
        "",
        "## Bytes touched per query (1 thread, first setting at recall >= 0.95)",
        "",
        f"This machine's STREAM-style copy (one thread, 256 MB, read + write): {fmt(bw, '.1f')} GB/s. Bytes: "
        "vectors or "
        "codes scanned plus rows re-ranked in full, from each index's own counts (vectree: its search stats; faiss "
        "IVF: "
        "the probed lists' sizes x code size, plus k_factor x 10 refined rows; faiss HNSW: distance computations x row "
        "size); routing to buckets or lists is left out; n/a where a library does not say.",
        "",
        "| system | setting | recall@10 | bytes/query | single q/s | GB/s one at a time | x copy bandwidth |",
        "|---|---|---|---|---|---|---|",
    ]
    for system in dict.fromkeys(r["system"] for r in mem):
        hit = [
            r
            for r in mem
            if r["system"] == system and r["threads"] == 1 and r["metrics"]["recall_at_10"] >= TARGET_RECALL
        ]
        if not hit:
            continue
        m = hit[0]["metrics"]
        b, g = m.get("bytes_touched_per_query"), m.get("gbps_single")
        lines.append(
            f"| {system} | {hit[0]['setting']} | {m['recall_at_10']:.4f} | {fmt(b)} | {fmt(m.get('qps_single'))} | "
            f"{fmt(g, '.2f')} | {fmt(g / bw if g and bw else None, '.2f')} |"
        )
    return lines


def write_markdown(body: dict, path: Path) -> None:
    d, mach, s = body["dataset"], body["machine"], body["summary"]
    lines = [
        f"# {body['benchmark']}: vectree against faiss, hnswlib, annoy and lancedb",
        "",
        f"Command: `{body['command']}` ({body['date']}). {d['rows']} x {d['dim']} {d['metric']}, "
        f"{d['queries']} queries, raw vectors {d['raw_vector_mb']:.0f} MB.",
        f"Machine: {mach['cpus']} cpus ({mach['cpu']}), load average {mach['load_average_at_start']} at start, "
        f"{body['load_average_at_end']} at end (shared machine: compare within this run, read the ratios).",
        "",
        "",
    ]
    for mr in body.get("merged_runs", []):
        lines += [
            f"Rows of {', '.join(mr['systems'])} come from a later run"
            f" ({mr.get('started_utc', mr['date'])}, {mr['wall_s']:.0f} s): `{mr['command']}` (load average "
            f"{mr['machine']['load_average_at_start']} at start, {mr['load_average_at_end']} at end).",
            "",
        ]
    lines += ["## At recall@10 = 0.95 (QPS interpolated on each curve; ratios against faiss IVF-Flat)", ""]
    for threads in sorted({e["threads"] for e in s["at_recall_0.95"].values()}):
        lines += [
            f"**{threads} thread{'s' if threads > 1 else ''}**" + ("" if threads == 1 else " (batch only)"),
            "",
            "| system | batch q/s | x IVF-Flat | single q/s | x IVF-Flat | build s | x IVF-Flat | index MB | peak "
            "RSS MB | max recall |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for e in s["at_recall_0.95"].values():
            if e["threads"] != threads:
                continue
            note = "" if e["qps_batch_how"] == "interpolated" else f" ({e['qps_batch_how']})"
            lines.append(
                f"| {e['system']} | {fmt(e['qps_batch'])}{note} | {fmt(e['qps_batch_vs_ivf'], '.2f')} | "
                f"{fmt(e['qps_single'])} | {fmt(e['qps_single_vs_ivf'], '.2f')} | {fmt(e['build_s'], '.1f')} | "
                f"{fmt(e['build_vs_ivf'], '.2f')} | {fmt(e['index_mb'], '.1f')} | {fmt(e['peak_rss_mb'])} | "
                f"{e['max_recall']:.4f} |"
            )
        lines.append("")
    lines += ["## Targets (issue 3; vectree = default rule `kmeans`, 1 thread)", ""]
    for t in s["targets"]:
        verdict = {True: "**met**", False: "**not met**", None: "n/a"}[t["met"]]
        lines.append(f"- {t['target']}: {verdict}: {t['detail']}")
    for key, coded in (("targets_issue_19", CODED), ("targets_issue_19_rabitq", RABITQ)):
        if not s.get(key):
            continue
        lines += ["", f"## Targets (issue 19; {coded}, 1 thread, recall 0.95)", ""]
        for t in s[key]:
            verdict = {True: "**met**", False: "**not met**", None: "n/a"}[t["met"]]
            lines.append(f"- {t['target']}: {verdict}: {t['detail']}")
    disk = [r for r in body["rows"] if r["regime"] == "disk"]
    if disk:
        lines += [
            "",
            "## On disk: fresh process, files evicted from the page cache, one thread",
            "",
            f"vectree's cache: {disk[0]['metrics']['raw_vector_mb'] * DISK_CACHE_FRACTION:.1f} MB "
            f"({DISK_CACHE_FRACTION:.0%} of the raw vectors); annoy mmaps "
            "its file; lancedb opens its table. RSS counts the interpreter and imports (baseline) too.",
            "",
            markdown_table(
                disk,
                [
                    "first_query_ms",
                    "ms_single_mean",
                    "ms_single_p99",
                    "qps_single",
                    "recall_at_10_single",
                    "qps_batch",
                    "rss_baseline_mb",
                    "peak_rss_single_mb",
                    "peak_rss_mb",
                    "peak_rss_fraction_of_raw",
                    "peak_rss_over_baseline_fraction_of_raw",
                    "library_code_added_mb",
                    "peak_data_rss_fraction_of_raw",
                    "storage_bytes_per_query",
                    "cold_storage_bytes_per_query",
                    "cold_query_ms_p50",
                ],
            ),
            "",
            "storage_bytes_per_query: read_bytes over the steady run of distinct queries in one process (the page "
            "cache fills as it goes, so it tends to the union of what they touched); cold_storage_bytes_per_query "
            "and cold_query_ms_p50: queries each answered from a cold start (files dropped from the page cache and "
            "the index opened again before each).",
        ]
    mem = [r for r in body["rows"] if r["regime"] == "memory"]
    runs = [mach] + [mr["machine"] for mr in body.get("merged_runs", [])]  # (a merged run measured it, if any)
    lines += bytes_section(mem, next((m for m in reversed(runs) if m.get("copy_bandwidth_gbps")), mach))
    lines += [
        "",
        "## Every setting (in memory)",
        "",
        markdown_table(
            [{**r, "system": f"{r['system']} ({r['threads']}t)"} for r in mem],
            [
                "recall_at_10",
                "qps_batch",
                "qps_single",
                "ms_single_p50",
                "bytes_touched_per_query",
                "gbps_single",
                "build_s",
                "index_mb",
                "peak_rss_mb",
                "n_batch_queries",
            ],
        ),
    ]
    p = body["params"]
    lines += [
        "",
        "## Settings and caveats",
        "",
        f"- faiss IVF-Flat: nlist = 4 sqrt(n), trained on 50 x nlist sampled rows; lancedb: num_partitions = sqrt(n), "
        f"IVF-PQ with 8-d sub-vectors (refine_factor 10, 40 at the top); HNSW (faiss and hnswlib): M={p['hnsw_m']}, "
        f"efConstruction={p['ef_construction']}; annoy: {p['n_trees']} trees; vectree: bucket_size "
        f"{p['bucket_size'] or 'default (about 160 KiB of vectors, at least 80 rows)'}; "
        "float16 buckets (`vector_dtype`) when every sampled base vector is exactly representable in float16 "
        "(arXiv MiniLM is published as float16, fashion-mnist is 0..255 pixels), else float32 (GloVe).",
        "- cosine: faiss, hnswlib and annoy get normalised vectors (inner product / angular); vectree and lancedb use "
        "their cosine metric.",
        "- build_s: from raw vectors to a searchable index (vectree: ingest + build, written to disk; faiss: train "
        "+ add "
        "in memory; lancedb: table write + index). index_mb: files written (vectree: the build's buckets and tree, "
        "without the ingest segments it leaves behind).",
        f"- batch queries in chunks of {p['batch_chunk']} until all are answered or {p['batch_budget_s']} s is spent; "
        f"one-at-a-time queries: {p.get('single_rounds', 1)} rounds over the same "
        f"{p['n_single'] // p.get('single_rounds', 1)} queries (fewer once "
        f"{p['single_budget_s']} s is spent), q/s from the fastest round: this shared machine's speed moved up to "
        "2x within "
        "a minute, more than the differences measured; every system is timed the same way. A sweep stops at recall "
        f">= {p['stop_recall']} or below {p.get('min_qps', 100)} batch q/s. Threads: OMP/BLAS env, "
        "faiss.omp_set_num_threads, hnswlib num_threads, "
        "LANCE_CPU_THREADS; annoy has no threaded query.",
        "- peak RSS is the process high-water mark (VmHWM): it includes the build, the queries and the imports.",
        "",
        f"![recall vs QPS]({path.stem}.png)",
        "",
    ]
    if body["errors"]:
        lines += ["## Errors", ""] + [f"- {k}: {v}" for k, v in body["errors"].items()] + [""]
    path.write_text("\n".join(lines))


def plot(body: dict, path: Path) -> None:
    plt = pyplot()

    mem = [r for r in body["rows"] if r["regime"] == "memory"]
    panels = [(1, "qps_batch", "batch queries, 1 thread"), (1, "qps_single", "one query at a time, 1 thread")]
    multi = sorted({r["threads"] for r in mem} - {1})
    if multi:
        panels.append((multi[0], "qps_batch", f"batch queries, {multi[0]} threads"))
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 5.5), squeeze=False)
    systems = list(dict.fromkeys(r["system"] for r in mem))
    colors = {s: plt.cm.tab10(i % 10) for i, s in enumerate(systems)}
    for ax, (threads, key, title) in zip(axes[0], panels):
        for system in systems:
            pts = [
                (r["metrics"]["recall_at_10"], r["metrics"].get(key))
                for r in mem
                if r["system"] == system and r["threads"] == threads
            ]
            pts = [p for p in pts if p[1]]
            if not pts:
                continue
            style = "o-" if len(pts) > 1 else "*"
            lw = 2.5 if system.startswith("vectree") else 1.2
            ax.plot(
                [p[0] for p in pts],
                [p[1] for p in pts],
                style,
                label=system,
                color=colors[system],
                lw=lw,
                ms=4 if len(pts) > 1 else 12,
            )
        ax.axvline(TARGET_RECALL, color="grey", ls=":", lw=1)
        ax.set(
            title=f"{body['dataset']['name']}: {title}",
            xlabel="recall@10",
            ylabel="queries per second",
            yscale="log",
            xlim=(0.5, 1.005),
        )
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    save_figure(fig, path, dpi=100)
