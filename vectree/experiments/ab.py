"""Analyse an experiment from a table of exposures and outcomes (one row per unit, or per exposure).

The table has a variant column, an outcome column and, optionally, a unit column (the randomisation
unit: rows of one unit are aggregated to one value, since units, not impressions, are independent) and a
time column (for sequential looks and lift over time). Every treatment is compared to the control.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from vectree.errors import InvalidInputError
from vectree.experiments.analysis import (
    Comparison,
    SRMResult,
    compare_means,
    compare_proportions,
    correct,
    decide,
    srm_check,
)
from vectree.experiments.sequential import SequentialResult, sequential_test

__all__ = ["ExperimentResult", "analyze", "read_exposures", "unit_table", "compare_groups"]

log = logging.getLogger(__name__)


@dataclass
class ExperimentResult:
    """The whole analysis: per-variant summary, comparisons to the control, SRM check, decision."""

    metric: str
    control: str
    alpha: float
    correction: str
    summary: list[dict]  # one dict per variant: variant, units, value, sd
    comparisons: list[Comparison]
    srm: SRMResult
    sequential: dict[str, SequentialResult] = field(default_factory=dict)

    @property
    def decision(self) -> str:
        """One line: which variant (if any) to launch, and why."""
        if self.srm.mismatch:
            return (
                f"do not launch: sample ratio mismatch (p = {self.srm.p_value:.2g}); fix the assignment or "
                "logging first"
            )
        winners = [c for c in self.comparisons if c.decision.startswith("launch")]
        if not winners:
            return "do not launch: no variant is significantly better than the control"
        best = max(winners, key=lambda c: c.abs_lift)
        return f"launch {best.variant}: {best.abs_lift:+.4g} ({best.rel_lift:+.2%}) over {best.control}"

    def as_dict(self) -> dict:
        """A JSON-able dict."""
        return {
            "metric": self.metric,
            "control": self.control,
            "alpha": self.alpha,
            "correction": self.correction,
            "summary": self.summary,
            "comparisons": [c.as_dict() for c in self.comparisons],
            "srm": self.srm.as_dict(),
            "decision": self.decision,
        }


def read_exposures(path: str | Path) -> pd.DataFrame:
    """Read a CSV of exposures and outcomes (any columns; see :func:`analyze` for the names used)."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"no such CSV file: {path}")
    return pd.read_csv(path)


def _require(df: pd.DataFrame, *cols: str | None) -> None:
    missing = [c for c in cols if c is not None and c not in df.columns]
    if missing:
        raise InvalidInputError(
            f"column(s) {missing} not in the table; it has {list(df.columns)} (rename or pass the column names)"
        )


def unit_table(
    df: pd.DataFrame,
    *,
    variant_col: str = "variant",
    outcome_col: str = "outcome",
    unit_col: str | None = "unit",
    time_col: str | None = None,
    aggregate: str = "auto",
) -> pd.DataFrame:
    """One row per unit: ``variant``, ``outcome`` (aggregated) and ``time`` (first exposure), if present.

    ``aggregate`` is how a unit's rows combine: ``max`` (converted at least once; the default for 0/1
    outcomes), ``sum`` (the default otherwise), ``mean`` or ``first``. A unit seen in two variants is an
    assignment bug and raises.
    """
    _require(df, variant_col, outcome_col, time_col)
    if df.empty:
        raise InvalidInputError("the exposure table is empty")
    out = pd.DataFrame(
        {"variant": df[variant_col].astype(str), "outcome": pd.to_numeric(df[outcome_col], errors="coerce")}
    )
    if out["outcome"].isna().any():
        bad = df.loc[out["outcome"].isna(), outcome_col].head(3).tolist()
        raise InvalidInputError(f"outcome column {outcome_col!r} has missing or non-numeric values, e.g. {bad}")
    if time_col is not None:
        out["time"] = _to_time(df[time_col])
    if unit_col is None or unit_col not in df.columns:
        return out
    out["unit"] = df[unit_col].to_numpy()
    per_unit = out.groupby("unit")["variant"].nunique()
    if (per_unit > 1).any():
        bad = per_unit[per_unit > 1].index[:5].tolist()
        raise InvalidInputError(
            f"{int((per_unit > 1).sum())} unit(s) appear in more than one variant, e.g. {bad}: "
            "the assignment is not deterministic per unit; fix it before analysing"
        )
    binary = bool(out["outcome"].isin([0, 1]).all())
    how = ("max" if binary else "sum") if aggregate == "auto" else aggregate
    if how not in ("max", "sum", "mean", "first"):
        raise InvalidInputError(f"aggregate must be auto, max, sum, mean or first, got {aggregate!r}")
    agg = {"variant": "first", "outcome": how}
    if "time" in out.columns:
        agg["time"] = "min"
    return out.groupby("unit", sort=False).agg(agg).reset_index()


