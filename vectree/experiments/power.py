"""Power analysis: how many units per variant to detect a minimum effect, and the effect detectable with n.

The numbers come from statsmodels: ``NormalIndPower`` with Cohen's h (``proportion_effectsize``) for
proportions (conversion, click-through) and ``TTestIndPower`` with Cohen's d for means. With more than
two variants, each treatment is compared to the control at a Bonferroni-corrected alpha, which is the
conservative plan for the Holm correction that :func:`vectree.experiments.analyze` applies.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import proportion_effectsize

from vectree.errors import InvalidInputError

__all__ = [
    "PowerPlan",
    "sample_size_proportions",
    "sample_size_means",
    "detectable_effect_proportions",
    "detectable_effect_means",
    "power_proportions",
    "power_means",
]

Alternative = Literal["two-sided", "larger", "smaller"]


@dataclass(frozen=True)
class PowerPlan:
    """A planned experiment: the sample size per variant for a minimum detectable effect (MDE)."""

    metric: str  # "proportion" or "mean"
    baseline: float  # control rate (proportions) or control mean (means; informational)
    sd: float | None  # outcome standard deviation (means only)
    mde_abs: float  # absolute minimum detectable effect (variant - control)
    mde_rel: float | None  # the same relative to the baseline, when the baseline is non-zero
    alpha: float  # family-wise alpha
    alpha_per_comparison: float
    power: float
    ratio: float  # units in each treatment per unit in the control
    n_variants: int
    effect_size: float  # Cohen's h (proportions) or d (means)
    n_control: int
    n_treatment: int  # per treatment variant
    cuped_rho: float = 0.0  # correlation of the outcome with its pre-experiment covariate(s) (multiple R)
    n_control_without_cuped: int | None = None  # the plain plan's control size, when CUPED shrank it

    @property
    def n_total(self) -> int:
        """Units needed across all variants."""
        return self.n_control + self.n_treatment * (self.n_variants - 1)

    def as_dict(self) -> dict:
        """A JSON-able dict, with ``n_total``."""
        return {**asdict(self), "n_total": self.n_total}

    def to_markdown(self) -> str:
        """The plan as a short markdown table."""
        rel = f" ({self.mde_rel:+.2%} relative)" if self.mde_rel is not None else ""
        rows = [
            ("metric", self.metric),
            ("baseline", f"{self.baseline:.6g}"),
            ("standard deviation", "-" if self.sd is None else f"{self.sd:.6g}"),
            ("minimum detectable effect", f"{self.mde_abs:+.6g}{rel}"),
            ("alpha (per comparison)", f"{self.alpha:g} ({self.alpha_per_comparison:.4g})"),
            ("power", f"{self.power:g}"),
            ("variants", str(self.n_variants)),
            ("units in control", f"{self.n_control:,}"),
            ("units per treatment", f"{self.n_treatment:,}"),
            ("units in total", f"{self.n_total:,}"),
        ]
        if self.cuped_rho:
            rows.insert(
                -3, ("CUPED correlation (variance x 1 - rho^2)", f"{self.cuped_rho:g} (x{1 - self.cuped_rho**2:.3g})")
            )
            rows.append(("units in control without CUPED", f"{self.n_control_without_cuped:,}"))
        lines = ["| quantity | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows]
        return "\n".join(lines) + "\n"


def _check_common(alpha: float, power: float | None, ratio: float, n_variants: int) -> float:
    if not 0 < alpha < 1:
        raise InvalidInputError(f"alpha must be in (0, 1), got {alpha}")
    if power is not None and not 0 < power < 1:
        raise InvalidInputError(f"power must be in (0, 1), got {power}")
    if not ratio > 0:
        raise InvalidInputError(f"ratio (treatment units per control unit) must be > 0, got {ratio}")
    if n_variants < 2:
        raise InvalidInputError(f"n_variants must be at least 2 (control + one treatment), got {n_variants}")
    return alpha / (n_variants - 1)


def _mde_abs(baseline: float, mde: float, relative: bool) -> float:
    if mde == 0 or not math.isfinite(mde):
        raise InvalidInputError(f"the minimum detectable effect must be a non-zero number, got {mde}")
    return baseline * mde if relative else mde


def _check_rho(rho: float) -> float:
    if not 0 <= rho < 1:
        raise InvalidInputError(
            f"cuped_rho (correlation with the pre-experiment covariate) must be in [0, 1), got {rho}"
        )
    return 1.0 - rho * rho


def _check_rate(name: str, p: float) -> None:
    if not 0 < p < 1:
        raise InvalidInputError(f"{name} must be a rate in (0, 1), got {p}; for a relative MDE pass relative=True")


def sample_size_proportions(
    baseline: float,
    mde: float,
    *,
    relative: bool = False,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    n_variants: int = 2,
    alternative: Alternative = "two-sided",
    cuped_rho: float = 0.0,
) -> PowerPlan:
    """Units per variant to detect a change of ``mde`` in a rate (conversion, click-through).

    ``mde`` is absolute (0.01 = one percentage point) unless ``relative=True`` (0.05 = +5% of the
    baseline). Uses statsmodels ``NormalIndPower`` on Cohen's h. ``cuped_rho``: the correlation of the
    outcome with its pre-experiment covariate; CUPED multiplies the variance, hence the units, by
    ``1 - rho^2``.

    >>> sample_size_proportions(0.10, 0.02).n_control
    3835
    >>> sample_size_proportions(0.10, 0.02, cuped_rho=0.5).n_control
    2876
    """
    factor = _check_rho(cuped_rho)
    _check_rate("baseline", baseline)
    a = _check_common(alpha, power, ratio, n_variants)
    delta = _mde_abs(baseline, mde, relative)
    _check_rate("baseline + mde", baseline + delta)
    h = float(proportion_effectsize(baseline + delta, baseline))
    n1 = NormalIndPower().solve_power(
        effect_size=abs(h), nobs1=None, alpha=a, power=power, ratio=ratio, alternative=_alt(alternative, h)
    )
    n1 = float(np.ravel(n1)[0])
    plain = math.ceil(n1)
    n1 *= factor
    return PowerPlan(
        "proportion",
        baseline,
        None,
        delta,
        delta / baseline,
        alpha,
        a,
        power,
        ratio,
        n_variants,
        h,
        math.ceil(n1),
        math.ceil(n1 * ratio),
        cuped_rho,
        plain if cuped_rho else None,
    )


def sample_size_means(
    mde: float,
    sd: float,
    *,
    baseline: float = 0.0,
    relative: bool = False,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    n_variants: int = 2,
    alternative: Alternative = "two-sided",
    cuped_rho: float = 0.0,
) -> PowerPlan:
    """Units per variant to detect a change of ``mde`` in a mean with standard deviation ``sd``.

    Uses statsmodels ``TTestIndPower`` on Cohen's d = mde / sd. ``relative=True`` reads ``mde`` as a
    fraction of ``baseline``. ``cuped_rho``: with CUPED the adjusted outcome's standard deviation is
    ``sd * sqrt(1 - rho^2)``, and the plan is solved for it.

    >>> sample_size_means(1.0, 5.0).n_control, sample_size_means(1.0, 5.0, cuped_rho=0.7).n_control
    (394, 202)
    """
    factor = _check_rho(cuped_rho)
    if not sd > 0:
        raise InvalidInputError(f"sd must be > 0, got {sd}")
    a = _check_common(alpha, power, ratio, n_variants)
    delta = _mde_abs(baseline, mde, relative)

    def solve(d: float) -> float:
        n = TTestIndPower().solve_power(
            effect_size=abs(d), nobs1=None, alpha=a, power=power, ratio=ratio, alternative=_alt(alternative, d)
        )
        return float(np.ravel(n)[0])

    d = delta / (sd * math.sqrt(factor))
    n1 = solve(d)
    plain = math.ceil(solve(delta / sd)) if cuped_rho else None
    rel = delta / baseline if baseline else None
    return PowerPlan(
        "mean",
        baseline,
        sd,
        delta,
        rel,
        alpha,
        a,
        power,
        ratio,
        n_variants,
        d,
        math.ceil(n1),
        math.ceil(n1 * ratio),
        cuped_rho,
        plain,
    )


def _alt(alternative: str, effect: float) -> str:
    """statsmodels expects a positive effect size for one-sided plans; flip the side for a negative MDE."""
    if alternative not in ("two-sided", "larger", "smaller"):
        raise InvalidInputError(f"alternative must be 'two-sided', 'larger' or 'smaller', got {alternative!r}")
    if alternative == "two-sided":
        return alternative
    if (alternative == "larger") != (effect > 0):
        raise InvalidInputError(
            f"a one-sided '{alternative}' plan needs an effect in that direction, got {effect:+.4g}"
        )
    return "larger"


def detectable_effect_proportions(
    baseline: float,
    n_control: int,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    n_variants: int = 2,
    direction: int = 1,
) -> float:
    """The smallest absolute change in the rate detectable with ``n_control`` units (the inverse plan).

    ``direction`` +1 for an increase, -1 for a decrease.
    """
    _check_rate("baseline", baseline)
    a = _check_common(alpha, power, ratio, n_variants)
    h = NormalIndPower().solve_power(effect_size=None, nobs1=n_control, alpha=a, power=power, ratio=ratio)
    h = float(np.ravel(h)[0])
    phi0 = 2 * math.asin(math.sqrt(baseline))
    phi1 = min(max(phi0 + math.copysign(h, direction), 0.0), math.pi)
    return math.sin(phi1 / 2) ** 2 - baseline


def detectable_effect_means(
    sd: float, n_control: int, *, alpha: float = 0.05, power: float = 0.8, ratio: float = 1.0, n_variants: int = 2
) -> float:
    """The smallest absolute change in a mean detectable with ``n_control`` units (Cohen's d times sd)."""
    if not sd > 0:
        raise InvalidInputError(f"sd must be > 0, got {sd}")
    a = _check_common(alpha, power, ratio, n_variants)
    d = TTestIndPower().solve_power(effect_size=None, nobs1=n_control, alpha=a, power=power, ratio=ratio)
    return float(np.ravel(d)[0]) * sd


def power_proportions(
    baseline: float, mde_abs: float, n_control: int, *, alpha: float = 0.05, ratio: float = 1.0
) -> float:
    """The power of a two-sided two-proportion test with ``n_control`` units to detect ``mde_abs``."""
    h = float(proportion_effectsize(baseline + mde_abs, baseline))
    return float(NormalIndPower().power(effect_size=abs(h), nobs1=n_control, alpha=alpha, ratio=ratio))


def power_means(mde_abs: float, sd: float, n_control: int, *, alpha: float = 0.05, ratio: float = 1.0) -> float:
    """The power of a two-sided two-sample t-test with ``n_control`` units to detect ``mde_abs``."""
    return float(TTestIndPower().power(effect_size=abs(mde_abs) / sd, nobs1=n_control, alpha=alpha, ratio=ratio))
