"""Simulated experiments with known truths for the scorecard: covariates, ratio metrics, many metrics, segments.

Every generator takes a seed and returns numpy arrays or a unit table, so a simulation run by the tests
or by ``benchmarks/experiments.py`` checks the same functions an analysis runs against a known answer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from vectree.errors import InvalidInputError
from vectree.experiments.assignment import Assigner

__all__ = ["covariate_arms", "ratio_arms", "many_metrics_pvalues", "multiple_testing_rates", "simulate_units"]


def covariate_arms(
    n_per_arm: int, rho: float, effect: float, *, sd: float = 1.0, n_sims: int | None = None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Outcomes ``y`` with correlation ``rho`` to a pre-period covariate ``x``, the variant shifted by ``effect``.

    Returns ``(y_control, y_variant, x_control, x_variant)``, each ``(n_per_arm,)`` or ``(n_sims, n_per_arm)``.

    >>> yc, yt, xc, xt = covariate_arms(20000, 0.5, 0.0)
    >>> round(float(np.corrcoef(yc, xc)[0, 1]), 2)
    0.5
    """
    if not 0 <= rho < 1:
        raise InvalidInputError(f"rho must be in [0, 1), got {rho}")
    rng = np.random.default_rng(seed)
    shape = (n_per_arm,) if n_sims is None else (n_sims, n_per_arm)
    x = rng.standard_normal((2, *shape))
    noise = rng.standard_normal((2, *shape))
    y = sd * (rho * x + np.sqrt(1 - rho * rho) * noise)
    return y[0], y[1] + effect, 10.0 + x[0], 10.0 + x[1]


def ratio_arms(
    n_per_arm: int,
    ctr_control: float,
    ctr_variant: float,
    *,
    mean_sessions: float = 3.0,
    concentration: float = 4.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Clicks and sessions per user: sessions ~ 1 + Poisson, each user's own click rate ~ Beta around the arm's.

    Users differ (``concentration`` small: very different users), so sessions of one user are correlated
    and a session-level variance is too small. Returns ``(clicks_c, sessions_c, clicks_t, sessions_t)``.
    """
    rng = np.random.default_rng(seed)
    out = []
    for ctr in (ctr_control, ctr_variant):
        sessions = 1 + rng.poisson(mean_sessions - 1, n_per_arm)
        p = rng.beta(ctr * concentration, (1 - ctr) * concentration, n_per_arm)
        out += [rng.binomial(sessions, p), sessions]
    return out[0], out[1], out[2], out[3]


def many_metrics_pvalues(
    n_sims: int, n_metrics: int, n_true: int, *, effect_z: float = 3.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """p-values of ``n_metrics`` independent metric tests per run, ``n_true`` of them with a real effect.

    Each metric's test statistic is ``N(effect_z, 1)`` for a true effect (power about 85% at 0.05) and
    ``N(0, 1)`` otherwise, as a z-test of a large experiment gives. Returns ``(p, is_true)``.
    """
    from scipy import stats

    rng = np.random.default_rng(seed)
    is_true = np.zeros(n_metrics, dtype=bool)
    is_true[:n_true] = True
    z = rng.standard_normal((n_sims, n_metrics)) + effect_z * is_true
    return 2 * stats.norm.sf(np.abs(z)), is_true


def multiple_testing_rates(p: np.ndarray, is_true: np.ndarray, *, alpha: float = 0.05) -> dict[str, dict[str, float]]:
    """False discovery rate, family-wise error rate and power of Holm and BH (statsmodels' ``multipletests``)
    over runs of p-values ``(n_runs, n_metrics)`` with known true effects ``is_true``.

    >>> p, truth = many_metrics_pvalues(200, 20, 5, seed=0)
    >>> r = multiple_testing_rates(p, truth)
    >>> r["fdr_bh"]["power"] > r["holm"]["power"]
    True
    """
    import gc

    from statsmodels.stats.multitest import multipletests

    out = {}
    gc.freeze()  # multipletests(method="holm") calls gc.collect(); frozen objects make that cheap in a big process
    try:
        for method in ("holm", "fdr_bh", "none"):
            rej = np.array(
                [multipletests(row, alpha=alpha, method=method)[0] if method != "none" else row <= alpha for row in p]
            )
            false = (rej & ~is_true).sum(axis=1)
            out[method] = {
                "fdr": float(np.mean(false / np.maximum(1, rej.sum(axis=1)))),
                "fwer": float(np.mean(false > 0)),
                "power": float(rej[:, is_true].mean()) if is_true.any() else float("nan"),
                "discoveries_per_run": float(rej.sum(axis=1).mean()),
            }
    finally:
        gc.unfreeze()
    return out


def simulate_units(
    n_units: int,
    *,
    variants: Sequence[str] = ("control", "treatment"),
    revenue_lift: float = 0.3,
    conversion_lift: float = 0.01,
    ctr_lift: float = 0.0,
    lost_share: float = 0.0,
    lost_level: tuple[str, str] = ("browser", "safari"),
    experiment: str = "sim-metrics",
    seed: int = 0,
) -> pd.DataFrame:
    """A unit table with several metrics, pre-period covariates and dimensions, for the scorecard and the CLI.

    Columns: ``unit, variant, time, browser, country, pre_revenue, revenue, converted, sessions, clicks``.
    ``revenue`` correlates with ``pre_revenue`` (CUPED helps); ``clicks / sessions`` is a ratio metric.
    ``lost_share`` drops that share of the treatment's units in one segment (``lost_level``: a logging bug
    the SRM check should flag and explain).

    >>> df = simulate_units(2000, lost_share=0.5)
    >>> df.groupby("browser")["variant"].value_counts().loc["safari"].to_dict()["treatment"] < 200
    True
    """
    rng = np.random.default_rng(seed)
    units = np.array([f"u{i}" for i in range(n_units)], dtype=object)
    variant = Assigner(experiment, variants).assign(units)
    arm = np.array([list(variants).index(v) for v in variant]) > 0
    browser = rng.choice(["chrome", "safari", "firefox", "edge"], n_units, p=[0.55, 0.25, 0.12, 0.08])
    country = rng.choice(["us", "de", "in", "br", "fr"], n_units)
    pre = rng.gamma(1.5, 8.0, n_units)
    revenue = np.maximum(0.0, 0.8 * pre + rng.normal(0, 8.0, n_units) + revenue_lift * arm)
    converted = (rng.random(n_units) < 0.10 + conversion_lift * arm).astype(int)
    sessions = 1 + rng.poisson(2.0, n_units)
    p = rng.beta(0.2 * 4 + ctr_lift * arm * 4, 0.8 * 4 - ctr_lift * arm * 4, n_units)
    clicks = rng.binomial(sessions, p)
    day = rng.uniform(0, 14, n_units)
    df = pd.DataFrame(
        {
            "unit": units,
            "variant": variant,
            "time": pd.Timestamp("2026-01-01") + pd.to_timedelta(day, unit="D"),
            "browser": browser,
            "country": country,
            "pre_revenue": pre.round(2),
            "revenue": revenue.round(2),
            "converted": converted,
            "sessions": sessions,
            "clicks": clicks,
        }
    )
    if lost_share > 0:
        col, level = lost_level
        if col not in df.columns:
            raise InvalidInputError(f"lost_level names column {col!r}, not one of {list(df.columns)}")
        hit = (df[col] == level).to_numpy() & arm & (rng.random(n_units) < lost_share)
        df = df[~hit]
    return df.sort_values("time", kind="stable").reset_index(drop=True)
