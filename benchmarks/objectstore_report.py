"""The tables and the figure of ``benchmarks/objectstore.py``'s results."""

from __future__ import annotations

from pathlib import Path

COLS = [
    "recall_at_10",
    "cold_p50_ms",
    "cold_p99_ms",
    "pooled_cold_p50_ms",
    "warm_p50_ms",
    "warm_p99_ms",
    "cold_requests_per_query",
    "cold_round_trips_per_query",
    "cold_round_trips_own_counter",
    "cold_retries",
    "cold_kb_per_query",
    "cold_payload_kb_per_query",
    "warm_requests_per_query",
    "build_s",
]

GOALS = {
    "cold_p50_at_most_half_of_lancedb": "cold p50 <= lancedb / 2",
    "cold_p50_at_most_2.5x_delay_plus_local_cold": "cold p50 <= 2.5 x delay + local cold",
    "warm_p50_at_most_a_tenth_of_lancedb": "warm p50 <= lancedb / 10",
    "cold_bytes_at_most_lancedb": "cold bytes <= lancedb",
}


def write_markdown(path: Path, result: dict) -> None:
    m = result["machine"]
    lines = [
        f"# Object storage: {result['dataset']}",
        "",
        f"Command: `{result['command']}`  ",
        f"Date: {result['date']}; machine: {m['cpus']} CPUs, Python {m['python']}, load average at start "
        f"{m['load_average_at_start']}, at end {m.get('load_average_at_end')}; {result['notes']}",
        "",
        "## At recall 0.95 (each system's cheapest setting reaching it), per added delay",
        "",
        "| delay ms | vectree | lancedb | recall vt / ld | cold p50 ms vt / ld | x | bound ms (2.5 d + local) | "
        "pooled cold p50 ms vt / ld | warm p50 ms vt / ld | x | round trips vt / ld | requests vt / ld | KB vt / ld |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in result["at_recall_0_95"]:
        lines.append(
            f"| {s['delay_ms']} | {s['vectree']} | {s['lancedb']} | {s['recall_vectree']} / {s['recall_lancedb']} | "
            f"{s['cold_p50_ms_vectree']} / {s['cold_p50_ms_lancedb']} | {s['lancedb_over_vectree_cold_p50']} | "
            f"{s['cold_bound_ms']} | {s.get('pooled_cold_p50_ms_vectree')} / {s.get('pooled_cold_p50_ms_lancedb')} | "
            f"{s['warm_p50_ms_vectree']} / {s['warm_p50_ms_lancedb']} | "
            f"{s['lancedb_over_vectree_warm_p50']} | {s['round_trips_vectree']} / {s['round_trips_lancedb']} | "
            f"{s['requests_vectree']} / {s['requests_lancedb']} | {s['cold_kb_vectree']} / {s['cold_kb_lancedb']} |"
        )
    lines += ["", "Goals (issue 18):", "", "| delay ms | " + " | ".join(GOALS.values()) + " |"]
    lines.append("|---|" + "---|" * len(GOALS))
    for s in result["at_recall_0_95"]:
        marks = ["met" if s["goals"][k] else "**missed**" for k in GOALS]
        lines.append(f"| {s['delay_ms']} | " + " | ".join(marks) + " |")
    f16 = result.get("at_recall_0_95_float16")
    if f16:
        lines += [
            "",
            'vectree storing its vectors as float16 (`vector_dtype="float16"`: half the bytes; lancedb as above, '
            "float32), its own local cold time in the bound:",
            "",
            "| delay ms | vectree f16 | recall | cold p50 ms vt16 / ld | bound ms | pooled cold p50 ms | KB vt16 / ld "
            "| " + " | ".join(GOALS.values()) + " |",
            "|---|---|---|---|---|---|---|" + "---|" * len(GOALS),
        ]
        for s in f16:
            marks = ["met" if s["goals"][k] else "**missed**" for k in GOALS]
            lines.append(
                f"| {s['delay_ms']} | {s['vectree']} | {s['recall_vectree']} | {s['cold_p50_ms_vectree']} / "
                f"{s['cold_p50_ms_lancedb']} | {s['cold_bound_ms']} | {s.get('pooled_cold_p50_ms_vectree')} | "
                f"{s['cold_kb_vectree']} / {s['cold_kb_lancedb']} | " + " | ".join(marks) + " |"
            )
    lines += [
        "",
        "## Every setting",
        "",
        "| system | storage | setting | " + " | ".join(COLS) + " |",
        "|" + "---|" * (len(COLS) + 3),
    ]
    for r in result["rows"]:
        mm = r["metrics"]
        lines.append(
            f"| {r['system']} | {r['storage']} | {r['setting']} | "
            + " | ".join(str(mm.get(c, "")) for c in COLS)
            + " |"
        )
    path.write_text("\n".join(lines) + "\n")


def plot(path: Path, result: dict) -> None:
    """Cold p50 against the added delay, both systems at recall 0.95, with the goal's bound."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = result["at_recall_0_95"]
    d = [e["delay_ms"] for e in s]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(d, [e["cold_p50_ms_lancedb"] for e in s], "o-", label="lancedb (IVF_FLAT)")
    ax.plot(d, [e["cold_p50_ms_vectree"] for e in s], "o-", label="vectree")
    if all(e.get("pooled_cold_p50_ms_vectree") is not None for e in s):
        ax.plot(d, [e["pooled_cold_p50_ms_lancedb"] for e in s], "o:", color="C0", alpha=0.6,
                label="lancedb, connections kept open")  # fmt: skip
        ax.plot(d, [e["pooled_cold_p50_ms_vectree"] for e in s], "o:", color="C1", alpha=0.6,
                label="vectree, connections kept open")  # fmt: skip
    ax.plot(d, [e["cold_bound_ms"] for e in s], "k--", lw=1, label="goal: 2.5 x delay + local cold")
    f16 = result.get("at_recall_0_95_float16")
    if f16:
        ax.plot([e["delay_ms"] for e in f16], [e["cold_p50_ms_vectree"] for e in f16], "s-", color="C2", ms=4,
                label="vectree, float16 vectors")  # fmt: skip
    for e in s:
        ax.annotate(f"{e['round_trips_lancedb']:g} RT", (e["delay_ms"], e["cold_p50_ms_lancedb"]), fontsize=8,
                    textcoords="offset points", xytext=(4, 4))  # fmt: skip
        ax.annotate(f"{e['round_trips_vectree']:g} RT", (e["delay_ms"], e["cold_p50_ms_vectree"]), fontsize=8,
                    textcoords="offset points", xytext=(4, -12))  # fmt: skip
    ax.set_xlabel("delay added to every request (ms)")
    ax.set_ylabel("cold query p50 (ms): open + 1 query")
    ax.set_title(f"Cold queries from S3 (SeaweedFS) at recall 0.95\n{result['dataset']}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
