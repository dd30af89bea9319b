"""The report of ``benchmarks/scale_ingest.py``: where its slow queries fell, and the markdown (phases, goals, the
refresher's moves, compactions)."""

from __future__ import annotations

import numpy as np


def slow_queries(records: list, refreshes: list, over_s: float, after: float = 0.05) -> dict:
    """Where the slow queries of the busy phase fell: while the reader prepared a version it then moved
    to, within ``after`` seconds after such a move, or elsewhere (the writer's process, the machine)."""
    moves = sorted((t, t + s, op) for s, m, t, op in refreshes if m)
    starts, ends = np.array([a for a, _, _ in moves] or [np.inf]), np.array([b for _, b, _ in moves] or [np.inf])
    out = {"over_ms": over_s * 1000, "busy_queries": 0, "slow": 0, "during_prepare": 0, "after_move": 0, "other": 0}
    out["during_prepare_by_operation"] = {}
    for r in records:
        if r[4] != 1:
            continue
        out["busy_queries"] += 1
        if r[2] <= over_s:
            continue
        out["slow"] += 1
        t0, t1 = r[5], r[5] + r[2]
        i = int(np.searchsorted(starts, t1)) - 1  # the last move started before the query ended
        if i >= 0 and starts[i] <= t1 and ends[i] >= t0:
            out["during_prepare"] += 1
            by = out["during_prepare_by_operation"]
            by[moves[i][2]] = by.get(moves[i][2], 0) + 1
        elif i >= 0 and 0 <= t0 - ends[i] <= after:
            out["after_move"] += 1
        else:
            out["other"] += 1
    out["prepare_share_of_busy_time"] = _busy_share(moves, records)
    return out


def _busy_share(moves: list, records: list) -> float:
    """The fraction of the busy phase's span the reader spent preparing versions."""
    busy = [r[5] for r in records if r[4] == 1]
    if not busy:
        return 0.0
    lo, hi = min(busy), max(busy)
    inside = sum(max(0.0, min(b, hi) - max(a, lo)) for a, b, _ in moves)
    return inside / max(hi - lo, 1e-9)


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
