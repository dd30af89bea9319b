"""Variance reduction with pre-experiment data: CUPED (one covariate) and CURE-style (several).

CUPED (Deng, Xu, Kohavi and Walker, 2013) replaces each unit's outcome ``y`` by
``y - (x - mean(x)) . theta``, where ``x`` holds the unit's pre-experiment covariates (the same metric in
the weeks before the experiment, activity, tenure) and ``theta`` their regression coefficients. Because
``x`` was measured before assignment, the adjustment does not bias the difference in means, and the
variance of the adjusted outcome is ``(1 - R^2)`` times the original: ``1 - rho^2`` for one covariate
with correlation ``rho``. A sample that detects an effect with CUPED is ``1 - rho^2`` of the plain one.

``theta`` comes from statsmodels' OLS of ``y`` on an intercept, the treatment indicator and the
centred covariates (Statsig's CURE regresses on several covariates the same way). With the treatment in
the regression, ``theta`` is the within-arm slope, and the CUPED difference in means is exactly the OLS
coefficient of the treatment. The test on the adjusted outcomes is Welch's t-test, as for plain means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import statsmodels.api as sm

from vectree.errors import InvalidInputError
from vectree.experiments.analysis import Comparison, compare_means

__all__ = ["CupedFit", "cuped_fit", "compare_cuped"]


@dataclass(frozen=True)
class CupedFit:
    """The regression behind a CUPED adjustment and what it bought."""

    theta: tuple[float, ...]  # one coefficient per covariate
    covariate_means: tuple[float, ...]  # centring of each covariate (pooled over both arms)
    r_squared: float  # share of the outcome's within-arm variance the covariates explain
    variance_reduction: float  # 1 - var(adjusted) / var(raw), pooled within arms
    effect: float  # OLS coefficient of the treatment indicator (= the adjusted difference in means)
    effect_se_hc2: float  # its heteroscedasticity-robust (HC2) standard error, for reference

    def adjust(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        """The CUPED outcome ``y - (x - mean) . theta`` for units with covariates ``x`` (n, k)."""
        x = np.asarray(x, dtype=np.float64).reshape(len(y), -1)
        return np.asarray(y, dtype=np.float64) - (x - np.asarray(self.covariate_means)) @ np.asarray(self.theta)


def _as_matrix(x: np.ndarray, n: int, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] != n:
        raise InvalidInputError(f"{name}: covariates must have one row per unit ({n}), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise InvalidInputError(
            f"{name}: covariates contain NaN or infinity; fill missing pre-period values (e.g. 0) first"
        )
    return x


def _within_var(y: np.ndarray, t: np.ndarray) -> float:
    r = y.copy()
    for g in (0, 1):
        r[t == g] -= r[t == g].mean()
    return float(r.var())


def cuped_fit(y_control: np.ndarray, y_variant: np.ndarray, x_control: np.ndarray, x_variant: np.ndarray) -> CupedFit:
    """Fit ``y ~ 1 + treatment + (x - mean(x))`` by OLS (statsmodels) and return the CUPED adjustment.

    >>> rng = np.random.default_rng(0)
    >>> xc, xt = rng.normal(size=2000), rng.normal(size=2000)
    >>> fit = cuped_fit(xc + rng.normal(size=2000), xt + 0.1 + rng.normal(size=2000), xc, xt)
    >>> round(fit.theta[0], 1), round(fit.variance_reduction, 1)
    (1.0, 0.5)
    """
    yc, yt = np.asarray(y_control, dtype=np.float64), np.asarray(y_variant, dtype=np.float64)
    xc, xt = _as_matrix(x_control, len(yc), "control"), _as_matrix(x_variant, len(yt), "variant")
    if xc.shape[1] != xt.shape[1]:
        raise InvalidInputError(
            f"control has {xc.shape[1]} covariate(s), variant {xt.shape[1]}: give the same for both"
        )
    if len(yc) < 3 or len(yt) < 3:
        raise InvalidInputError(f"CUPED needs at least 3 units per arm, got control={len(yc)}, variant={len(yt)}")
    y = np.concatenate([yc, yt])
    if not np.all(np.isfinite(y)):
        raise InvalidInputError("outcomes contain NaN or infinity; drop or fill those rows first")
    t = np.concatenate([np.zeros(len(yc)), np.ones(len(yt))])
    x = np.vstack([xc, xt])
    means = x.mean(axis=0)
    xcen = x - means
    keep = xcen.std(axis=0) > 0  # a constant covariate carries no information (and makes X singular)
    design = np.column_stack([np.ones(len(y)), t, xcen[:, keep]])
    res = sm.OLS(y, design).fit()
    theta = np.zeros(x.shape[1])
    theta[keep] = res.params[2:]
    hc2 = float(np.sqrt(res.get_robustcov_results(cov_type="HC2").cov_params()[1, 1]))
    adjusted = y - xcen @ theta
    raw_var, adj_var = _within_var(y, t), _within_var(adjusted, t)
    reduction = 1.0 - adj_var / raw_var if raw_var > 0 else 0.0
    r2 = reduction  # with the arm in the model, the within-arm R^2 is exactly the variance reduction
    return CupedFit(
        tuple(float(v) for v in theta),
        tuple(float(v) for v in means),
        float(r2),
        float(reduction),
        float(res.params[1]),
        hc2,
    )


def compare_cuped(
    y_control: np.ndarray,
    y_variant: np.ndarray,
    x_control: np.ndarray,
    x_variant: np.ndarray,
    *,
    alpha: float = 0.05,
    ci_alpha: float | None = None,
    names: tuple[str, str] = ("control", "treatment"),
) -> tuple[Comparison, CupedFit]:
    """Welch's t-test on CUPED-adjusted outcomes; ``x_*`` are pre-experiment covariates, (n,) or (n, k).

    Returns the comparison (``test`` names the adjustment) and the fit (``theta``, variance reduction).
    The relative lift is the adjusted difference over the adjusted control mean.

    >>> rng = np.random.default_rng(1)
    >>> xc, xt = rng.normal(10, 2, 5000), rng.normal(10, 2, 5000)
    >>> comp, fit = compare_cuped(xc + rng.normal(0, 2, 5000), xt + 0.2 + rng.normal(0, 2, 5000), xc, xt)
    >>> comp.p_value < 0.05, comp.test
    (True, 'CUPED (OLS on 1 covariate) + Welch t-test')
    """
    fit = cuped_fit(y_control, y_variant, x_control, x_variant)
    xc = _as_matrix(x_control, len(y_control), "control")
    xt = _as_matrix(x_variant, len(y_variant), "variant")
    comp = compare_means(
        fit.adjust(y_control, xc), fit.adjust(y_variant, xt), alpha=alpha, ci_alpha=ci_alpha, names=names
    )
    k = len(fit.theta)
    comp.test = f"CUPED (OLS on {k} covariate{'s' if k > 1 else ''}) + Welch t-test"
    return comp, fit
