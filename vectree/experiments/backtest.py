"""Backtests: run the experiment the other way round and check that the gain is lost in reverse.

The seed's recipe for a result that looks too good (a +5% lift when +2% was expected): after the A/B
test, swap the roles, so the new system B is the control and the old system A the variant, and ask

1. is there a loss in reverse (B/A significantly negative)?
2. is the loss as large as the gain? With the forward lift ``g = B - A`` and the reverse lift
   ``l = A - B`` (both absolute), a real and lasting effect gives ``g + l = 0``; the z-test of
   ``g + l`` against 0 (standard error ``sqrt(se_g^2 + se_l^2)``, the two runs being independent
   samples) says whether the magnitudes differ. A gain that shrinks in reverse was overly optimistic:
   a novelty effect, a seasonal coincidence or a false positive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
from scipy import stats

from vectree.errors import InvalidInputError
from vectree.experiments.ab import _infer_metric, compare_groups, unit_table
from vectree.experiments.analysis import Comparison, decide

__all__ = ["BacktestResult", "backtest", "split_phases"]


@dataclass(frozen=True)
class BacktestResult:
    """Forward (old control, new variant) and reverse (new control, old variant) comparisons."""

    new: str
    old: str
    forward: Comparison
    reverse: Comparison
    asymmetry: float  # forward gain + reverse lift (0 when the gain is exactly lost in reverse)
    asymmetry_ci: tuple[float, float]
    asymmetry_p_value: float
    alpha: float
    higher_is_better: bool = True

    @property
    def gain(self) -> float:
        """Absolute lift of the new system in the forward test (new - old)."""
        return self.forward.abs_lift

    @property
    def loss(self) -> float:
        """Absolute lift of the old system in the reverse test (old - new); expected to be -gain."""
        return self.reverse.abs_lift

    @property
    def verdict(self) -> str:
        """A one-line reading of the backtest."""
        sign = 1 if self.higher_is_better else -1
        fwd_good = self.forward.p_value <= self.alpha and sign * self.gain > 0
        rev_lost = self.reverse.p_value <= self.alpha and sign * self.loss < 0
        if not fwd_good:
            return "nothing to confirm: the forward test found no significant gain"
        if not rev_lost:
            return (
                "not confirmed: the gain is not lost in reverse; the forward result may be a false positive "
                "or a novelty effect: keep the holdout running"
            )
        if self.asymmetry_p_value <= self.alpha:
            kind = "smaller" if abs(self.loss) < abs(self.gain) else "larger"
            return (
                f"partly confirmed: the loss in reverse ({self.loss:+.4g}) is significantly {kind} than the gain "
                f"({self.gain:+.4g}); the forward estimate was "
                f"{'overly optimistic' if kind == 'smaller' else 'conservative'}"
            )
        return f"confirmed: the gain ({self.gain:+.4g}) is lost in reverse ({self.loss:+.4g})"

    @property
    def confirmed(self) -> bool:
        """True when the verdict is a full confirmation."""
        return self.verdict.startswith("confirmed")

    def as_dict(self) -> dict:
        """A JSON-able dict."""
        return {
            "new": self.new,
            "old": self.old,
            "forward": self.forward.as_dict(),
            "reverse": self.reverse.as_dict(),
            "gain": self.gain,
            "loss": self.loss,
            "asymmetry": self.asymmetry,
            "asymmetry_ci": list(self.asymmetry_ci),
            "asymmetry_p_value": self.asymmetry_p_value,
            "alpha": self.alpha,
            "verdict": self.verdict,
            "confirmed": self.confirmed,
        }


def split_phases(df: pd.DataFrame, phase_col: str = "phase") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split one table into its forward and reverse runs by a phase column (values 'forward'/'reverse')."""
    if phase_col not in df.columns:
        raise InvalidInputError(f"no phase column {phase_col!r}; columns are {list(df.columns)}")
    phases = df[phase_col].astype(str).str.lower()
    fwd, rev = df[phases == "forward"], df[phases == "reverse"]
    if fwd.empty or rev.empty:
        raise InvalidInputError(
            f"column {phase_col!r} needs rows with 'forward' and with 'reverse', found {sorted(set(phases))}"
        )
    return fwd, rev


def backtest(
    forward: pd.DataFrame,
    reverse: pd.DataFrame,
    *,
    new: str,
    old: str,
    alpha: float = 0.05,
    metric: str = "auto",
    higher_is_better: bool = True,
    variant_col: str = "variant",
    outcome_col: str = "outcome",
    unit_col: str | None = "unit",
) -> BacktestResult:
    """Compare the forward run (``old`` control, ``new`` variant) with the reverse run (roles swapped).

    Both tables hold exposures with the variant names ``new`` and ``old``; which one was the control
    is given by the run, not by the data.
    """
    fu = unit_table(forward, variant_col=variant_col, outcome_col=outcome_col, unit_col=unit_col)
    ru = unit_table(reverse, variant_col=variant_col, outcome_col=outcome_col, unit_col=unit_col)
    for name, units in (("forward", fu), ("reverse", ru)):
        missing = {new, old} - set(units["variant"])
        if missing:
            raise InvalidInputError(
                f"the {name} run has no rows for variant(s) {sorted(missing)}; it has {sorted(set(units['variant']))}"
            )
    metric = _infer_metric(pd.concat([fu, ru]), metric)
    fwd = compare_groups(fu, old, new, metric, alpha)
    rev = compare_groups(ru, new, old, metric, alpha)
    decide(fwd, higher_is_better=higher_is_better)
    decide(rev, higher_is_better=higher_is_better)
    asym = fwd.abs_lift + rev.abs_lift
    se = math.sqrt(fwd.se**2 + rev.se**2)
    z = float(stats.norm.ppf(1 - alpha / 2))
    p = float(2 * stats.norm.sf(abs(asym) / se)) if se > 0 else float(asym == 0)
    return BacktestResult(new, old, fwd, rev, asym, (asym - z * se, asym + z * se), p, alpha, higher_is_better)
