"""Markdown reports and PNG charts of experiments (lift with its interval over time)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from vectree.experiments.ab import ExperimentResult
from vectree.experiments.analysis import Comparison
from vectree.experiments.backtest import BacktestResult
from vectree.experiments.holdout import HoldoutReport, WindowRow
from vectree.experiments.sequential import SequentialResult
from vectree.figures import pyplot, save_figure

__all__ = ["experiment_markdown", "backtest_markdown", "holdout_markdown", "plot_lift_over_time", "plot_sequential"]


def _pct(x: float) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:+.2%}"


def _num(x: float) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:+.4g}"


def _p(x: float | None) -> str:
    return "-" if x is None else ("<1e-12" if x < 1e-12 else f"{x:.3g}")


def _comparison_rows(comps: Sequence[Comparison]) -> list[str]:
    lines = [
        "| variant | vs | test | absolute lift [CI] | relative lift [CI] | p-value | adjusted p | always-valid p | "
        "decision |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in comps:
        seq = _p(c.sequential["p_value"]) if c.sequential else "-"
        lines.append(
            f"| {c.variant} | {c.control} | {c.test} | {_num(c.abs_lift)} [{_num(c.abs_ci[0])}, {_num(c.abs_ci[1])}] "
            f"| {_pct(c.rel_lift)} [{_pct(c.rel_ci[0])}, {_pct(c.rel_ci[1])}] | {_p(c.p_value)} | {_p(c.p_adjusted)} "
            f"| {seq} | {c.decision} |"
        )
    return lines


def experiment_markdown(
    result: ExperimentResult, *, title: str = "Experiment analysis", plot: str | None = None
) -> str:
    """A markdown report of an analysis: summary, comparisons, SRM check, decision."""
    ci = result.comparisons[0].ci_level if result.comparisons else 1 - result.alpha
    out = [
        f"# {title}",
        "",
        f"**Decision: {result.decision}.**",
        "",
        f"Metric: {result.metric} per unit; control: `{result.control}`; alpha = {result.alpha:g}; "
        f"multiple-comparison correction: {result.correction}; intervals at {ci:.4g} confidence.",
        "",
        "## Variants",
        "",
        "| variant | units | value | sd |",
        "|---|---|---|---|",
    ]
    out += [f"| {s['variant']} | {s['units']:,} | {s['value']:.6g} | {s['sd']:.4g} |" for s in result.summary]
    out += ["", "## Comparisons with the control", ""] + _comparison_rows(result.comparisons)
    srm = result.srm
    out += [
        "",
        "## Sample ratio check",
        "",
        f"Units per variant {srm.counts} against shares "
        f"{ ({k: round(v, 4) for k, v in srm.expected_shares.items()}) }: "
        f"chi2 = {srm.chi2:.3f}, p = {_p(srm.p_value)} -> "
        + (
            "**MISMATCH**: the assignment or logging is broken; do not trust the comparisons."
            if srm.mismatch
            else "no mismatch."
        ),
        "",
    ]
    if result.sequential:
        out += [
            "## Sequential (always-valid) test",
            "",
            "mSPRT: the p-value and interval stay valid however often the experiment was looked at.",
            "",
        ]
        for name, seq in result.sequential.items():
            f = seq.final
            where = (
                f"first crossed alpha at look {seq.stopped_at + 1} of {len(seq.looks)}"
                if seq.reject
                else f"never crossed alpha in {len(seq.looks)} looks"
            )
            out.append(
                f"- `{name}`: tau = {seq.tau:.4g}; final always-valid interval [{_num(f.ci_low)}, "
                f"{_num(f.ci_high)}]; {where}."
            )
        out.append("")
    if plot:
        out += [f"![lift over time]({plot})", ""]
    return "\n".join(out)


def backtest_markdown(result: BacktestResult, *, title: str = "Backtest") -> str:
    """A markdown report of a backtest: forward gain, reverse loss, their asymmetry, the verdict."""
    r = result
    return "\n".join(
        [
            f"# {title}",
            "",
            f"**Verdict: {r.verdict}.**",
            "",
            f"Forward run: `{r.old}` is the control, `{r.new}` the variant. Reverse run: `{r.new}` is the control, "
            f"`{r.old}` the variant.",
            "",
            *_comparison_rows([r.forward, r.reverse]),
            "",
            f"Gain + loss = {_num(r.asymmetry)} [{_num(r.asymmetry_ci[0])}, {_num(r.asymmetry_ci[1])}], "
            f"p = {_p(r.asymmetry_p_value)} (0 when the gain is exactly lost in reverse).",
            "",
        ]
    )


def holdout_markdown(report: HoldoutReport, *, title: str = "Long-running holdout", plot: str | None = None) -> str:
    """A markdown report of a holdout over time windows, with the trend test."""
    lines = [
        f"# {title}",
        "",
        f"`{report.variant}` against the holdout `{report.control}`, {report.metric} per unit, windows of "
        f"{report.window}.",
        "",
        f"**Trend: {report.drift}** (lift changes by {_num(report.slope_per_window)} per window, p = "
        f"{_p(report.slope_p_value)}).",
        "",
        "| window start | units (control / variant) | control | variant | absolute lift [CI] | relative lift | "
        "p-value |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {w.start} | {w.n_control:,} / {w.n_variant:,} | {w.control_value:.4g} | {w.variant_value:.4g} "
        f"| {_num(w.abs_lift)} [{_num(w.ci_low)}, {_num(w.ci_high)}] | {_pct(w.rel_lift)} | {_p(w.p_value)} |"
        for w in report.rows
    ]
    if plot:
        lines += ["", f"![lift per window]({plot})"]
    return "\n".join(lines) + "\n"


def plot_lift_over_time(
    rows: Sequence[WindowRow], path: str | Path, *, title: str = "Lift over time", cumulative: bool = True
) -> Path:
    """A PNG of the absolute lift and its interval at each window (cumulative or per window)."""
    plt = pyplot()
    x = list(range(len(rows)))
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110)
    lift = [r.abs_lift for r in rows]
    ax.fill_between(x, [r.ci_low for r in rows], [r.ci_high for r in rows], alpha=0.25, label="confidence interval")
    ax.plot(x, lift, marker="o", label="absolute lift (variant - control)")
    ax.axhline(0, color="black", linewidth=0.8)
    step = max(1, len(rows) // 10)
    ax.set_xticks(x[::step], [r.start for r in rows][::step], rotation=30, ha="right")
    ax.set_xlabel("cumulative up to window starting" if cumulative else "window starting")
    ax.set_ylabel("absolute lift")
    ax.set_title(title)
    ax.legend(loc="best")
    return save_figure(fig, path)


def plot_sequential(result: SequentialResult, path: str | Path, *, title: str = "Sequential test") -> Path:
    """A PNG of the lift with the always-valid interval at each look."""
    plt = pyplot()
    n = [lk.n_control + lk.n_variant for lk in result.looks]
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110)
    ax.fill_between(
        n,
        [lk.ci_low for lk in result.looks],
        [lk.ci_high for lk in result.looks],
        alpha=0.25,
        label="always-valid interval",
    )
    ax.plot(n, [lk.abs_lift for lk in result.looks], marker="o", label="absolute lift")
    ax.axhline(0, color="black", linewidth=0.8)
    if result.stopped_at is not None:
        ax.axvline(n[result.stopped_at], color="red", linestyle="--", label="first crossing of alpha")
    ax.set_xlabel("units so far")
    ax.set_ylabel("absolute lift")
    ax.set_title(title)
    ax.legend(loc="best")
    return save_figure(fig, path)
