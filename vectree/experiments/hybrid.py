"""The sequential hybrid: always-valid while the experiment runs, fixed-horizon at its planned end.

While the experiment runs, every look uses the always-valid mSPRT p-value
(:mod:`vectree.experiments.sequential`) at a share of alpha, ``alpha_sequential = spend * alpha``: a large
effect can stop the experiment early, however often it is looked at. When the planned sample is reached,
one fixed-horizon test (the z-test of the difference, as Welch's test at these sizes) decides at
``alpha_final``, the level that makes the whole procedure's false-positive rate exactly ``alpha``:

    P(the mSPRT crosses alpha_sequential at some look, or |z_end| > z(alpha_final) | H0) = alpha.

Under H0 the path of the difference is a Brownian motion in the information fraction, so this
probability depends only on the looks and on ``tau^2 / V_end`` (the mixing variance over the variance
of the final difference); ``alpha_final`` is solved by Monte Carlo over that path (fixed seed, 50,000
paths). Because the mSPRT is conservative and the paths it stops mostly end beyond the final boundary
anyway, ``alpha_final`` stays close to ``alpha`` (0.046 to 0.05 for alpha 0.05 with half of it spent
sequentially and tau^2 / V_end from 1 to 100): the hybrid keeps nearly the power of the plan and can
still stop early (Eppo's "sequential hybrid").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from vectree.errors import InvalidInputError
from vectree.experiments.sequential import (
    SequentialLook,
    _msprt_looks,
    always_valid_pvalues,
    checked_arms,
)

__all__ = ["HybridResult", "hybrid_final_alpha", "hybrid_test", "simulate_hybrid"]


def _fractions(planned_n: int, n_looks: int, min_per_arm: int) -> np.ndarray:
    start = min(1.0, max(min_per_arm, 2) / planned_n)
    f = np.unique(np.round(np.linspace(start, 1.0, max(1, n_looks)) * planned_n).astype(int))
    return f / planned_n


def hybrid_final_alpha(
    fractions: np.ndarray,
    tau2_over_var: float,
    alpha: float,
    alpha_sequential: float,
    *,
    n_paths: int = 50_000,
    seed: int = 0,
) -> float:
    """The fixed-horizon level at the end that makes the hybrid's false-positive rate ``alpha``.

    ``fractions``: the looks as fractions of the planned sample (the last is 1); ``tau2_over_var``:
    ``tau^2`` over the variance of the difference at the planned end.

    >>> round(hybrid_final_alpha(np.linspace(0.05, 1, 20), 100.0, 0.05, 0.025), 3)
    0.046
    """
    f = np.asarray(fractions, dtype=np.float64)
    if f.ndim != 1 or f.size == 0 or not np.all(np.diff(f) > 0) or f[0] <= 0 or abs(f[-1] - 1) > 1e-9:
        raise InvalidInputError(f"fractions must increase from > 0 to 1, got {f[:3]}...{f[-1:]}")
    if not 0 < alpha_sequential < alpha < 1:
        raise InvalidInputError(f"need 0 < alpha_sequential < alpha < 1, got {alpha_sequential} and {alpha}")
    rng = np.random.default_rng(seed)
    steps = rng.standard_normal((n_paths, f.size)) * np.sqrt(np.diff(np.concatenate([[0.0], f])))
    w = np.cumsum(steps, axis=1)  # W(f_k): variance f_k
    diff = w / f  # in units of sqrt(V_end): the difference at look k has variance V_end / f_k
    var = 1.0 / f
    seq = (
        always_valid_pvalues(diff, np.broadcast_to(var, diff.shape), math.sqrt(tau2_over_var), axis=1)
        <= alpha_sequential
    ).any(axis=1)
    budget = alpha * n_paths - seq.sum()
    if budget <= 0:
        raise InvalidInputError(f"the sequential part alone spends alpha ({seq.mean():.3g} >= {alpha}); lower spend")
    z_end = np.sort(np.abs(w[~seq, -1]))[::-1]  # |z| at the end among paths the mSPRT did not stop
    k = int(budget)
    c = z_end[k] if k < z_end.size else 0.0
    return float(min(alpha, 2 * stats.norm.sf(c)))


@dataclass(frozen=True)
class HybridResult:
    """Where a hybrid test stands: still running (always-valid looks only) or complete (with the final test)."""

    alpha: float
    alpha_sequential: float
    alpha_final: float
    tau: float
    planned_n: int  # per arm
    n_control: int
    n_variant: int
    looks: list[SequentialLook]
    stopped_at: int | None  # first look where the always-valid p-value fell below alpha_sequential
    final_p_value: float | None  # fixed-horizon p-value at the planned end (None while running)
    final_ci: tuple[float, float] | None  # at 1 - alpha_final

    @property
    def complete(self) -> bool:
        """True once both arms reached the planned sample."""
        return self.final_p_value is not None

    @property
    def reject(self) -> bool:
        """True when either stage rejected H0."""
        return self.stopped_at is not None or (
            self.final_p_value is not None and self.final_p_value <= self.alpha_final
        )

    @property
    def decided_by(self) -> str:
        """Which stage decided, in words."""
        if self.stopped_at is not None:
            return f"always-valid test at look {self.stopped_at + 1} (p <= {self.alpha_sequential:.3g})"
        if not self.complete:
            return (
                f"running: {min(self.n_control, self.n_variant):,} of {self.planned_n:,} units per arm, no early stop"
            )
        verdict = "rejects" if self.reject else "does not reject"
        return (
            f"fixed-horizon test at the planned end {verdict} H0 (p = {self.final_p_value:.3g}, level "
            f"{self.alpha_final:.3g})"
        )


def hybrid_test(
    y_control: np.ndarray,
    y_variant: np.ndarray,
    *,
    planned_n: int,
    alpha: float = 0.05,
    spend: float = 0.5,
    tau: float | None = None,
    n_looks: int = 20,
    min_per_arm: int = 100,
) -> HybridResult:
    """Run the hybrid on outcomes in arrival order; ``planned_n`` is the planned units per arm.

    >>> rng = np.random.default_rng(0)
    >>> r = hybrid_test(rng.binomial(1, 0.10, 4000), rng.binomial(1, 0.12, 4000), planned_n=3835, tau=0.02)
    >>> r.complete, r.reject
    (True, True)
    """
    if planned_n < 2:
        raise InvalidInputError(f"planned_n (units per arm) must be >= 2, got {planned_n}")
    if not 0 < spend < 1:
        raise InvalidInputError(f"spend (share of alpha for the always-valid looks) must be in (0, 1), got {spend}")
    yc, yt, tau = checked_arms(y_control, y_variant, alpha, tau)
    fr = _fractions(planned_n, n_looks, min_per_arm)
    sizes = np.round(fr * planned_n).astype(int)
    have = min(len(yc), len(yt))
    taken = sizes[sizes <= have]
    if taken.size == 0:
        taken = np.array([have])
    a_seq = spend * alpha
    looks, p, diff, var = _msprt_looks(yc, yt, taken, taken, tau, a_seq)
    var_end = float(var[-1] * taken[-1] / planned_n)
    a_end = hybrid_final_alpha(fr, tau**2 / max(var_end, 1e-300), alpha, a_seq)
    hits = np.flatnonzero(p <= a_seq)
    final_p = final_ci = None
    if have >= planned_n:
        d, se = float(diff[-1]), math.sqrt(float(var[-1]))
        final_p = float(2 * stats.norm.sf(abs(d) / se)) if se > 0 else float(d == 0)
        z = float(stats.norm.ppf(1 - a_end / 2))
        final_ci = (d - z * se, d + z * se)
    return HybridResult(
        alpha,
        a_seq,
        a_end,
        float(tau),
        int(planned_n),
        len(yc),
        len(yt),
        looks,
        int(hits[0]) if hits.size else None,
        final_p,
        final_ci,
    )


def simulate_hybrid(
    n_sims: int,
    planned_n: int,
    p_control: float,
    p_variant: float,
    *,
    tau: float,
    alpha: float = 0.05,
    spend: float = 0.5,
    n_looks: int = 20,
    seed: int = 0,
) -> dict[str, float]:
    """Rejection rates of the hybrid over ``n_sims`` simulated rate experiments (vectorised over runs).

    Returns the share rejected early (always-valid looks), at the end (fixed-horizon), in total, and the
    mean units per arm used (early stops save traffic).
    """
    rng = np.random.default_rng(seed)
    fr = _fractions(planned_n, n_looks, 100)
    sizes = np.round(fr * planned_n).astype(int)
    steps = np.diff(np.concatenate([[0], sizes]))
    xc = np.cumsum(rng.binomial(steps, p_control, (n_sims, sizes.size)), axis=1)
    xt = np.cumsum(rng.binomial(steps, p_variant, (n_sims, sizes.size)), axis=1)
    pc, pt = xc / sizes, xt / sizes
    diff = pt - pc
    var = np.maximum((pc * (1 - pc) + pt * (1 - pt)) / sizes, 1e-12)
    a_seq = spend * alpha
    var_end = 2 * p_control * (1 - p_control) / planned_n
    a_end = hybrid_final_alpha(fr, tau**2 / var_end, alpha, a_seq)
    seq = always_valid_pvalues(diff, var, tau, axis=1) <= a_seq
    early = seq.any(axis=1)
    final = 2 * stats.norm.sf(np.abs(diff[:, -1]) / np.sqrt(var[:, -1])) <= a_end
    stop = np.where(early, sizes[np.argmax(seq, axis=1)], planned_n)
    return {
        "alpha_final": a_end,
        "early": float(early.mean()),
        "final_only": float((final & ~early).mean()),
        "reject": float((early | final).mean()),
        "mean_units_per_arm": float(stop.mean()),
    }
