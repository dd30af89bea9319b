"""Lift over time: per-window and cumulative comparisons, and a trend test for long-running holdouts.

A launch that looked good in a two-week test can fade (a novelty effect) or turn harmful (users tire of
more ads). A long-running holdout keeps a small share of users on the old system; this module cuts its
exposures into time windows, compares the variant to the control in each, and fits a weighted
least-squares line (statsmodels ``WLS``, weights 1 / se^2) through the per-window lifts: a significant
slope against the good direction is a drift that the short test could not see.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm

from vectree.errors import InvalidInputError
from vectree.experiments.ab import _infer_metric, compare_groups, unit_table

__all__ = ["WindowRow", "HoldoutReport", "lift_over_time", "holdout_report"]


@dataclass(frozen=True)
class WindowRow:
    """The comparison within one time window (or cumulatively up to its end)."""

    start: str
    n_control: int
    n_variant: int
    control_value: float
    variant_value: float
    abs_lift: float
    ci_low: float
    ci_high: float
    rel_lift: float
    p_value: float
    se: float


@dataclass(frozen=True)
class HoldoutReport:
    """Per-window lifts of a long-running holdout and the trend through them."""

    control: str
    variant: str
    metric: str
    window: str
    cumulative: bool
    rows: list[WindowRow]
    slope_per_window: float  # change of the absolute lift per window (WLS)
    slope_p_value: float
    alpha: float
    higher_is_better: bool = True

    @property
    def drift(self) -> str:
        """'fading' / 'growing' when the slope is significant, else 'stable'."""
        if not np.isfinite(self.slope_p_value) or self.slope_p_value > self.alpha:
            return "stable"
        return "growing" if (self.slope_per_window > 0) == self.higher_is_better else "fading"

    def as_dict(self) -> dict:
        """A JSON-able dict."""
        d = asdict(self)
        d["drift"] = self.drift
        return d


def _window_keys(time: pd.Series, window: str | float) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(time):
        try:
            return time.dt.floor(str(window))
        except ValueError as exc:
            raise InvalidInputError(
                f"window {window!r} is not a fixed pandas frequency such as '1D', '7D' or '12h' ({exc})"
            ) from exc
    width = float(window)
    if not width > 0:
        raise InvalidInputError(f"a numeric time column needs a positive numeric window, got {window!r}")
    return np.floor(time / width) * width


def lift_over_time(
    df: pd.DataFrame,
    *,
    control: str,
    variant: str,
    time_col: str = "time",
    window: str | float = "1D",
    cumulative: bool = True,
    variant_col: str = "variant",
    outcome_col: str = "outcome",
    unit_col: str | None = "unit",
    metric: str = "auto",
    alpha: float = 0.05,
    min_units: int = 20,
) -> list[WindowRow]:
    """The lift of ``variant`` over ``control`` per time window, or cumulatively up to each window's end.

    Units are placed by their first exposure. Windows with fewer than ``min_units`` units in an arm are skipped.
    """
    return _lift_rows(
        df,
        control=control,
        variant=variant,
        time_col=time_col,
        window=window,
        cumulative=cumulative,
        variant_col=variant_col,
        outcome_col=outcome_col,
        unit_col=unit_col,
        metric=metric,
        alpha=alpha,
        min_units=min_units,
    )[0]


def _lift_rows(
    df: pd.DataFrame,
    *,
    control: str,
    variant: str,
    time_col: str,
    window: str | float,
    cumulative: bool,
    variant_col: str = "variant",
    outcome_col: str = "outcome",
    unit_col: str | None = "unit",
    metric: str = "auto",
    alpha: float = 0.05,
    min_units: int = 20,
) -> tuple[list[WindowRow], str]:
    units = unit_table(df, variant_col=variant_col, outcome_col=outcome_col, unit_col=unit_col, time_col=time_col)
    for name in (control, variant):
        if name not in set(units["variant"]):
            raise InvalidInputError(f"variant {name!r} not in the data; variants are {sorted(set(units['variant']))}")
    metric = _infer_metric(units, metric)
    units = units[units["variant"].isin([control, variant])].copy()
    units["window"] = _window_keys(units["time"], window)
    rows = []
    keys = sorted(units["window"].unique())
    for key in keys:
        part = units[units["window"] <= key] if cumulative else units[units["window"] == key]
        counts = part["variant"].value_counts()
        if counts.get(control, 0) < min_units or counts.get(variant, 0) < min_units:
            continue
        c = compare_groups(part, control, variant, metric, alpha)
        rows.append(
            WindowRow(
                str(pd.Timestamp(key).date()) if isinstance(key, pd.Timestamp) else f"{key:g}",
                c.n_control,
                c.n_variant,
                c.control_value,
                c.variant_value,
                c.abs_lift,
                c.abs_ci[0],
                c.abs_ci[1],
                c.rel_lift,
                c.p_value,
                c.se,
            )
        )
    if not rows:
        raise InvalidInputError(f"no window has {min_units} units in both arms; use a wider window than {window!r}")
    return rows, metric


def holdout_report(
    df: pd.DataFrame,
    *,
    control: str,
    variant: str,
    time_col: str = "time",
    window: str | float = "7D",
    alpha: float = 0.05,
    higher_is_better: bool = True,
    **kwargs,
) -> HoldoutReport:
    """Per-window lifts of a long-running holdout and a WLS trend test through them (see the module doc)."""
    rows, metric = _lift_rows(
        df, control=control, variant=variant, time_col=time_col, window=window, cumulative=False, alpha=alpha, **kwargs
    )
    y = np.array([r.abs_lift for r in rows])
    se = np.array([r.se for r in rows])
    slope, p = float("nan"), float("nan")
    if len(rows) >= 3 and np.all(se > 0):
        fit = sm.WLS(y, sm.add_constant(np.arange(len(rows), dtype=np.float64)), weights=1.0 / se**2).fit()
        slope, p = float(fit.params[1]), float(fit.pvalues[1])
    return HoldoutReport(control, variant, metric, str(window), False, rows, slope, p, alpha, higher_is_better)
