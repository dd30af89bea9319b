"""Simulated experiments: exposure tables for demos and tests, and Monte-Carlo checks of the tests.

The checks run the same functions an analysis runs (:func:`compare_proportions`, :func:`compare_means`,
the mSPRT), so "over 2,000 A/A tests the false-positive rate is alpha" is a statement about our code,
not about a formula.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from vectree.errors import InvalidInputError
from vectree.experiments.analysis import compare_means, compare_proportions
from vectree.experiments.assignment import Assigner
from vectree.experiments.sequential import always_valid_pvalues, naive_pvalues

__all__ = [
    "simulate_exposures",
    "rejection_rate_proportions",
    "rejection_rate_means",
    "PeekingResult",
    "simulate_peeking",
]


def simulate_exposures(
    n_units: int,
    *,
    rates: Sequence[float] = (0.10, 0.11),
    variants: Sequence[str] = ("control", "treatment"),
    shares: Sequence[float] | None = None,
    days: int = 14,
    novelty: float = 0.0,
    novelty_half_life_days: float = 3.0,
    start: str = "2026-01-01",
    experiment: str = "sim",
    seed: int = 0,
) -> pd.DataFrame:
    """A table of units (``unit, variant, outcome, time``) with 0/1 outcomes at the given rates.

    Units arrive uniformly over ``days``; ``novelty`` adds an extra lift to every treatment that halves
    every ``novelty_half_life_days`` (a novelty effect: the kind a backtest or a long holdout exposes).
    Variants are assigned with :class:`Assigner`, as in production.
    """
    if len(rates) != len(variants):
        raise InvalidInputError(f"give one rate per variant: {len(variants)} variants, {len(rates)} rates")
    rng = np.random.default_rng(seed)
    units = np.array([f"u{i}" for i in range(n_units)], dtype=object)
    variant = Assigner(experiment, variants, shares).assign(units)
    day = rng.uniform(0, days, n_units)
    base = np.array(rates, dtype=np.float64)
    idx = np.array([list(variants).index(v) for v in variant])
    p = base[idx] + (idx > 0) * novelty * 0.5 ** (day / novelty_half_life_days)
    outcome = (rng.random(n_units) < np.clip(p, 0, 1)).astype(int)
    time = pd.Timestamp(start) + pd.to_timedelta(day, unit="D")
    order = np.argsort(day, kind="stable")
    return (
        pd.DataFrame({"unit": units, "variant": variant, "outcome": outcome, "time": time})
        .iloc[order]
        .reset_index(drop=True)
    )


def rejection_rate_proportions(
    n_sims: int, n_per_variant: int, p_control: float, p_variant: float, *, alpha: float = 0.05, seed: int = 0
) -> float:
    """Share of ``n_sims`` simulated two-proportion tests that reject H0 at ``alpha``.

    With ``p_variant == p_control`` (A/A tests) this is the false-positive rate; otherwise the power.
    """
    rng = np.random.default_rng(seed)
    xc = rng.binomial(n_per_variant, p_control, n_sims)
    xt = rng.binomial(n_per_variant, p_variant, n_sims)
    hits = sum(
        compare_proportions(int(a), n_per_variant, int(b), n_per_variant, alpha=alpha).p_value <= alpha
        for a, b in zip(xc, xt)
    )
    return hits / n_sims


def rejection_rate_means(
    n_sims: int, n_per_variant: int, effect: float, sd: float, *, alpha: float = 0.05, skew: bool = False, seed: int = 0
) -> float:
    """Share of simulated Welch's t-tests that reject H0; outcomes normal, or lognormal-like if ``skew``."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(n_sims):
        if skew:  # revenue-like: exponential with the given sd (= mean), shifted by the effect
            yc = rng.exponential(sd, n_per_variant)
            yt = rng.exponential(sd, n_per_variant) + effect
        else:
            yc = rng.normal(0.0, sd, n_per_variant)
            yt = rng.normal(effect, sd, n_per_variant)
        hits += compare_means(yc, yt, alpha=alpha).p_value <= alpha
    return hits / n_sims


@dataclass(frozen=True)
class PeekingResult:
    """Rejection rates when peeking ``n_looks`` times: the fixed-horizon z-test against the mSPRT."""

    n_sims: int
    n_looks: int
    n_per_variant: int
    p_control: float
    p_variant: float
    alpha: float
    tau: float
    naive_single_look: float  # the z-test at the end only (the honest fixed-horizon rate)
    naive_any_look: float  # the z-test, stopping at the first look with p <= alpha
    msprt_any_look: float  # the always-valid test, stopping at the first look with p <= alpha

    def as_dict(self) -> dict:
        """A JSON-able dict."""
        return asdict(self)


def simulate_peeking(
    n_sims: int = 2000,
    n_per_variant: int = 10000,
    *,
    n_looks: int = 20,
    p_control: float = 0.1,
    p_variant: float | None = None,
    alpha: float = 0.05,
    tau: float | None = None,
    seed: int = 0,
) -> PeekingResult:
    """Simulate experiments checked ``n_looks`` times and count how often each procedure rejects.

    Under A/A (``p_variant`` None or equal to ``p_control``) the rates are false-positive rates: the naive
    one inflates with the number of looks, the mSPRT's stays at or below alpha.
    """
    if n_looks < 1 or n_per_variant < n_looks:
        raise InvalidInputError(
            f"need 1 <= n_looks <= n_per_variant, got n_looks={n_looks}, n_per_variant={n_per_variant}"
        )
    p_variant = p_control if p_variant is None else p_variant
    rng = np.random.default_rng(seed)
    n = np.linspace(n_per_variant / n_looks, n_per_variant, n_looks).round().astype(int)
    steps = np.diff(np.concatenate([[0], n]))
    xc = np.cumsum(rng.binomial(steps, p_control, (n_sims, n_looks)), axis=1)
    xt = np.cumsum(rng.binomial(steps, p_variant, (n_sims, n_looks)), axis=1)
    pc, pt = xc / n, xt / n
    pooled = (xc + xt) / (2 * n)
    diff = pt - pc
    var_pooled = pooled * (1 - pooled) * (2 / n)  # the z-test's variance under H0
    var_unpooled = (pc * (1 - pc) + pt * (1 - pt)) / n
    naive = naive_pvalues(diff, var_pooled)
    tau = float(tau) if tau is not None else 0.1 * float(np.sqrt(p_control * (1 - p_control)))
    valid = always_valid_pvalues(diff, var_unpooled, tau, axis=1)
    return PeekingResult(
        n_sims,
        n_looks,
        n_per_variant,
        p_control,
        p_variant,
        alpha,
        tau,
        float(np.mean(naive[:, -1] <= alpha)),
        float(np.mean((naive <= alpha).any(axis=1))),
        float(np.mean((valid <= alpha).any(axis=1))),
    )
