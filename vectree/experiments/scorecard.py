"""A scorecard: many metrics of one experiment, frequentist and Bayesian side by side, Holm next to BH.

Each metric is one of

- a mean or a rate of a per-unit column (Welch's t-test or the two-proportion z-test; Beta posteriors
  for rates, normal ones for means);
- a mean with pre-experiment covariates (``revenue~pre_revenue+pre_sessions``): CUPED, or CURE-style with
  several covariates (:mod:`vectree.experiments.cuped`);
- a ratio of two per-unit sums (``ctr=clicks/impressions``): delta-method variances
  (:mod:`vectree.experiments.ratio`).

The p-values of every (metric, variant) pair are corrected together with statsmodels' ``multipletests``
twice: Holm (the family-wise error rate: no false positive at all, with probability 1 - alpha) and
Benjamini-Hochberg (the false discovery rate: on average at most a share q of the launched metrics
are false). With 20 metrics Holm is strict; BH finds more of the true effects at a controlled cost.
The sample-ratio check runs on the units, broken down by the given dimensions (:mod:`vectree.experiments.srm`);
with ``planned_n`` the first metric (CUPED-adjusted if it has covariates) also gets the sequential hybrid
(:mod:`vectree.experiments.hybrid`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from vectree.errors import InvalidInputError
from vectree.experiments.analysis import Comparison, compare_means, compare_proportions
from vectree.experiments.bayes import BayesResult, bayes_normal, bayes_proportions
from vectree.experiments.cuped import compare_cuped, cuped_fit
from vectree.experiments.hybrid import HybridResult, hybrid_test
from vectree.experiments.ratio import compare_ratios, ratio_estimate
from vectree.experiments.srm import SRMReport, srm_by_dimension

__all__ = ["MetricSpec", "ScorecardRow", "Scorecard", "scorecard", "per_unit"]

_NAME = r"[A-Za-z_][\w.]*"


@dataclass(frozen=True)
class MetricSpec:
    """One metric of the scorecard: a column, a ratio of two columns, and/or CUPED covariates."""

    name: str
    column: str | None = None
    numerator: str | None = None
    denominator: str | None = None
    covariates: tuple[str, ...] = ()
    higher_is_better: bool = True

    @property
    def kind(self) -> str:
        """``ratio``, ``cuped`` or ``plain``."""
        return "ratio" if self.numerator else ("cuped" if self.covariates else "plain")

    @property
    def columns(self) -> list[str]:
        """The unit-table columns this metric reads."""
        return [c for c in (self.column, self.numerator, self.denominator) if c] + list(self.covariates)

    @classmethod
    def parse(cls, text: str) -> MetricSpec:
        """``clicks``, ``ctr=clicks/impressions``, ``revenue~pre_revenue+pre_orders``; ``:lower`` if lower is better.

        >>> MetricSpec.parse("ctr=clicks/views").numerator, MetricSpec.parse("rev~pre+age:lower").covariates
        ('clicks', ('pre', 'age'))
        """
        s = text.strip()
        higher = True
        if s.endswith(":lower"):
            s, higher = s[: -len(":lower")], False
        m = re.fullmatch(rf"({_NAME})\s*=\s*({_NAME})\s*/\s*({_NAME})", s)
        if m:
            return cls(m[1], numerator=m[2], denominator=m[3], higher_is_better=higher)
        m = re.fullmatch(rf"({_NAME})\s*~\s*({_NAME}(?:\s*\+\s*{_NAME})*)", s)
        if m:
            return cls(m[1], column=m[1], covariates=tuple(c.strip() for c in m[2].split("+")), higher_is_better=higher)
        if re.fullmatch(_NAME, s):
            return cls(s, column=s, higher_is_better=higher)
        raise InvalidInputError(
            f"cannot read metric {text!r}: use 'col', 'name=numerator/denominator' or 'col~covariate+covariate' "
            "(append ':lower' when lower is better)"
        )


@dataclass
class ScorecardRow:
    """One metric for one variant against the control."""

    metric: str
    kind: str
    higher_is_better: bool
    frequentist: Comparison
    bayes: BayesResult
    variance_reduction: float | None = None  # CUPED: 1 - var(adjusted) / var(raw)
    p_holm: float = float("nan")
    p_bh: float = float("nan")
    reject_holm: bool = False
    reject_bh: bool = False

    def as_dict(self) -> dict:
        """A JSON-able dict."""
        return {
            "metric": self.metric,
            "kind": self.kind,
            "higher_is_better": self.higher_is_better,
            "frequentist": self.frequentist.as_dict(),
            "bayes": self.bayes.as_dict(),
            "variance_reduction": self.variance_reduction,
            "p_holm": self.p_holm,
            "p_bh": self.p_bh,
            "reject_holm": self.reject_holm,
            "reject_bh": self.reject_bh,
        }


@dataclass
class Scorecard:
    """Every metric for every variant, the SRM report and (optionally) the hybrid test of the first metric."""

    control: str
    variants: list[str]
    alpha: float
    rows: list[ScorecardRow]
    srm: SRMReport
    n_units: dict[str, int]
    hybrid: dict[str, HybridResult] = field(default_factory=dict)

    def launched(self, correction: str = "fdr_bh") -> list[ScorecardRow]:
        """Rows significant after ``correction`` (``holm`` or ``fdr_bh``) and in the good direction."""
        key = "reject_bh" if correction == "fdr_bh" else "reject_holm"
        return [r for r in self.rows if getattr(r, key) and (r.frequentist.abs_lift > 0) == r.higher_is_better]

    def as_dict(self) -> dict:
        """A JSON-able dict."""
        return {
            "control": self.control,
            "variants": self.variants,
            "alpha": self.alpha,
            "n_units": self.n_units,
            "rows": [r.as_dict() for r in self.rows],
            "srm": self.srm.as_dict(),
            "hybrid": {
                k: {
                    "alpha_sequential": h.alpha_sequential,
                    "alpha_final": h.alpha_final,
                    "planned_n": h.planned_n,
                    "complete": h.complete,
                    "reject": h.reject,
                    "decided_by": h.decided_by,
                    "final_p_value": h.final_p_value,
                }
                for k, h in self.hybrid.items()
            },
        }


def per_unit(
    df: pd.DataFrame,
    *,
    unit_col: str | None,
    variant_col: str,
    sum_cols: Sequence[str] = (),
    first_cols: Sequence[str] = (),
) -> pd.DataFrame:
    """Aggregate exposure rows to one row per unit: metric columns summed, covariates and dimensions first.

    >>> rows = pd.DataFrame(
    ...     {"unit": [1, 1, 2], "variant": ["a", "a", "b"], "clicks": [1, 2, 0], "browser": ["x", "x", "y"]}
    ... )
    >>> units = per_unit(rows, unit_col="unit", variant_col="variant", sum_cols=["clicks"], first_cols=["browser"])
    >>> units["clicks"].tolist()
    [3, 0]
    """
    cols = [variant_col, *sum_cols, *first_cols] + ([unit_col] if unit_col else [])
    missing = [c for c in dict.fromkeys(cols) if c not in df.columns]
    if missing:
        raise InvalidInputError(f"column(s) {missing} not in the table; it has {list(df.columns)}")
    if df.empty:
        raise InvalidInputError("the exposure table is empty")
    for c in sum_cols:
        if not pd.api.types.is_numeric_dtype(df[c]) or df[c].isna().any():
            raise InvalidInputError(f"metric column {c!r} must be numeric with no missing values")
    if unit_col is None:
        return df[list(dict.fromkeys([variant_col, *sum_cols, *first_cols]))].reset_index(drop=True)
    per = df.groupby(unit_col)[variant_col].nunique()
    if (per > 1).any():
        raise InvalidInputError(
            f"{int((per > 1).sum())} unit(s) appear in more than one variant, e.g. {per[per > 1].index[:5].tolist()}"
        )
    agg = {
        variant_col: "first",
        **{c: "sum" for c in sum_cols},
        **{c: "first" for c in first_cols if c not in sum_cols},
    }
    return df.groupby(unit_col, sort=False).agg(agg).reset_index()


def _arms(units: pd.DataFrame, variant_col: str, control: str, variant: str, col: str) -> tuple[np.ndarray, np.ndarray]:
    v = units[variant_col]
    return units.loc[v == control, col].to_numpy(np.float64), units.loc[v == variant, col].to_numpy(np.float64)


def _one(
    units: pd.DataFrame,
    spec: MetricSpec,
    variant_col: str,
    control: str,
    variant: str,
    alpha: float,
    prior_sd: float | None,
    beta_prior: tuple[float, float],
    seed: int,
) -> ScorecardRow:
    names = (control, variant)
    hib = spec.higher_is_better
    credible = 1 - alpha
    reduction = None

    def normal(comp: Comparison, control_mean: float, control_se: float) -> BayesResult:
        """The Bayesian (normal approximation) reading of a frequentist comparison."""
        return bayes_normal(
            control_mean,
            control_se,
            comp.abs_lift,
            comp.se,
            prior_sd=prior_sd,
            credible=credible,
            higher_is_better=hib,
            seed=seed,
            names=names,
        )

    if spec.kind == "ratio":
        nc, nt = _arms(units, variant_col, control, variant, spec.numerator)
        dc, dt = _arms(units, variant_col, control, variant, spec.denominator)
        comp = compare_ratios(nc, dc, nt, dt, alpha=alpha, names=names)
        rc = ratio_estimate(nc, dc)
        bayes = normal(comp, rc.ratio, rc.se)
        return ScorecardRow(spec.name, "ratio (delta method)", hib, comp, bayes)
    yc, yt = _arms(units, variant_col, control, variant, spec.column)
    if spec.kind == "cuped":
        xc = units.loc[units[variant_col] == control, list(spec.covariates)].to_numpy(np.float64)
        xt = units.loc[units[variant_col] == variant, list(spec.covariates)].to_numpy(np.float64)
        comp, fit = compare_cuped(yc, yt, xc, xt, alpha=alpha, names=names)
        reduction = fit.variance_reduction
        comp.test = f"CUPED on {', '.join(spec.covariates)} (OLS) + Welch's t-test"
        se_c = float(np.sqrt(fit.adjust(yc, xc).var(ddof=1) / len(yc)))
        bayes = normal(comp, comp.control_value, se_c)
        kind = f"mean, CUPED on {', '.join(spec.covariates)}"
    elif np.isin(np.concatenate([yc, yt]), (0.0, 1.0)).all() and prior_sd is None:
        comp = compare_proportions(int(yc.sum()), len(yc), int(yt.sum()), len(yt), alpha=alpha, names=names)
        bayes = bayes_proportions(
            int(yc.sum()),
            len(yc),
            int(yt.sum()),
            len(yt),
            prior=beta_prior,
            credible=credible,
            higher_is_better=hib,
            seed=seed,
            names=names,
        )
        kind = "rate"
    else:
        comp = compare_means(yc, yt, alpha=alpha, names=names)
        bayes = normal(comp, comp.control_value, float(np.sqrt(yc.var(ddof=1) / len(yc))))
        kind = "mean"
    return ScorecardRow(spec.name, kind, hib, comp, bayes, reduction)


def scorecard(
    units: pd.DataFrame,
    metrics: Sequence[MetricSpec | str],
    *,
    variant_col: str = "variant",
    control: str | None = None,
    alpha: float = 0.05,
    dimensions: Sequence[str] = (),
    expected_shares: Mapping[str, float] | None = None,
    srm_threshold: float = 0.001,
    prior_sd: float | None = None,
    beta_prior: tuple[float, float] = (1.0, 1.0),
    planned_n: int | None = None,
    time_col: str | None = None,
    tau: float | None = None,
    seed: int = 0,
) -> Scorecard:
    """Analyse every metric of a unit table (one row per unit; see :func:`per_unit`) against the control.

    ``prior_sd``: the Bayesian prior on each metric's absolute effect (None: flat; rates then use Beta
    posteriors with ``beta_prior``). ``planned_n`` (units per arm): also run the sequential hybrid on the
    first metric, over units in order of ``time_col`` (or row order).

    >>> rng = np.random.default_rng(0)
    >>> pre = rng.gamma(2.0, 5.0, 8000)
    >>> units = pd.DataFrame({"variant": np.repeat(["control", "treatment"], 4000), "pre": pre,
    ...                       "revenue": pre + rng.normal(0, 5, 8000) + np.repeat([0, 0.3], 4000)})
    >>> card = scorecard(units, ["revenue~pre", "revenue"])
    >>> [r.frequentist.p_value < 0.05 for r in card.rows], round(card.rows[0].variance_reduction, 1)
    ([True, False], 0.7)
    """
    if not 0 < alpha < 1:
        raise InvalidInputError(f"alpha must be in (0, 1), got {alpha}")
    specs = [MetricSpec.parse(m) if isinstance(m, str) else m for m in metrics]
    if not specs:
        raise InvalidInputError("give at least one metric")
    need = [variant_col, *(c for s in specs for c in s.columns), *dimensions] + ([time_col] if time_col else [])
    missing = [c for c in dict.fromkeys(need) if c not in units.columns]
    if missing:
        raise InvalidInputError(f"column(s) {missing} not in the table; it has {list(units.columns)}")
    units = units.copy()
    units[variant_col] = units[variant_col].astype(str)
    names = sorted(units[variant_col].unique().tolist())
    if len(names) < 2:
        raise InvalidInputError(f"need at least 2 variants in column {variant_col!r}, found {names}")
    control = control or next((n for n in ("control", "A", "a") if n in names), names[0])
    if control not in names:
        raise InvalidInputError(f"control variant {control!r} not in the data; variants are {names}")
    treatments = [n for n in names if n != control]
    rows = [
        _one(units, s, variant_col, control, t, alpha, prior_sd, beta_prior, seed) for s in specs for t in treatments
    ]
    p = [r.frequentist.p_value for r in rows]
    rej_h, adj_h, _, _ = multipletests(p, alpha=alpha, method="holm")
    rej_b, adj_b, _, _ = multipletests(p, alpha=alpha, method="fdr_bh")
    for r, a, b, ra, rb in zip(rows, adj_h, adj_b, rej_h, rej_b):
        r.p_holm, r.p_bh, r.reject_holm, r.reject_bh = float(a), float(b), bool(ra), bool(rb)
    srm = srm_by_dimension(
        units, list(dimensions), variant_col=variant_col, expected_shares=expected_shares, threshold=srm_threshold
    )
    hybrid: dict[str, HybridResult] = {}
    first = specs[0]
    if planned_n is not None and first.kind != "ratio":
        ordered = units.sort_values(time_col, kind="stable") if time_col else units
        for t in treatments:
            yc, yt = _arms(ordered, variant_col, control, t, first.column)
            if first.kind == "cuped":  # the hybrid runs on the CUPED-adjusted outcome
                xc = ordered.loc[ordered[variant_col] == control, list(first.covariates)].to_numpy(np.float64)
                xt = ordered.loc[ordered[variant_col] == t, list(first.covariates)].to_numpy(np.float64)
                fit = cuped_fit(yc, yt, xc, xt)
                yc, yt = fit.adjust(yc, xc), fit.adjust(yt, xt)
            hybrid[t] = hybrid_test(yc, yt, planned_n=planned_n, alpha=alpha, tau=tau)
    counts = units[variant_col].value_counts().reindex(names).astype(int).to_dict()
    return Scorecard(control, treatments, alpha, rows, srm, counts, hybrid)
