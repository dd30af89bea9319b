"""The README's benchmark summaries, generated from the results files (so no number is typed by hand).

python benchmarks/readme_summary.py           # print them
python benchmarks/readme_summary.py --write   # replace the <!-- NAME:begin --> .. <!-- NAME:end --> blocks in README.md
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def ann() -> str:
    body = json.loads((RESULTS / "ann.json").read_text())
    lines = [
        f"From `{body['command']}` ({body['date']}, {body['machine']['cpus']} cores, one BLAS thread, "
        f"load average {body['machine']['load_average_at_start'][0]} at the start):",
        "",
        "| dataset | rule | probes | recall@10 | fraction scanned | ms/query (batch) | build s |",
        "|---|---|---|---|---|---|---|",
    ]
    sweep = [r for r in body["rows"] if r["setting"].startswith("probes")]
    for ds in sorted({r["dataset"] for r in sweep}):
        for system in ("vectree[kmeans]", "vectree[variance]", "vectree[seed]"):
            pts = [r for r in sweep if r["dataset"] == ds and r["system"] == system]
            hit = next((r for r in pts if r["metrics"]["recall_at_10"] >= 0.95), None)
            if hit is None:
                if pts:
                    top = max(pts, key=lambda r: r["metrics"]["recall_at_10"])
                    best, best_probes = top["metrics"], top["setting"][7:]
                    lines.append(
                        f"| {ds} | {system[8:-1]} | > {best_probes} (not reached) | {best['recall_at_10']:.3f} at "
                        "most | "
                        f"{best['fraction_scanned']:.1%} | | {best['build_s']:.1f} |"
                    )
                continue
            m = hit["metrics"]
            lines.append(
                f"| {ds} | {system[8:-1]} | {hit['setting'][7:]} | {m['recall_at_10']:.3f} | "
                f"{m['fraction_scanned']:.1%} | {m['ms_per_query_batch']:.3f} | {m['build_s']:.1f} |"
            )
    mem = [r for r in body["rows"] if r["setting"].startswith("build")]
    if mem:
        lines += [
            "",
            "Peak RSS of a build alone (GloVe, bucket_size 1000): "
            + ", ".join(f"{r['metrics']['rows']:,} rows -> {r['metrics']['peak_rss_mb']:.0f} MB" for r in mem)
            + ".",
        ]
    for key, s in body.get("summary", {}).items():
        if not s["all_probes_identical_to_exact"]:
            lines.append(f"WARNING: {key}: probes=all differs from exact")
    lines.append("probes = all buckets returned exactly the `exact=True` answer on every run.")
    return "\n".join(lines)


def objectstore() -> str:
    body = json.loads((RESULTS / "objectstore.json").read_text())
    lines = [
        f"From `{body['command']}` ({body['dataset']}; SeaweedFS on loopback behind a proxy adding a fixed delay "
        f"to every request; {body['date']}, load average {body['machine']['load_average_at_start'][0]:.0f} "
        "at the start on 2 shared cores). Each system at its cheapest setting reaching recall@10 0.95; "
        "cold = a fresh handle's first query; round trips are vectree's own count (the proxy's agrees from 20 ms; "
        "at 0 ms it counts 3, requests overlapping by less than its resolution).",
        "",
        "| added delay | vectree / lancedb setting | cold p50 ms vectree / lancedb | warm p50 ms | "
        "round trips | requests | MB read |",
        "|---|---|---|---|---|---|---|",
    ]
    own = {
        (r["storage"], r["setting"]): r["metrics"].get("cold_round_trips_own_counter")
        for r in body["rows"]
        if r["system"] == "vectree"
    }
    for r in body["at_recall_0_95"]:
        trips = own[(f"s3+{r['delay_ms']}ms", r["vectree"])]
        lines.append(
            f"| {r['delay_ms']} ms | {r['vectree']} / {r['lancedb']} | {r['cold_p50_ms_vectree']:.0f} / "
            f"{r['cold_p50_ms_lancedb']:.0f} (x{r['lancedb_over_vectree_cold_p50']:.1f}) | "
            f"{r['warm_p50_ms_vectree']:.2f} / {r['warm_p50_ms_lancedb']:.1f} | "
            f"{trips:.0f} / {r['round_trips_lancedb']:.0f} | "
            f"{r['requests_vectree']:.0f} / {r['requests_lancedb']:.0f} | "
            f"{r['cold_kb_vectree'] / 1024:.1f} / {r['cold_kb_lancedb'] / 1024:.1f} |"
        )
    bound = "; ".join(
        f"{r['delay_ms']} ms: {r['cold_p50_ms_vectree']:.1f} against {r['cold_bound_ms']:.1f} ms "
        f"({'met' if r['cold_p50_ms_vectree'] <= r['cold_bound_ms'] else 'missed'})"
        for r in body["at_recall_0_95"]
    )
    text = body.get("notes_figures") or f"Cold p50 against the bound 2.5 x delay + local cold: {bound}."
    half = body.get("at_recall_0_95_float16") or []
    if half:
        text += (
            f" With float16 vectors ({half[0]['cold_kb_vectree'] / 1024:.1f} MB read a cold query): "
            + ", ".join(
                f"{r['cold_p50_ms_vectree']:.1f} against {r['cold_bound_ms']:.1f} ms at {r['delay_ms']} ms "
                f"({'met' if r['cold_p50_ms_vectree'] <= r['cold_bound_ms'] else 'missed'})"
                for r in half
            )
            + "."
        )
    return "\n".join([*lines, "", text])


def scale() -> str:
    body = json.loads((RESULTS / "scale-peers.json").read_text())
    ran = ", ".join(f"{d['name']} ({d['rows']:,} rows)" for d in body["datasets"])
    lines = [
        f"From `benchmarks/results/scale-peers.json` ({body['date']}; ran: {ran}; 1 thread per system on a 2-core "
        "machine "
        "shared with other jobs). Data: " + body["data_note"],
        "",
        "| dataset | system | build s | peak RSS building MB (x raw) | index MB | buckets | setting at 0.95 | "
        "memory p50 / p99 ms | batch q/s | disk p50 / p99 ms (page cache dropped) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]

    def f(v, spec=".3g"):
        return "n/a" if v is None else format(v, spec)

    for x in body["summary"]:
        lines.append(
            f"| {x['dataset']} | {x['system']} | {f(x['build_s'], '.0f')} | {f(x['build_peak_rss_mb'], '.0f')} "
            f"({x['build_peak_rss_fraction_of_raw']:.2f}) | {f(x['index_mb'], '.0f')} | {x['buckets'] or 'n/a'} | "
            f"{x.get('setting_95', 'not reached')} | {f(x.get('ms_single_p50_95'))} / {f(x.get('ms_single_p99_95'))} | "
            f"{f(x.get('qps_batch_95'), '.0f')} | {f(x.get('disk_ms_single_p50_95'))} / "
            f"{f(x.get('disk_ms_single_p99_95'))} |"
        )
    growth = body.get("growth_exponents", {})
    if any(growth.values()):
        lines += [
            "",
            "Fitted growth exponents (value ~ n^b): "
            + "; ".join(f"{key}: " + ", ".join(f"{k} {v:.2f}" for k, v in g.items()) for key, g in growth.items() if g)
            + ".",
        ]
    for ingest in (RESULTS / "scale-ingest.json", RESULTS / "scale-ingest-10m.json"):
        if not ingest.exists():
            continue
        b = json.loads(ingest.read_text())
        q, w = b["rows"][0]["metrics"], b["rows"][1]["metrics"]
        g = b["goals"]
        lines += [
            "",
            f"Ingest while serving (`{b['command']}`): {b['added_rows']:,} rows in batches of {b['batch_rows']:,} into "
            f"{b['base_rows']:,} while one thread queries: p99 {w['ms_single_p99']:.2f} ms against "
            f"{q['ms_single_p99']:.2f} ms "
            f"quiet (x{g['p99_ratio']:.2f}, goal <= 2), recall@10 {w['recall_at_10']:.3f} against "
            f"{q['recall_at_10']:.3f}; "
            f"tail at most {g['tail_rows_max']:,} rows (bound {g['tail_bound_rows']:,}); {len(b['compactions'])} "
            "compactions, "
            f"{g['rebuilds']} full rebuilds.",
        ]
    ray = RESULTS / "scale-ray.json"
    if ray.exists():
        b = json.loads(ray.read_text())
        lines += [
            "",
            f"Build on Ray (`{b['command']}`, {b['n']:,} rows): "
            + ", ".join(
                f"{r['system']} {r['setting']} {r['metrics']['build_s']:.0f} s"
                + (
                    f" (index equals local: {r['metrics']['index_equals_local']})"
                    if "index_equals_local" in r["metrics"]
                    else ""
                )
                for r in b["rows"]
            )
            + ".",
        ]
    return "\n".join(lines)


def peers() -> str:
    lines = [
        "| dataset | system | batch q/s (x IVF-Flat) | one-at-a-time q/s (x IVF-Flat) | build s | peak RSS MB |",
        "|---|---|---|---|---|---|",
    ]
    for ds in ("fashion-mnist", "glove", "arxiv"):
        path = RESULTS / f"peers-{ds}.json"
        if not path.exists():
            continue
        summary = json.loads(path.read_text())["summary"]["at_recall_0.95"]
        for key in (
            "vectree[kmeans]/1",
            "vectree[kmeans+int8]/1",
            "faiss-ivf-flat/1",
            "faiss-ivf-rabitq-fs/1",
            "faiss-ivfpq-fs/1",
            "faiss-hnsw/1",
            "hnswlib/1",
            "annoy/1",
            "lancedb-ivf-flat/1",
        ):
            m = summary.get(key)
            if not m or not m.get("qps_batch"):
                continue

            def x(v: float | None) -> str:
                return "another run" if v is None else f"{v:.2f}"

            lines.append(
                f"| {ds} | {m['system']} | {m['qps_batch']:.0f} ({x(m['qps_batch_vs_ivf'])}) | "
                f"{m['qps_single']:.0f} ({x(m['qps_single_vs_ivf'])}) | {m['build_s']:.1f} | {m['peak_rss_mb']:.0f} |"
            )
    lines += [
        "",
        "On disk (a fresh process, files evicted from the page cache, one query at a time, 1 thread; "
        "vectree's cache 2% of the raw vectors; RSS above the process's baseline after its imports; shared-library "
        "code is the pages of libraries such as libarrow that the first queries fault in, not data):",
        "",
        "| dataset | system | setting | recall@10 | q/s | first query ms | peak RSS over baseline (% of raw) | of "
        "which shared-library code | data (% of raw) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for ds in ("fashion-mnist", "glove", "arxiv"):
        path = RESULTS / f"peers-{ds}.json"
        if not path.exists():
            continue
        for r in json.loads(path.read_text())["rows"]:
            if r.get("regime") != "disk" or r["system"] not in (
                "vectree[kmeans]",
                "vectree[kmeans+int8]",
                "lancedb-ivf-flat",
                "annoy",
            ):
                continue
            m = r["metrics"]
            over = m["peak_rss_single_mb"] - m["rss_baseline_mb"]
            lines.append(
                f"| {ds} | {r['system']} | {r['setting']} | {m['recall_at_10_single']:.3f} | {m['qps_single']:.0f} | "
                f"{m['first_query_ms']:.0f} | {over:.0f} MB ({100 * over / m['raw_vector_mb']:.1f}%) | "
                + (
                    f"{m['library_code_added_mb']:.1f} MB | "
                    f"{100 * (over - m['library_code_added_mb']) / m['raw_vector_mb']:.1f}% |"
                    if "library_code_added_mb" in m
                    else "n/a | n/a |"
                )
            )
    return "\n".join(lines)


def service() -> str:
    body = json.loads((RESULTS / "service.json").read_text())
    rows = body["rows"]
    lines = [
        f"From `{body['command']}` ({body['date']}, {body['machine']['cpus']} cores, load average "
        f"{body['machine']['load_average_at_start'][0]} at the start; {body['rows_in_collection']:,} arXiv MiniLM "
        "rows, "
        f"{body['duration_s_per_point']:g} s per point, 90% batch-1 searches / 10% adds of 100 rows, one load "
        "generator on the same cores):",
        "",
        "| system | workers | clients | recall@10 | requests/s | search p50 ms | search p99 ms | add p50 ms | "
        "errors | RSS MB per process |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        m = r["metrics"]
        name = r["system"] + (f" (probes={m['probes']})" if "probes" in m else "")
        lines.append(
            f"| {name} | {m['workers']} | {m['clients']} | {m['recall_at_10']:.3f} | {m['throughput_ops_s']:.0f} | "
            f"{m['search_p50_ms']:.1f} | {m['search_p99_ms']:.1f} | {m['add_p50_ms'] or 0:.1f} | {m['errors']} | "
            f"{', '.join(f'{x:.0f}' for x in m['rss_mb_per_worker'])} |"
        )
    peers = {r["metrics"]["clients"]: r["metrics"] for r in rows if r["system"] == "chroma"}
    ratios = []
    for r in rows:
        m = r["metrics"]
        if r["system"] == "vectree" and m["workers"] == 1 and m["clients"] in peers:
            c = peers[m["clients"]]
            ratios.append(
                f"{m['clients']} client(s): {m['throughput_ops_s'] / c['throughput_ops_s']:.2f}x the requests/s, "
                f"search p50 {c['search_p50_ms'] / m['search_p50_ms']:.2f}x, p99 "
                f"{c['search_p99_ms'] / m['search_p99_ms']:.2f}x"
            )
    if ratios:
        lines += [
            "",
            "vectree (1 worker) against chroma, above 1 meaning vectree is better: " + "; ".join(ratios) + ".",
        ]
    lines += ["", "Notes: " + "; ".join(body.get("notes", [])) + f"; vectree probes={body['probes']} for equal recall."]
    return "\n".join(lines)


if __name__ == "__main__":
    import re
    import sys

    readme = RESULTS.parents[1] / "README.md"
    text = readme.read_text()
    for name, fn in (
        ("ann", ann),
        ("objectstore", objectstore),
        ("peers", peers),
        ("service", service),
        ("scale", scale),
    ):
        try:
            block = fn()
        except (OSError, KeyError, StopIteration, ValueError) as exc:
            print(f"{name}: not generated ({exc})", file=sys.stderr)
            continue
        print(f"<!-- {name} -->\n{block}\n")
        pattern = re.compile(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)", re.S)
        text = pattern.sub(lambda m, block=block: m.group(1) + block + "\n" + m.group(2), text)
    if "--write" in sys.argv:
        readme.write_text(text)
