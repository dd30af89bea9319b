"""A scorecard as Markdown tables and as a PNG: relative lift per metric, confidence and credible intervals side by
side."""

from __future__ import annotations

import math
from pathlib import Path

from vectree.experiments.scorecard import Scorecard
from vectree.figures import pyplot, save_figure

__all__ = ["scorecard_markdown", "plot_scorecard"]


def _pct(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:+.2%}"


def _num(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:+.4g}"


def _p(x: float | None) -> str:
    return "-" if x is None or not math.isfinite(x) else ("<1e-12" if x < 1e-12 else f"{x:.3g}")


def scorecard_markdown(card: Scorecard, *, title: str = "Scorecard", plot: str | None = None) -> str:
    """Markdown: units, SRM (with the explaining dimension), one row per metric and variant, the hybrid test.

    >>> import numpy as np, pandas as pd
    >>> from vectree.experiments.scorecard import scorecard
    >>> units = pd.DataFrame({"variant": ["a", "b"] * 500, "y": np.arange(1000) % 7})
    >>> "| y | b |" in scorecard_markdown(scorecard(units, ["y"]))
    True
    """
    level = 1 - card.alpha
    out = [
        f"# {title}",
        "",
        f"Control `{card.control}`; units per variant {card.n_units}; alpha = {card.alpha:g}; intervals at {level:.3g} "
        f"(confidence, frequentist; credible, Bayesian). p-values corrected across all {len(card.rows)} metric x "
        "variant "
        "pairs with Holm (family-wise error) and Benjamini-Hochberg (false discovery rate).",
        "",
        f"**Sample ratio: {card.srm.message}.**",
        "",
    ]
    if card.srm.dimensions:
        out += [
            "| dimension | variant x level chi2 p | mismatched levels (p < threshold) | overall p without them |",
            "|---|---|---|---|",
        ]
        for d in card.srm.dimensions:
            out.append(
                f"| {d.dimension} | {_p(d.p_value)} | {', '.join(d.mismatched_levels) or '-'} | "
                f"{_p(d.p_value_without_mismatched)} |"
            )
        out.append("")
    out += [
        "| metric | variant | analysis | absolute lift [CI] | relative lift [CI] | p | Holm p | BH p "
        "| chance to win | expected loss | relative lift [credible] | variance reduction |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in card.rows:
        f, b = r.frequentist, r.bayes
        flag = " **(BH)**" if r.reject_bh else ""
        out.append(
            f"| {r.metric}{'' if r.higher_is_better else ' (lower is better)'} | {f.variant} | {f.test} "
            f"| {_num(f.abs_lift)} [{_num(f.abs_ci[0])}, {_num(f.abs_ci[1])}] | {_pct(f.rel_lift)} "
            f"[{_pct(f.rel_ci[0])}, {_pct(f.rel_ci[1])}] "
            f"| {_p(f.p_value)} | {_p(r.p_holm)} | {_p(r.p_bh)}{flag} | {b.chance_to_win:.1%} | {b.expected_loss:.3g} "
            f"| {_pct(b.rel_lift)} [{_pct(b.rel_ci[0])}, {_pct(b.rel_ci[1])}] "
            f"| {'-' if r.variance_reduction is None else f'{r.variance_reduction:.1%}'} |"
        )
    bh, holm = card.launched("fdr_bh"), card.launched("holm")
    out += [
        "",
        f"Significant improvements: {len(holm)} with Holm "
        f"({', '.join(f'{r.metric}/{r.frequentist.variant}' for r in holm) or 'none'}), "
        f"{len(bh)} with BH ({', '.join(f'{r.metric}/{r.frequentist.variant}' for r in bh) or 'none'}). "
        f"Bayesian priors: {'; '.join(dict.fromkeys(r.bayes.prior for r in card.rows))}.",
        "",
    ]
    if card.hybrid:
        out += [
            "## Sequential hybrid (first metric)",
            "",
            "Always-valid mSPRT looks while running, one fixed-horizon test at the planned end; together at level "
            "alpha.",
            "",
        ]
        for name, h in card.hybrid.items():
            out.append(
                f"- `{name}`: planned {h.planned_n:,} units per arm, looks at alpha {h.alpha_sequential:.3g}, final "
                "test at "
                f"{h.alpha_final:.3g}: {h.decided_by}."
            )
        out.append("")
    if plot:
        out += [f"![lift per metric]({plot})", ""]
    return "\n".join(out)


def plot_scorecard(card: Scorecard, path: str | Path, *, title: str = "Relative lift per metric") -> Path:
    """A PNG: for each metric and variant, the relative lift with its confidence interval (frequentist)
    and its credible interval (Bayesian), one above the other."""
    plt = pyplot()

    rows = card.rows
    fig, ax = plt.subplots(figsize=(8.5, 1.2 + 0.55 * len(rows)), dpi=110)
    for i, r in enumerate(rows):
        y = len(rows) - 1 - i
        f, b = r.frequentist, r.bayes
        for off, mid, (lo, hi), color, lab in (
            (0.15, f.rel_lift, f.rel_ci, "tab:blue", f"frequentist ({1 - card.alpha:.0%} CI)"),
            (-0.15, b.rel_lift, b.rel_ci, "tab:orange", f"Bayesian ({b.credible_level:.0%} credible)"),
        ):
            if not all(map(math.isfinite, (mid, lo, hi))):
                continue
            ax.errorbar(
                [100 * mid],
                [y + off],
                xerr=[[100 * (mid - lo)], [100 * (hi - mid)]],
                fmt="o",
                color=color,
                capsize=3,
                label=lab if i == 0 else None,
            )
        ax.text(
            1.01,
            y,
            f"p={_p(f.p_value)}  P(win)={b.chance_to_win:.0%}",
            transform=ax.get_yaxis_transform(),
            va="center",
            fontsize=8,
        )
    ax.axvline(0, color="black", linewidth=0.8)
    labels = [
        f"{r.metric}{' (CUPED)' if r.variance_reduction is not None else ''}: {r.frequentist.variant}"
        for r in reversed(rows)
    ]
    ax.set_yticks(range(len(rows)), labels)
    ax.set_xlabel("relative lift over the control (%)")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    return save_figure(fig, path, tight_box=True)
