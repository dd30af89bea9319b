"""Ratio metrics (clicks per session, revenue per order) with delta-method variances.

A ratio metric divides two sums over the randomisation units: ``R = sum(num) / sum(den)``, for example
clicks over sessions, where each user (the unit) has several sessions. Sessions of one user are not
independent, so treating every session as an observation understates the variance; the delta method on
the unit-level sums gives the right one (Deng, Knoblich and Lu, 2018):

    var(R) ~= (s_N^2 - 2 R s_ND + R^2 s_D^2) / (n mean(D)^2)

with ``s_N^2``, ``s_D^2``, ``s_ND`` the unit-level sample variances and covariance. This equals the
cluster-robust (by unit) variance of the mean of the session-level outcomes that statsmodels' OLS gives
with ``cov_type="cluster"`` (tested). The difference of two arms' ratios is tested with a z-test; the
relative lift's interval is the delta method on the log of the ratio of ratios.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from vectree.errors import InvalidInputError
from vectree.experiments.analysis import Comparison, _check_alpha

__all__ = ["RatioEstimate", "ratio_estimate", "compare_ratios"]


@dataclass(frozen=True)
class RatioEstimate:
    """One arm's ratio ``sum(num) / sum(den)`` and the delta-method variance of that estimate."""

    n_units: int
    numerator: float
    denominator: float
    ratio: float
    variance: float

    @property
    def se(self) -> float:
        """Standard error of the ratio."""
        return math.sqrt(self.variance)


def ratio_estimate(numerator: np.ndarray, denominator: np.ndarray) -> RatioEstimate:
    """The ratio of sums over units and its delta-method variance.

    >>> r = ratio_estimate(np.array([3, 0, 5, 2]), np.array([2, 1, 4, 1]))
    >>> round(r.ratio, 3), round(r.se, 3)
    (1.25, 0.222)
    """
    num = np.asarray(numerator, dtype=np.float64)
    den = np.asarray(denominator, dtype=np.float64)
    if num.shape != den.shape or num.ndim != 1:
        raise InvalidInputError(
            f"numerator and denominator need one value per unit each, got shapes {num.shape} and {den.shape}"
        )
    n = len(num)
    if n < 2:
        raise InvalidInputError(f"a ratio metric needs at least 2 units per arm, got {n}")
    if not (np.all(np.isfinite(num)) and np.all(np.isfinite(den))):
        raise InvalidInputError("ratio metric values contain NaN or infinity; drop or fill those rows first")
    if np.any(den < 0):
        raise InvalidInputError(f"denominators must be >= 0 (sessions, orders), got {den[den < 0][:3].tolist()}")
    total = float(den.sum())
    if total <= 0:
        raise InvalidInputError("the denominator sums to 0 in an arm: the ratio is undefined")
    r = float(num.sum()) / total
    resid = num - r * den  # its mean is exactly 0
    var = float(resid @ resid) / (n - 1) / n / (total / n) ** 2
    return RatioEstimate(n, float(num.sum()), total, r, var)


def compare_ratios(
    num_control: np.ndarray,
    den_control: np.ndarray,
    num_variant: np.ndarray,
    den_variant: np.ndarray,
    *,
    alpha: float = 0.05,
    ci_alpha: float | None = None,
    names: tuple[str, str] = ("control", "treatment"),
) -> Comparison:
    """z-test of the difference of two ratio metrics, with delta-method variances per arm.

    >>> rng = np.random.default_rng(0)
    >>> sc, st = rng.poisson(3, 4000) + 1, rng.poisson(3, 4000) + 1
    >>> c = compare_ratios(rng.binomial(sc, 0.20), sc, rng.binomial(st, 0.23), st)
    >>> c.test, c.p_value < 0.05
    ('delta-method z-test (ratio of sums per unit)', True)
    """
    _check_alpha(alpha)
    ci_alpha = alpha if ci_alpha is None else ci_alpha
    rc, rt = ratio_estimate(num_control, den_control), ratio_estimate(num_variant, den_variant)
    diff = rt.ratio - rc.ratio
    se = math.sqrt(rc.variance + rt.variance)
    z_crit = float(stats.norm.ppf(1 - ci_alpha / 2))
    if se > 0:
        z = diff / se
        p = float(2 * stats.norm.sf(abs(z)))
    else:
        z, p = (0.0, 1.0) if diff == 0 else (math.copysign(math.inf, diff), 0.0)
    ci = (diff - z_crit * se, diff + z_crit * se)
    if rc.ratio > 0 and rt.ratio > 0:
        lse = math.sqrt(rt.variance / rt.ratio**2 + rc.variance / rc.ratio**2)
        lr = math.log(rt.ratio / rc.ratio)
        rel, rel_ci = rt.ratio / rc.ratio - 1, (math.exp(lr - z_crit * lse) - 1, math.exp(lr + z_crit * lse) - 1)
    elif rc.ratio != 0:
        rel, rel_ci = (
            rt.ratio / rc.ratio - 1,
            (diff / rc.ratio - z_crit * se / abs(rc.ratio), diff / rc.ratio + z_crit * se / abs(rc.ratio)),
        )
    else:
        rel, rel_ci = float("nan"), (float("nan"), float("nan"))
    return Comparison(
        names[0],
        names[1],
        "ratio",
        "delta-method z-test (ratio of sums per unit)",
        rc.n_units,
        rt.n_units,
        rc.ratio,
        rt.ratio,
        diff,
        ci,
        rel,
        rel_ci,
        float(z),
        p,
        alpha,
        1 - ci_alpha,
        se=se,
    )
