"""The scale benchmark's summary (each system at recall 0.90 / 0.95 per size, growth with n), its figure
and its markdown.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vectree.figures import pyplot, save_figure  # noqa: E402

SYSTEMS = ["vectree[kmeans]", "faiss-ivf-flat", "faiss-ivf-ondisk", "lancedb-ivf-pq"]


TARGETS = (0.90, 0.95)


def first_reaching(rows: list[dict], target: float) -> dict | None:
    hit = [r for r in rows if r["metrics"]["recall_at_10"] >= target]
    return hit[0] if hit else None


# ------------------------------------------------------------------ report
def summary(rows: list[dict]) -> list[dict]:
    """One line per (dataset, system): build, RSS, size, buckets, and latency at recall 0.90 / 0.95."""
    out = []
    for ds in sorted({r["dataset"] for r in rows}, key=lambda d: next(r["n"] for r in rows if r["dataset"] == d)):
        for system in SYSTEMS:
            mem = [r for r in rows if r["dataset"] == ds and r["system"] == system and r["regime"] == "memory"]
            if not mem:
                continue
            m0 = mem[0]["metrics"]
            line = {
                "dataset": ds,
                "n": mem[0]["n"],
                "system": system,
                "build_s": m0.get("build_s"),
                "build_peak_rss_mb": m0.get("build_peak_rss_mb"),
                "raw_vector_mb": m0["raw_vector_mb"],
                "build_peak_rss_fraction_of_raw": (m0.get("build_peak_rss_mb") or 0) / m0["raw_vector_mb"],
                "index_mb": m0.get("index_mb"),
                "buckets": (mem[0].get("info") or {}).get("buckets"),
                "max_recall": max(r["metrics"]["recall_at_10"] for r in mem),
            }
            for t in TARGETS:
                key = f"{int(round(t * 100))}"
                hit = first_reaching(mem, t)
                if hit:
                    hm = hit["metrics"]
                    line.update(
                        {
                            f"setting_{key}": hit["setting"],
                            f"recall_{key}": hm["recall_at_10"],
                            f"ms_single_p50_{key}": hm.get("ms_single_p50"),
                            f"ms_single_p99_{key}": hm.get("ms_single_p99"),
                            f"qps_batch_{key}": hm.get("qps_batch"),
                        }
                    )
                    disk = [
                        r
                        for r in rows
                        if r["dataset"] == ds
                        and r["system"] == system
                        and r["regime"] == "disk"
                        and r["knob"] == hit["knob"]
                    ]
                    if disk:
                        dm = disk[0]["metrics"]
                        line.update(
                            {
                                f"disk_first_query_ms_{key}": dm["first_query_ms"],
                                f"disk_ms_single_p50_{key}": dm["ms_single_p50"],
                                f"disk_ms_single_p99_{key}": dm["ms_single_p99"],
                                f"disk_qps_batch_{key}": dm["qps_batch"],
                                f"disk_recall_{key}": dm["recall_at_10"],
                                f"disk_peak_rss_mb_{key}": dm["peak_rss_mb"],
                                f"disk_page_cache_shrank_mb_{key}": dm.get("page_cache_shrank_mb"),
                            }
                        )
            out.append(line)
    return out


def growth(summary_rows: list[dict], key: str) -> dict[str, float]:
    """Fitted exponent b of value ~ a * n^b over the synthetic sizes, per system (needs two sizes)."""
    out = {}
    for system in SYSTEMS:
        pts = [
            (s["n"], s.get(key))
            for s in summary_rows
            if s["system"] == system and s["dataset"].startswith("synth") and s.get(key)
        ]
        if len({n for n, _ in pts}) >= 2:
            x, y = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
            out[system] = float(np.polyfit(x, y, 1)[0])
    return out


PLOTTED = [
    ("build_s", "build time (s)"),
    ("build_peak_rss_mb", "peak RSS while building (MB)"),
    ("ms_single_p50_95", "single query p50 at recall 0.95, in memory (ms)"),
    ("disk_ms_single_p50_95", "single query p50 at recall 0.95, page cache dropped (ms)"),
]


def plot(body: dict, path: Path) -> None:
    plt = pyplot()

    synth = [s for s in body["summary"] if s["dataset"].startswith("synth")]
    fig, axes = plt.subplots(1, len(PLOTTED), figsize=(5 * len(PLOTTED), 4))
    for ax, (key, title) in zip(axes, PLOTTED):
        for system in SYSTEMS:
            pts = sorted((s["n"], s[key]) for s in synth if s["system"] == system and s.get(key))
            if pts:
                b = body["growth_exponents"].get(key, {}).get(system)
                ax.plot(
                    [p[0] for p in pts],
                    [p[1] for p in pts],
                    "o-",
                    label=system + (f" (n^{b:.2f})" if b is not None else ""),
                )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("rows n (clustered 96-d)")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
    save_figure(fig, path, dpi=110)


def fmt(v, spec=".3g") -> str:
    return "n/a" if v is None else (format(v, spec) if isinstance(v, float) else str(v))


def write_markdown(body: dict, path: Path) -> None:
    lines = [
        f"# {body['benchmark']}: vectree at 1M-10M rows against faiss and lancedb",
        "",
        f"Commands: {'; '.join(f'`{c}`' for c in body['commands'])}. Machine: {body['machine']['cpus']} cpus "
        f"({body['machine'].get('cpu', '')}), {body['machine'].get('memory_gb')} GiB, 1 thread per system, shared "
        "with other jobs "
        "(compare within a dataset, read the ratios).",
        "",
        "Data: " + body["data_note"],
        "",
        "Ran: "
        + ", ".join(f"{d['name']} ({d['rows']:,} rows, {d['wall_s'] / 60:.0f} min)" for d in body["datasets"])
        + ". "
        + body.get("not_run", ""),
        "",
    ]
    if body.get("notes"):
        lines += [f"- {note}" for note in body["notes"]] + [""]
    lines += [
        "## Build and memory",
        "",
        "| dataset | system | build s | peak RSS building MB | / raw | index MB | buckets |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in body["summary"]:
        lines.append(
            f"| {s['dataset']} | {s['system']} | {fmt(s['build_s'], '.1f')} | {fmt(s['build_peak_rss_mb'], '.0f')} | "
            f"{s['build_peak_rss_fraction_of_raw']:.2f} | {fmt(s['index_mb'], '.0f')} | {fmt(s['buckets'])} |"
        )
    for key in ("90", "95"):
        lines += [
            "",
            f"## First setting reaching recall@10 0.{key}",
            "",
            "| dataset | system | setting | recall | memory: single p50 ms | p99 ms | batch q/s | disk: first query "
            "ms | single p50 ms | p99 ms | batch q/s | peak RSS MB | page cache shrank MB |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for s in body["summary"]:
            if f"setting_{key}" not in s:
                lines.append(
                    f"| {s['dataset']} | {s['system']} | not reached (max recall {s['max_recall']:.3f}) |||||||||||"
                )
                continue
            lines.append(
                " | ".join(
                    [
                        "",
                        s["dataset"],
                        s["system"],
                        s[f"setting_{key}"],
                        fmt(s[f"recall_{key}"], ".3f"),
                        fmt(s.get(f"ms_single_p50_{key}")),
                        fmt(s.get(f"ms_single_p99_{key}")),
                        fmt(s.get(f"qps_batch_{key}"), ".0f"),
                        fmt(s.get(f"disk_first_query_ms_{key}")),
                        fmt(s.get(f"disk_ms_single_p50_{key}")),
                        fmt(s.get(f"disk_ms_single_p99_{key}")),
                        fmt(s.get(f"disk_qps_batch_{key}"), ".0f"),
                        fmt(s.get(f"disk_peak_rss_mb_{key}"), ".0f"),
                        fmt(s.get(f"disk_page_cache_shrank_mb_{key}"), ".0f"),
                        "",
                    ]
                ).strip()
            )
    lines += ["", "## Growth exponents (value ~ n^b over the synthetic sizes)", ""]
    for key, title in PLOTTED:
        g = body["growth_exponents"].get(key, {})
        lines.append(f"- {title}: " + (", ".join(f"{k} {v:.2f}" for k, v in g.items()) if g else "needs two sizes"))
    path.write_text("\n".join(lines) + "\n")
