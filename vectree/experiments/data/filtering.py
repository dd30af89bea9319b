"""Training-data filtering with a report of what was removed and why.

- exact duplicates: rows equal on the chosen columns (the first is kept);
- near duplicates: rows whose embeddings are within a distance of each other, found with a vectree
  collection (see :mod:`vectree.experiments.data.near_duplicates`);
- bot-like sessions, as the seed describes for search logs: sessions with many impressions and no
  click (they would add wrong negative examples), sessions that fire impressions faster than a person
  can, and, optionally, sessions that click on nearly everything.

Every function returns the kept rows and a :class:`FilterReport`; reports add up with ``+``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from vectree.errors import InvalidInputError

__all__ = ["FilterStep", "FilterReport", "drop_exact_duplicates", "bot_sessions", "drop_bot_sessions"]


@dataclass(frozen=True)
class FilterStep:
    """One reason rows were removed."""

    name: str
    reason: str
    rows_removed: int
    units_removed: int = 0  # sessions, groups or clusters affected
    examples: list = field(default_factory=list)


@dataclass
class FilterReport:
    """What a filtering pipeline removed, step by step."""

    rows_in: int
    rows_out: int
    steps: list[FilterStep] = field(default_factory=list)

    def __add__(self, later: FilterReport) -> FilterReport:
        if later.rows_in != self.rows_out:
            raise InvalidInputError(
                f"reports do not chain: the first ends with {self.rows_out} rows, the next starts with {later.rows_in}"
            )
        return FilterReport(self.rows_in, later.rows_out, self.steps + later.steps)

    @property
    def rows_removed(self) -> int:
        """Rows removed by all steps."""
        return self.rows_in - self.rows_out

    def as_dict(self) -> dict:
        """A JSON-able dict."""
        return {
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "steps": [
                {
                    "name": s.name,
                    "reason": s.reason,
                    "rows_removed": s.rows_removed,
                    "units_removed": s.units_removed,
                    "examples": [str(e) for e in s.examples],
                }
                for s in self.steps
            ],
        }

    def to_markdown(self) -> str:
        """The report as a markdown table."""
        lines = [
            f"Kept {self.rows_out:,} of {self.rows_in:,} rows ({self.rows_removed:,} removed).",
            "",
            "| step | rows removed | units | why | examples |",
            "|---|---|---|---|---|",
        ]
        for s in self.steps:
            ex = ", ".join(str(e) for e in s.examples[:3]) or "-"
            lines.append(f"| {s.name} | {s.rows_removed:,} | {s.units_removed:,} | {s.reason} | {ex} |")
        return "\n".join(lines) + "\n"


def drop_exact_duplicates(
    table: pd.DataFrame, subset: Sequence[str] | None = None
) -> tuple[pd.DataFrame, FilterReport]:
    """Drop rows equal to an earlier row on ``subset`` (all columns by default); keep the first."""
    if subset is not None:
        missing = [c for c in subset if c not in table.columns]
        if missing:
            raise InvalidInputError(f"column(s) {missing} not in the table; it has {list(table.columns)}")
    dup = table.duplicated(subset=list(subset) if subset is not None else None, keep="first").to_numpy()
    kept = table[~dup]
    groups = (
        int(table[dup].drop_duplicates(subset=list(subset) if subset is not None else None).shape[0])
        if dup.any()
        else 0
    )
    cols = ", ".join(subset) if subset is not None else "all columns"
    step = FilterStep(
        "exact duplicates", f"equal to an earlier row on {cols}", int(dup.sum()), groups, table.index[dup][:5].tolist()
    )
    return kept, FilterReport(len(table), len(kept), [step])


def bot_sessions(
    table: pd.DataFrame,
    *,
    session_col: str = "session",
    click_col: str = "click",
    time_col: str | None = None,
    min_impressions_no_click: int | None = 20,
    max_impressions_per_minute: float | None = 60.0,
    max_ctr: float | None = None,
    min_impressions_for_ctr: int = 20,
) -> pd.DataFrame:
    """Per-session statistics and the rule each bot-like session breaks (``reason``; '' for people).

    One row of ``table`` is one impression; ``click_col`` is 1 when it was clicked. Rules:
    ``min_impressions_no_click`` impressions or more and no click; more than
    ``max_impressions_per_minute`` (needs ``time_col``; sessions lasting under a minute count as one
    minute); a click-through rate above ``max_ctr`` over at least ``min_impressions_for_ctr`` impressions.
    """
    need = [c for c in (session_col, click_col, time_col) if c is not None and c not in table.columns]
    if need:
        raise InvalidInputError(f"column(s) {need} not in the table; it has {list(table.columns)}")
    clicks = pd.to_numeric(table[click_col], errors="coerce")
    if clicks.isna().any() or not clicks.isin([0, 1]).all():
        raise InvalidInputError(
            f"{click_col!r} must be 0/1 per impression, found e.g. "
            f"{table.loc[~clicks.isin([0, 1]), click_col].head(3).tolist()}"
        )
    g = pd.DataFrame({"session": table[session_col].to_numpy(), "click": clicks.to_numpy()})
    stats = g.groupby("session", sort=False).agg(impressions=("click", "size"), clicks=("click", "sum"))
    stats["ctr"] = stats["clicks"] / stats["impressions"]
    if time_col is not None:
        t = table[time_col]
        t = (
            pd.to_datetime(t, utc=True)
            if not pd.api.types.is_numeric_dtype(t)
            else pd.to_datetime(t, unit="s", utc=True)
        )
        span = (
            pd.Series(t.to_numpy())
            .groupby(g["session"].to_numpy(), sort=False)
            .agg(lambda s: (s.max() - s.min()).total_seconds())
        )
        stats["minutes"] = np.maximum(span.reindex(stats.index).to_numpy() / 60.0, 1.0)
        stats["impressions_per_minute"] = stats["impressions"] / stats["minutes"]
    reason = pd.Series("", index=stats.index, dtype=object)
    if min_impressions_no_click is not None:
        hit = (stats["impressions"] >= min_impressions_no_click) & (stats["clicks"] == 0)
        reason[hit & (reason == "")] = f"{min_impressions_no_click}+ impressions and no click"
    if max_impressions_per_minute is not None and time_col is not None:
        hit = stats["impressions_per_minute"] > max_impressions_per_minute
        reason[hit & (reason == "")] = f"more than {max_impressions_per_minute:g} impressions per minute"
    if max_ctr is not None:
        hit = (stats["impressions"] >= min_impressions_for_ctr) & (stats["ctr"] > max_ctr)
        reason[hit & (reason == "")] = f"click-through rate above {max_ctr:g}"
    stats["reason"] = reason
    return stats


def drop_bot_sessions(
    table: pd.DataFrame, *, session_col: str = "session", **rules
) -> tuple[pd.DataFrame, FilterReport]:
    """Drop every impression of the bot-like sessions found by :func:`bot_sessions`; one report step per rule."""
    stats = bot_sessions(table, session_col=session_col, **rules)
    flagged = stats[stats["reason"] != ""]
    session_reason = flagged["reason"]
    row_reason = table[session_col].map(session_reason)
    drop = row_reason.notna().to_numpy()
    steps = []
    for why, sessions in flagged.groupby("reason", sort=False):
        rows = int((row_reason == why).sum())
        steps.append(FilterStep("bot-like sessions", why, rows, len(sessions), sessions.index[:5].tolist()))
    kept = table[~drop]
    return kept, FilterReport(len(table), len(kept), steps)
