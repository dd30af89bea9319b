"""Always-valid (sequential) inference: look at the experiment as often as you like.

A fixed-horizon test checked after every batch of traffic ("peeking") and stopped at the first
p <= alpha rejects a true null far more often than alpha. The mixture sequential probability ratio test
(mSPRT; Robbins 1970, Johari, Pekelis and Walsh, "Always valid inference", 2017) avoids that: with the
difference of means ``d`` (treatment - control), its variance ``V`` and a normal mixing distribution
N(0, tau^2) over the true effect, the likelihood ratio against H0: effect = 0 is

    Lambda = sqrt(V / (V + tau^2)) * exp(d^2 tau^2 / (2 V (V + tau^2)))

and, by Ville's inequality, P(Lambda ever exceeds 1/alpha | H0) <= alpha. The always-valid p-value is
the running minimum of 1/Lambda and the always-valid confidence sequence is the running intersection of
the intervals {theta : Lambda(d - theta) < 1/alpha}. The normal approximation of ``d`` (the central
limit theorem, as in the z-test) is what makes it apply to rates and means alike; ``tau`` is the size of
effect the test is tuned for (the MDE of the plan is a good choice).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from vectree.errors import InvalidInputError

__all__ = [
    "SequentialLook",
    "SequentialResult",
    "msprt_log_lambda",
    "always_valid_pvalues",
    "confidence_sequence",
    "sequential_test",
    "naive_pvalues",
]


def msprt_log_lambda(diff: np.ndarray, var: np.ndarray, tau: float) -> np.ndarray:
    """log of the mSPRT mixture likelihood ratio for each (difference, variance of the difference)."""
    diff = np.asarray(diff, dtype=np.float64)
    var = np.maximum(np.asarray(var, dtype=np.float64), 1e-300)
    t2 = float(tau) ** 2
    return 0.5 * np.log(var / (var + t2)) + diff**2 * t2 / (2.0 * var * (var + t2))


def always_valid_pvalues(diff: np.ndarray, var: np.ndarray, tau: float, axis: int = -1) -> np.ndarray:
    """Always-valid p-values along ``axis`` (the looks, in time order): running min of 1/Lambda."""
    p = np.minimum(1.0, np.exp(-msprt_log_lambda(diff, var, tau)))
    return np.minimum.accumulate(p, axis=axis)


def _half_width(var: np.ndarray, tau: float, alpha: float) -> np.ndarray:
    t2 = float(tau) ** 2
    var = np.maximum(np.asarray(var, dtype=np.float64), 1e-300)
    return np.sqrt(var * (var + t2) / t2 * (2.0 * np.log(1.0 / alpha) + np.log((var + t2) / var)))


def confidence_sequence(diff: np.ndarray, var: np.ndarray, tau: float, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Always-valid (1 - alpha) intervals for the effect at each look: the running intersection."""
    diff = np.asarray(diff, dtype=np.float64)
    hw = _half_width(var, tau, alpha)
    lo = np.maximum.accumulate(diff - hw, axis=-1)
    hi = np.minimum.accumulate(diff + hw, axis=-1)
    return lo, hi


def naive_pvalues(diff: np.ndarray, var: np.ndarray) -> np.ndarray:
    """Fixed-horizon two-sided z-test p-values at each look (invalid under peeking; for comparison)."""
    z = np.asarray(diff, dtype=np.float64) / np.sqrt(np.maximum(np.asarray(var, dtype=np.float64), 1e-300))
    return 2.0 * stats.norm.sf(np.abs(z))


@dataclass(frozen=True)
class SequentialLook:
    """The state of the test at one look."""

    n_control: int
    n_variant: int
    abs_lift: float
    p_value: float  # always-valid
    ci_low: float
    ci_high: float
    naive_p_value: float  # fixed-horizon z-test at this look, for comparison


@dataclass(frozen=True)
class SequentialResult:
    """All looks of a sequential test, and where (if anywhere) it crossed the boundary."""

    alpha: float
    tau: float
    looks: list[SequentialLook]
    reject: bool
    stopped_at: int | None  # index of the first look with p <= alpha

    @property
    def final(self) -> SequentialLook:
        """The last look."""
        return self.looks[-1]


