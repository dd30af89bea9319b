"""The markdown report of ``benchmarks/scale_ingest.py``: phases, goals, the refresher's moves, compactions."""

from __future__ import annotations


def markdown(body: dict, writer: str, refresh_s: float, routed_tail_rows: int) -> str:
    """``scale-ingest.md`` from the run's json ``body`` (``writer``: how the writer ran)."""
    goals, refresh, command = body["goals"], body["refresh"], body["command"]
    lines = [
        f"# scale-ingest: {body['added_rows']:,} rows added in batches of {body['batch_rows']:,} into "
        f"{body['rows'][0]['dataset']} while one thread queries",
        "",
        f"Command: `{command}` ({body['date']}). Tail bound {goals['tail_bound_rows']:,} rows (1% of the rows, at "
        f"least 20,000; a tail past {routed_tail_rows:,} rows is searched through each query's probed "
        f"buckets): when the next batch would take the unindexed tail past it, "
        f"compact(keep_tail_rows={goals['keep_tail_rows']:,}) folds the buckets gaining the most rows "
        f"until at most {goals['keep_tail_rows']:,} stay (the last compaction folds all). Writer: "
        f"{writer}" + (f", at nice {goals['writer_nice']}" if goals.get("writer_nice") else "") + "; "
        f"ingest {body['ingest_s']:.0f} s ({body['rows_per_s']:.0f} rows/s, compactions included). "
        f"Load average at the start: {body['load_average_at_start']}, at the end: {body['load_average_at_end']}.",
        "",
        "| phase | queries | recall@10 | single p50 ms | p99 ms | rows visible |",
        "|---|---|---|---|---|---|",
    ]
    for r in body["rows"]:
        m = r["metrics"]
        lines.append(
            f"| {r['phase']} | {m['queries']} | {m['recall_at_10']:.4f} | {m['ms_single_p50']:.3f} | "
            f"{m['ms_single_p99']:.3f} | "
            f"{m['rows_visible_min']:,}..{m['rows_visible_max']:,} |"
        )
    lines += [
        "",
        f"- p99 while ingesting / quiet: {goals['p99_ratio']:.2f} (goal <= 2: "
        f"{'met' if goals['p99_within_2x_of_quiet'] else 'MISSED'})",
        f"- recall while ingesting / quiet: {goals['recall_ratio']:.3f} (missed fraction within 2x of quiet: "
        f"{'met' if goals['recall_loss_within_2x_of_quiet'] else 'MISSED'})",
        f"- the reader's refresher thread (every {refresh_s * 1000:.0f} ms) moved to {refresh['moves']} new "
        f"versions, each prepared before the move (index, decoded tail, the tail's grouping by bucket): "
        + (
            f"{refresh['ms_move_p50']:.1f} ms p50, {refresh['ms_move_p99']:.1f} ms p99, "
            f"{refresh['ms_move_max']:.1f} ms max, none of it inside a query"
            if refresh["moves"]
            else "no move"
        ),
        *_slow_line(body.get("slow_queries")),
        f"- largest unindexed tail: {goals['tail_rows_max']:,} rows (bound {goals['tail_bound_rows']:,}); "
        f"full rebuilds: {goals['rebuilds']}",
        "",
        "| compaction | rows after | tail before -> after | seconds | buckets written | buckets kept | buckets after |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, c in enumerate(body["compactions"]):
        lines.append(
            f"| {i + 1} | {c['after_rows']:,} | {c['tail_rows_before']:,} -> {c['tail_rows_after']:,} | "
            f"{c['seconds']:.1f} | {c['buckets_rewritten_or_new']} | {c['buckets_kept']} | {c['buckets_after']} |"
        )
    return "\n".join(lines) + "\n"


def _slow_line(slow: dict | None) -> list[str]:
    """Where the busy phase's slow queries fell (absent from results written before it was measured)."""
    if not slow:
        return []
    return [
        f"- queries over {slow['over_ms']:.2f} ms (2x the quiet p99) while ingesting: {slow['slow']} of "
        f"{slow['busy_queries']:,}; {slow['during_prepare']} overlapped the reader preparing a version it moved "
        f"to ({_by(slow.get('during_prepare_by_operation', {}))}; preparing took "
        f"{slow['prepare_share_of_busy_time']:.0%} of the phase), {slow['after_move']} came within 50 ms after a "
        f"move, {slow['other']} elsewhere"
    ]


def _by(counts: dict) -> str:
    return ", ".join(f"{n} a version made by {op}" for op, n in sorted(counts.items())) or "none"
