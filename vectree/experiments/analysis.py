"""Analysis of an A/B(/n) test: is the variant better than the control, by how much, and do we launch?

The statistics are statsmodels' and scipy's:

- rates (conversion, click-through): the two-proportion z-test (``proportions_ztest``, pooled under H0),
  the Wald interval of the difference and the log interval of the ratio (``confint_proportions_2indep``);
- means (revenue, watch time): Welch's t-test and its interval (``scipy.stats.ttest_ind(equal_var=False)``),
  the relative lift's interval by the delta method on the log ratio;
- more than one treatment: every treatment against the control, p-values corrected with
  ``multipletests`` (Holm by default) and intervals at the Bonferroni level;
- the sample-ratio-mismatch (SRM) check: a chi-square goodness-of-fit test of the units per variant
  against the planned shares (``scipy.stats.chisquare``); a mismatch means the randomisation or the
  logging is broken and no result should be trusted.

The decision follows the seed: p <= alpha rejects H0 and launches the variant (when the lift is in the
good direction); otherwise, do not launch.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from vectree.errors import InvalidInputError

__all__ = ["Comparison", "SRMResult", "compare_proportions", "compare_means", "srm_check", "decide"]

log = logging.getLogger(__name__)

Metric = Literal["proportion", "mean"]


@dataclass
class Comparison:
    """One treatment against the control."""

    control: str
    variant: str
    metric: str  # "proportion" or "mean"
    test: str  # name of the test that produced the p-value
    n_control: int
    n_variant: int
    control_value: float  # rate or mean
    variant_value: float
    abs_lift: float  # variant - control
    abs_ci: tuple[float, float]
    rel_lift: float  # variant / control - 1 (nan when the control is 0)
    rel_ci: tuple[float, float]
    statistic: float
    p_value: float
    alpha: float
    ci_level: float  # the confidence level of the intervals (lower than 1 - alpha after correction)
    p_adjusted: float | None = None  # after the multiple-comparison correction
    reject: bool = False
    decision: str = ""
    se: float = float("nan")  # standard error of abs_lift (used by backtests and holdouts)
    sequential: dict | None = field(default=None)  # always-valid p-value and interval, when asked

    def as_dict(self) -> dict:
        """A JSON-able dict."""
        d = asdict(self)
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


def decide(comparison: Comparison, *, higher_is_better: bool = True, srm_ok: bool = True) -> Comparison:
    """Fill ``reject`` and ``decision`` from the (adjusted) p-value, the sign of the lift and the SRM check."""
    p = comparison.p_adjusted if comparison.p_adjusted is not None else comparison.p_value
    if comparison.sequential is not None:
        p = comparison.sequential["p_value"]
    comparison.reject = bool(p <= comparison.alpha)
    better = comparison.abs_lift > 0 if higher_is_better else comparison.abs_lift < 0
    if not srm_ok:
        comparison.decision = "do not launch: sample ratio mismatch, fix the assignment or logging first"
    elif comparison.reject and better:
        comparison.decision = "launch: reject H0, the variant is better"
    elif comparison.reject:
        comparison.decision = "do not launch: reject H0, the variant is worse"
    else:
        comparison.decision = "do not launch: cannot reject H0 (no significant difference)"
    return comparison


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise InvalidInputError(f"alpha must be in (0, 1), got {alpha}")


def compare_proportions(
    x_control: int,
    n_control: int,
    x_variant: int,
    n_variant: int,
    *,
    alpha: float = 0.05,
    ci_alpha: float | None = None,
    names: tuple[str, str] = ("control", "treatment"),
) -> Comparison:
    """Two-proportion z-test of ``x_variant/n_variant`` against ``x_control/n_control``.

    >>> c = compare_proportions(1000, 10000, 1100, 10000)
    >>> round(c.abs_lift, 4), c.p_value < 0.05
    (0.01, True)
    """
    _check_alpha(alpha)
    ci_alpha = alpha if ci_alpha is None else ci_alpha
    for name, x, n in (("control", x_control, n_control), ("variant", x_variant, n_variant)):
        if n <= 0 or x < 0 or x > n:
            raise InvalidInputError(f"{name}: need 0 <= successes <= units and units > 0, got {x} of {n}")
    pc, pt = x_control / n_control, x_variant / n_variant
    if 0 < x_control + x_variant < n_control + n_variant:
        z, p = proportions_ztest([x_variant, x_control], [n_variant, n_control], alternative="two-sided")
        z, p = float(z), float(p)
    else:  # both arms all-0 or all-1: no evidence of a difference
        z, p = 0.0, 1.0
    se = math.sqrt(pc * (1 - pc) / n_control + pt * (1 - pt) / n_variant)
    if se > 0:
        lo, hi = confint_proportions_2indep(
            x_variant, n_variant, x_control, n_control, method="wald", compare="diff", alpha=ci_alpha
        )
    else:
        lo = hi = pt - pc
    if x_control > 0 and x_variant > 0:
        rlo, rhi = confint_proportions_2indep(
            x_variant, n_variant, x_control, n_control, method="log", compare="ratio", alpha=ci_alpha
        )
        rel, rel_ci = pt / pc - 1, (float(rlo) - 1, float(rhi) - 1)
    else:
        rel, rel_ci = (pt / pc - 1 if pc > 0 else float("nan")), (float("nan"), float("nan"))
    return Comparison(
        names[0],
        names[1],
        "proportion",
        "two-proportion z-test",
        int(n_control),
        int(n_variant),
        pc,
        pt,
        pt - pc,
        (float(lo), float(hi)),
        rel,
        rel_ci,
        z,
        p,
        alpha,
        1 - ci_alpha,
        se=se,
    )


def compare_means(
    y_control: np.ndarray,
    y_variant: np.ndarray,
    *,
    alpha: float = 0.05,
    ci_alpha: float | None = None,
    names: tuple[str, str] = ("control", "treatment"),
) -> Comparison:
    """Welch's t-test of the variant's mean against the control's (unequal variances)."""
    _check_alpha(alpha)
    ci_alpha = alpha if ci_alpha is None else ci_alpha
    yc = np.asarray(y_control, dtype=np.float64)
    yt = np.asarray(y_variant, dtype=np.float64)
    if len(yc) < 2 or len(yt) < 2:
        raise InvalidInputError(
            f"Welch's t-test needs at least 2 units per arm, got control={len(yc)}, variant={len(yt)}"
        )
    if not (np.all(np.isfinite(yc)) and np.all(np.isfinite(yt))):
        raise InvalidInputError("outcomes contain NaN or infinity; drop or fill those rows first")
    mc, mt = float(yc.mean()), float(yt.mean())
    vc, vt = float(yc.var(ddof=1)) / len(yc), float(yt.var(ddof=1)) / len(yt)
    if vc + vt == 0:  # both arms constant: the difference is known exactly
        same = mt == mc
        t, p, ci = (0.0 if same else math.copysign(math.inf, mt - mc)), (1.0 if same else 0.0), (mt - mc, mt - mc)
    else:
        res = stats.ttest_ind(yt, yc, equal_var=False)
        ci_res = res.confidence_interval(confidence_level=1 - ci_alpha)
        t, p, ci = float(res.statistic), float(res.pvalue), (float(ci_res.low), float(ci_res.high))
    rel, rel_ci = _relative_ci(mc, mt, vc, vt, ci_alpha)
    return Comparison(
        names[0],
        names[1],
        "mean",
        "Welch's t-test",
        len(yc),
        len(yt),
        mc,
        mt,
        mt - mc,
        ci,
        rel,
        rel_ci,
        t,
        p,
        alpha,
        1 - ci_alpha,
        se=math.sqrt(vc + vt),
    )