def _to_time(col: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(col):
        return col.astype(np.float64)
    t = pd.to_datetime(col, errors="coerce", utc=True)
    if t.isna().any():
        raise InvalidInputError(f"time column has values that are not dates, e.g. {col[t.isna()].head(3).tolist()}")
    return t


def _infer_metric(units: pd.DataFrame, metric: str) -> str:
    if metric in ("proportion", "mean"):
        return metric
    if metric != "auto":
        raise InvalidInputError(f"metric must be auto, proportion or mean, got {metric!r}")
    return "proportion" if units["outcome"].isin([0, 1]).all() else "mean"


def compare_groups(
    units: pd.DataFrame, control: str, variant: str, metric: str, alpha: float, ci_alpha: float | None = None
) -> Comparison:
    """Compare two variants of a unit table (see :func:`unit_table`) with the test for ``metric``."""
    yc = units.loc[units["variant"] == control, "outcome"].to_numpy(np.float64)
    yt = units.loc[units["variant"] == variant, "outcome"].to_numpy(np.float64)
    if metric == "proportion":
        return compare_proportions(
            int(yc.sum()), len(yc), int(yt.sum()), len(yt), alpha=alpha, ci_alpha=ci_alpha, names=(control, variant)
        )
    return compare_means(yc, yt, alpha=alpha, ci_alpha=ci_alpha, names=(control, variant))


def analyze(
    df: pd.DataFrame,
    *,
    variant_col: str = "variant",
    outcome_col: str = "outcome",
    unit_col: str | None = "unit",
    time_col: str | None = None,
    control: str | None = None,
    metric: str = "auto",
    alpha: float = 0.05,
    correction: str = "holm",
    expected_shares: Mapping[str, float] | None = None,
    aggregate: str = "auto",
    sequential: bool = False,
    tau: float | None = None,
    higher_is_better: bool = True,
    srm_threshold: float = 0.001,
) -> ExperimentResult:
    """Analyse an A/B(/n) test: tests, intervals, SRM check, multiple-comparison correction, decision.

    ``control`` defaults to a variant named ``control`` (or ``A``), else the first in sorted order.
    With ``sequential=True`` the decision uses the always-valid mSPRT p-value (safe under peeking),
    computed over units in order of ``time_col`` (or row order), with ``tau`` the effect it is tuned for.
    """
    units = unit_table(
        df, variant_col=variant_col, outcome_col=outcome_col, unit_col=unit_col, time_col=time_col, aggregate=aggregate
    )
    names = sorted(units["variant"].unique().tolist())
    if len(names) < 2:
        raise InvalidInputError(f"need at least 2 variants in column {variant_col!r}, found {names}")
    control = control or next((n for n in ("control", "A", "a") if n in names), names[0])
    if control not in names:
        raise InvalidInputError(f"control variant {control!r} not in the data; variants are {names}")
    metric = _infer_metric(units, metric)
    treatments = [n for n in names if n != control]
    m = len(treatments)
    ci_alpha = alpha / m if correction != "none" else alpha
    comps = [compare_groups(units, control, t, metric, alpha, ci_alpha) for t in treatments]
    correct(comps, correction)
    srm = srm_check(units["variant"].value_counts().reindex(names).to_dict(), expected_shares, threshold=srm_threshold)
    if srm.mismatch:
        log.warning(
            "sample ratio mismatch: counts %s, expected shares %s, p=%.3g", srm.counts, srm.expected_shares, srm.p_value
        )
    seq: dict[str, SequentialResult] = {}
    if sequential:
        ordered = units.sort_values("time", kind="stable") if "time" in units.columns else units
        yc = ordered.loc[ordered["variant"] == control, "outcome"].to_numpy(np.float64)
        for c in comps:
            yt = ordered.loc[ordered["variant"] == c.variant, "outcome"].to_numpy(np.float64)
            res = sequential_test(yc, yt, alpha=ci_alpha, tau=tau)
            seq[c.variant] = res
            c.sequential = {
                "p_value": res.final.p_value,
                "ci": [res.final.ci_low, res.final.ci_high],
                "tau": res.tau,
                "rejected_at_look": res.stopped_at,
                "looks": len(res.looks),
            }
            if m > 1:  # Bonferroni on always-valid p-values keeps the family-wise guarantee
                c.sequential["p_value"] = min(1.0, c.sequential["p_value"] * m)
    for c in comps:
        decide(c, higher_is_better=higher_is_better, srm_ok=not srm.mismatch)
    summary = []
    for n in names:
        y = units.loc[units["variant"] == n, "outcome"].to_numpy(np.float64)
        summary.append(
            {
                "variant": n,
                "units": int(len(y)),
                "value": float(y.mean()),
                "sd": float(y.std(ddof=1)) if len(y) > 1 else 0.0,
            }
        )
    return ExperimentResult(metric, control, alpha, correction, summary, comps, srm, seq)