def _cumulative_moments(y: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c1 = np.concatenate([[0.0], np.cumsum(y)])
    c2 = np.concatenate([[0.0], np.cumsum(y * y)])
    mean = c1[n] / n
    var = np.maximum(c2[n] / n - mean**2, 0.0) * n / np.maximum(n - 1, 1)
    return mean, var


def _msprt_looks(
    yc: np.ndarray, yt: np.ndarray, nc: np.ndarray, nt: np.ndarray, tau: float, alpha: float
) -> tuple[list[SequentialLook], np.ndarray, np.ndarray, np.ndarray]:
    """The mSPRT at each look (the first ``nc[i]`` control and ``nt[i]`` variant units): the looks, their
    always-valid p-values, the differences of means and their variances."""
    mc, vc = _cumulative_moments(yc, nc)
    mt, vt = _cumulative_moments(yt, nt)
    diff = mt - mc
    var = vc / nc + vt / nt
    p = always_valid_pvalues(diff, var, tau)
    lo, hi = confidence_sequence(diff, var, tau, alpha)
    naive = naive_pvalues(diff, var)
    looks = [
        SequentialLook(int(a), int(b), float(d), float(pv), float(low), float(high), float(q))
        for a, b, d, pv, low, high, q in zip(nc, nt, diff, p, lo, hi, naive)
    ]
    return looks, p, diff, var


def checked_arms(
    y_control: np.ndarray, y_variant: np.ndarray, alpha: float, tau: float | None
) -> tuple[np.ndarray, np.ndarray, float]:
    """The two arms as float64 arrays and the mixing ``tau`` of the mSPRT, checked; ``tau`` defaults to a
    tenth of the pooled standard deviation (an effect of Cohen's d = 0.1).

    >>> checked_arms([0, 1, 0, 1], [1, 1, 0, 1], 0.05, None)[2]
    0.05175491695067657
    """
    yc = np.asarray(y_control, dtype=np.float64)
    yt = np.asarray(y_variant, dtype=np.float64)
    if not 0 < alpha < 1:
        raise InvalidInputError(f"alpha must be in (0, 1), got {alpha}")
    if min(len(yc), len(yt)) < 2:
        raise InvalidInputError(f"each arm needs at least 2 units, got control={len(yc)}, variant={len(yt)}")
    if tau is None:
        sd = float(np.std(np.concatenate([yc, yt]), ddof=1))
        tau = 0.1 * sd if sd > 0 else 1e-6
    if not tau > 0:
        raise InvalidInputError(f"tau (the effect size the test is tuned for) must be > 0, got {tau}")
    return yc, yt, tau


def sequential_test(
    y_control: np.ndarray,
    y_variant: np.ndarray,
    *,
    alpha: float = 0.05,
    tau: float | None = None,
    n_looks: int = 20,
    min_per_arm: int = 100,
) -> SequentialResult:
    """Run the mSPRT over outcomes in arrival order, looking ``n_looks`` times.

    ``y_control`` and ``y_variant`` are per-unit outcomes (0/1 for rates) sorted by arrival time.
    ``tau`` defaults to a tenth of the pooled standard deviation (an effect of Cohen's d = 0.1).
    The first look waits until each arm has ``min_per_arm`` units, so the variance estimate is sane.
    """
    yc, yt, tau = checked_arms(y_control, y_variant, alpha, tau)
    start = min(1.0, min_per_arm / min(len(yc), len(yt)))
    fractions = np.linspace(start, 1.0, max(1, n_looks))
    nc = np.maximum(2, np.round(fractions * len(yc)).astype(int))
    nt = np.maximum(2, np.round(fractions * len(yt)).astype(int))
    new_look = np.concatenate([[True], (np.diff(nc) > 0) | (np.diff(nt) > 0)])
    nc, nt = nc[new_look], nt[new_look]
    looks, p, _, _ = _msprt_looks(yc, yt, nc, nt, tau, alpha)
    hits = np.flatnonzero(p <= alpha)
    return SequentialResult(alpha, float(tau), looks, bool(hits.size), int(hits[0]) if hits.size else None)