def _relative_ci(mc: float, mt: float, vc: float, vt: float, ci_alpha: float) -> tuple[float, tuple[float, float]]:
    """Relative lift mt/mc - 1 with a delta-method interval (on the log ratio when both means are > 0)."""
    if mc == 0:
        return float("nan"), (float("nan"), float("nan"))
    z = float(stats.norm.ppf(1 - ci_alpha / 2))
    rel = mt / mc - 1
    if mc > 0 and mt > 0:
        se = math.sqrt(vt / mt**2 + vc / mc**2)
        lr = math.log(mt / mc)
        return rel, (math.exp(min(lr - z * se, 700.0)) - 1, math.exp(min(lr + z * se, 700.0)) - 1)
    se = abs(mt / mc) * math.sqrt(vt / mt**2 + vc / mc**2) if mt != 0 else math.sqrt(vt) / abs(mc)
    return rel, (rel - z * se, rel + z * se)


@dataclass(frozen=True)
class SRMResult:
    """Sample-ratio-mismatch check: are the units per variant what the traffic shares promise?"""

    counts: dict[str, int]
    expected_shares: dict[str, float]
    chi2: float
    p_value: float
    threshold: float
    mismatch: bool

    def as_dict(self) -> dict:
        """A JSON-able dict."""
        return asdict(self)


def srm_check(
    counts: Mapping[str, int], expected_shares: Mapping[str, float] | None = None, *, threshold: float = 0.001
) -> SRMResult:
    """Chi-square goodness-of-fit of the units per variant against the planned shares (default: equal).

    A p-value below ``threshold`` (0.001 by convention: SRM checks run on every experiment, so they
    need a strict level) flags a mismatch.
    """
    names = list(counts)
    if len(names) < 2:
        raise InvalidInputError(f"the SRM check needs at least 2 variants, got {names}")
    obs = np.array([counts[n] for n in names], dtype=np.float64)
    if expected_shares is None:
        shares = np.full(len(names), 1.0 / len(names))
    else:
        missing = [n for n in names if n not in expected_shares]
        if missing:
            raise InvalidInputError(f"no expected share for variant(s) {missing}; give one for each of {names}")
        shares = np.array([float(expected_shares[n]) for n in names])
        if np.any(shares <= 0):
            raise InvalidInputError(f"expected shares must be > 0, got {dict(zip(names, shares))}")
        shares = shares / shares.sum()
    chi2, p = stats.chisquare(obs, f_exp=shares * obs.sum())
    return SRMResult(
        {n: int(c) for n, c in zip(names, obs)},
        {n: float(s) for n, s in zip(names, shares)},
        float(chi2),
        float(p),
        threshold,
        bool(p < threshold),
    )


def correct(comparisons: Sequence[Comparison], method: str = "holm") -> None:
    """Fill ``p_adjusted`` of the comparisons with statsmodels' ``multipletests`` (in place)."""
    if method == "none" or len(comparisons) == 0:
        for c in comparisons:
            c.p_adjusted = c.p_value
        return
    try:
        _, adj, _, _ = multipletests([c.p_value for c in comparisons], alpha=comparisons[0].alpha, method=method)
    except ValueError as exc:
        raise InvalidInputError(
            f"unknown multiple-comparison method {method!r} ({exc}); use holm, bonferroni, fdr_bh or none"
        ) from exc
    for c, p in zip(comparisons, adj):
        c.p_adjusted = float(p)
