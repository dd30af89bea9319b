"""The Bayesian engine: chance to win, expected loss and credible intervals on the lift.

Two models, both with scipy's distributions:

- rates: each arm's rate has a Beta posterior, ``Beta(a + successes, b + failures)`` from a
  ``Beta(a, b)`` prior (``Beta(1, 1)``: uniform). The chance that the variant beats the control,
  ``P(p_variant > p_control)``, is the integral of ``pdf_variant(x) * cdf_control(x)`` (``scipy.integrate.quad``);
  the expected loss and the lift's credible interval come from posterior draws;
- means, CUPED-adjusted means and ratio metrics: the estimates are normal (the central limit theorem, as
  in the frequentist tests), so with a flat prior on the control's level and a ``Normal(prior_mean,
  prior_sd^2)`` prior on the absolute effect (flat when ``prior_sd`` is None) the posterior of
  ``(control, effect)`` is bivariate normal: the chance to win and the expected loss are closed forms,
  the relative lift's interval comes from draws.

The **chance to win** is the posterior probability that the variant is better (higher, or lower when
``higher_is_better=False``); the **expected loss** of shipping the variant is the posterior mean of how
much worse it is, ``E[max(control - variant, 0)]`` in the metric's unit (0 when it is surely better).
These are calibrated when the prior describes the effects a team actually runs into (measured in
``benchmarks/experiments.py``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import integrate, special, stats

from vectree.errors import InvalidInputError

__all__ = ["BayesResult", "bayes_proportions", "bayes_normal", "bayes_means"]


@dataclass(frozen=True)
class BayesResult:
    """Posterior summary of one variant against the control."""

    control: str
    variant: str
    model: str  # "beta-binomial" or "normal"
    chance_to_win: float  # P(variant better than control | data)
    expected_loss: float  # E[max(control - variant, 0)] (sign flipped when lower is better): risk of shipping
    expected_loss_control: float  # the same for keeping the control
    abs_lift: float  # posterior mean of variant - control
    abs_ci: tuple[float, float]  # equal-tailed credible interval
    rel_lift: float  # posterior median of variant / control - 1
    rel_ci: tuple[float, float]
    credible_level: float
    prior: str

    def as_dict(self) -> dict:
        """A JSON-able dict."""
        d = asdict(self)
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


def _check_level(credible: float) -> None:
    if not 0 < credible < 1:
        raise InvalidInputError(f"credible level must be in (0, 1), got {credible}")


def _interval(draws: np.ndarray, credible: float) -> tuple[float, float]:
    lo, hi = np.quantile(draws, [(1 - credible) / 2, (1 + credible) / 2])
    return float(lo), float(hi)


def chance_beta_beats_beta(a_t: float, b_t: float, a_c: float, b_c: float) -> float:
    """``P(X > Y)`` for ``X ~ Beta(a_t, b_t)``, ``Y ~ Beta(a_c, b_c)``: the integral of ``pdf_X * cdf_Y``
    (``scipy.integrate.quad`` over the posteriors' mass; densities from ``scipy.special``).

    >>> round(chance_beta_beats_beta(2, 1, 1, 1), 4)
    0.6667
    """

    def mean_sd(a: float, b: float) -> tuple[float, float]:
        return a / (a + b), math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))

    (mt, st), (mc, sc) = mean_sd(a_t, b_t), mean_sd(a_c, b_c)
    lo = max(0.0, min(mt - 12 * st, mc - 12 * sc))  # Chebyshev: < 1% of the mass of either lies beyond 12 sd;
    hi = min(1.0, max(mt + 12 * st, mc + 12 * sc))  # for the large counts of experiments, far less (near normal)
    log_norm = special.betaln(a_t, b_t)

    def integrand(x: float) -> float:
        if x <= 0.0 or x >= 1.0:
            return 0.0
        log_pdf = (a_t - 1) * math.log(x) + (b_t - 1) * math.log1p(-x) - log_norm
        return math.exp(log_pdf) * special.betainc(a_c, b_c, x)

    pts = sorted({mt, mc} - {lo, hi})
    val, _ = integrate.quad(integrand, lo, hi, points=pts or None, limit=200, epsabs=1e-12, epsrel=1e-10)
    val += float(special.betaincc(a_t, b_t, hi)) * float(
        special.betainc(a_c, b_c, hi)
    )  # X above hi: beats Y where Y < hi
    return float(min(1.0, max(0.0, val)))


def bayes_proportions(
    x_control: int,
    n_control: int,
    x_variant: int,
    n_variant: int,
    *,
    prior: tuple[float, float] = (1.0, 1.0),
    credible: float = 0.95,
    higher_is_better: bool = True,
    draws: int = 200_000,
    seed: int = 0,
    names: tuple[str, str] = ("control", "treatment"),
) -> BayesResult:
    """Beta-binomial comparison of two rates.

    >>> r = bayes_proportions(1000, 10000, 1100, 10000)
    >>> round(r.chance_to_win, 3), r.rel_ci[0] > 0
    (0.989, True)
    """
    _check_level(credible)
    a0, b0 = (float(v) for v in prior)
    if not (a0 > 0 and b0 > 0):
        raise InvalidInputError(f"Beta prior parameters must be > 0, got {prior}")
    for name, x, n in (("control", x_control, n_control), ("variant", x_variant, n_variant)):
        if n <= 0 or x < 0 or x > n:
            raise InvalidInputError(f"{name}: need 0 <= successes <= units and units > 0, got {x} of {n}")
    ac, bc = a0 + x_control, b0 + n_control - x_control
    at, bt = a0 + x_variant, b0 + n_variant - x_variant
    p_higher = chance_beta_beats_beta(at, bt, ac, bc)
    rng = np.random.default_rng(seed)
    pc = stats.beta(ac, bc).rvs(draws, random_state=rng)
    pt = stats.beta(at, bt).rvs(draws, random_state=rng)
    d = pt - pc
    sign = 1.0 if higher_is_better else -1.0
    loss_variant = float(np.mean(np.maximum(-sign * d, 0.0)))
    loss_control = float(np.mean(np.maximum(sign * d, 0.0)))
    rel = pt / pc - 1
    return BayesResult(
        names[0],
        names[1],
        "beta-binomial",
        p_higher if higher_is_better else 1 - p_higher,
        loss_variant,
        loss_control,
        float(at / (at + bt) - ac / (ac + bc)),
        _interval(d, credible),
        float(np.median(rel)),
        _interval(rel, credible),
        credible,
        f"Beta({a0:g}, {b0:g}) on each arm's rate",
    )


def _normal_loss(mu: float, sd: float) -> float:
    """E[max(-D, 0)] for D ~ Normal(mu, sd^2)."""
    if sd == 0:
        return max(-mu, 0.0)
    z = mu / sd
    return float(sd * stats.norm.pdf(z) - mu * stats.norm.cdf(-z))


def bayes_normal(
    control_mean: float,
    control_se: float,
    effect: float,
    effect_se: float,
    *,
    prior_mean: float = 0.0,
    prior_sd: float | None = None,
    credible: float = 0.95,
    higher_is_better: bool = True,
    draws: int = 200_000,
    seed: int = 0,
    names: tuple[str, str] = ("control", "treatment"),
) -> BayesResult:
    """Normal posterior from an estimated control level and effect (means, CUPED, ratio metrics).

    ``effect`` is the estimated absolute lift (variant - control) and ``effect_se`` its standard error,
    the control's estimate and standard error give the level the relative lift divides by.
    ``prior_sd`` None is a flat prior on the effect; otherwise ``Normal(prior_mean, prior_sd^2)``.

    >>> r = bayes_normal(10.0, 0.1, 0.3, 0.15)
    >>> round(r.chance_to_win, 4), round(r.abs_ci[0], 3)
    (0.9772, 0.006)
    """
    _check_level(credible)
    for name, v in (("control_se", control_se), ("effect_se", effect_se)):
        if not (math.isfinite(v) and v >= 0):
            raise InvalidInputError(f"{name} must be a finite number >= 0, got {v}")
    if prior_sd is not None and not prior_sd > 0:
        raise InvalidInputError(f"prior_sd must be > 0 (or None for a flat prior), got {prior_sd}")
    vc, vt = max(control_se**2, 1e-300), max(effect_se**2 - min(control_se**2, effect_se**2 * 0.999999), 1e-300)
    # observations: c_hat = c + e_c, t_hat = c + d + e_t; the effect's variance is var(c_hat) + var(t_hat)
    a = np.array([[1.0, 0.0], [1.0, 1.0]])
    w = np.diag([1.0 / vc, 1.0 / vt])
    y = np.array([control_mean, control_mean + effect])
    prec = a.T @ w @ a
    rhs = a.T @ w @ y
    if prior_sd is not None:
        prec[1, 1] += 1.0 / prior_sd**2
        rhs[1] += prior_mean / prior_sd**2
    cov = np.linalg.inv(prec)
    mean = cov @ rhs
    mu, sd = float(mean[1]), float(math.sqrt(max(cov[1, 1], 0.0)))
    sign = 1.0 if higher_is_better else -1.0
    win = float(stats.norm.sf(0.0, loc=sign * mu, scale=sd)) if sd > 0 else float(sign * mu > 0)
    z = float(stats.norm.ppf((1 + credible) / 2))
    rng = np.random.default_rng(seed)
    cd = rng.multivariate_normal(mean, cov, size=draws, method="cholesky")
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = cd[:, 1] / cd[:, 0]
    rel_ci = _interval(rel, credible) if control_mean != 0 else (float("nan"), float("nan"))
    prior = (
        "flat on the effect" if prior_sd is None else f"Normal({prior_mean:g}, {prior_sd:g}^2) on the absolute effect"
    )
    return BayesResult(
        names[0],
        names[1],
        "normal",
        win,
        _normal_loss(sign * mu, sd),
        _normal_loss(-sign * mu, sd),
        mu,
        (mu - z * sd, mu + z * sd),
        float(np.median(rel)) if control_mean != 0 else float("nan"),
        rel_ci,
        credible,
        prior,
    )


def bayes_means(
    y_control: np.ndarray,
    y_variant: np.ndarray,
    *,
    prior_mean: float = 0.0,
    prior_sd: float | None = None,
    credible: float = 0.95,
    higher_is_better: bool = True,
    seed: int = 0,
    names: tuple[str, str] = ("control", "treatment"),
) -> BayesResult:
    """Normal-posterior comparison of two arms' means from their unit-level outcomes.

    >>> rng = np.random.default_rng(0)
    >>> r = bayes_means(rng.normal(10, 2, 4000), rng.normal(10.2, 2, 4000))
    >>> r.chance_to_win > 0.99
    True
    """
    yc, yt = np.asarray(y_control, dtype=np.float64), np.asarray(y_variant, dtype=np.float64)
    if len(yc) < 2 or len(yt) < 2:
        raise InvalidInputError(f"need at least 2 units per arm, got control={len(yc)}, variant={len(yt)}")
    if not (np.all(np.isfinite(yc)) and np.all(np.isfinite(yt))):
        raise InvalidInputError("outcomes contain NaN or infinity; drop or fill those rows first")
    sc, st = yc.var(ddof=1) / len(yc), yt.var(ddof=1) / len(yt)
    return bayes_normal(
        float(yc.mean()),
        math.sqrt(sc),
        float(yt.mean() - yc.mean()),
        math.sqrt(sc + st),
        prior_mean=prior_mean,
        prior_sd=prior_sd,
        credible=credible,
        higher_is_better=higher_is_better,
        seed=seed,
        names=names,
    )
