"""Sample-ratio mismatch, explained: which dimension (browser, country, platform...) the mismatch comes from.

The overall check (:func:`vectree.experiments.analysis.srm_check`, a chi-square goodness of fit at
p < 0.001) says that the units per variant are not what the traffic shares promise, so the assignment
or the logging is broken. To find where, every dimension is checked level by level: for each dimension,
``scipy.stats.chi2_contingency`` tests whether the variant shares differ between its levels, and each
level gets its own goodness-of-fit check. A dimension **explains** the mismatch when its mismatched
levels (p < threshold) hold the excess, that is when the units outside those levels show no mismatch
any more; of several, the one with the strongest contingency test is named.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from vectree.errors import InvalidInputError
from vectree.experiments.analysis import SRMResult, srm_check

__all__ = ["DimensionSRM", "SRMReport", "srm_by_dimension"]


@dataclass(frozen=True)
class DimensionSRM:
    """The SRM checks of one dimension: shares across levels, and each level against the planned shares."""

    dimension: str
    chi2: float  # contingency test of variant x level
    p_value: float
    mismatched_levels: list[str]  # levels whose own check has p < threshold, worst first
    level_p_values: dict[str, float]
    level_counts: dict[str, dict[str, int]]
    p_value_without_mismatched: float | None  # overall check on the units outside the mismatched levels
    explains: bool

    def as_dict(self) -> dict:
        """A JSON-able dict."""
        return asdict(self)


@dataclass(frozen=True)
class SRMReport:
    """The overall check, one entry per dimension, and the dimension that explains a mismatch."""

    overall: SRMResult
    dimensions: list[DimensionSRM] = field(default_factory=list)

    @property
    def mismatch(self) -> bool:
        """True when the overall check flags a mismatch."""
        return self.overall.mismatch

    @property
    def explained_by(self) -> DimensionSRM | None:
        """The dimension whose mismatched levels account for the overall mismatch (None if none does)."""
        hits = [d for d in self.dimensions if d.explains]
        return min(hits, key=lambda d: d.p_value) if hits else None

    @property
    def message(self) -> str:
        """One line for a report."""
        o = self.overall
        if not o.mismatch:
            flagged = [d for d in self.dimensions if d.mismatched_levels]
            if flagged:
                d = flagged[0]
                return (
                    f"no overall mismatch (p = {o.p_value:.3g}), but {d.dimension} = {', '.join(d.mismatched_levels)} "
                    f"is mismatched on its own: check the logging of that segment"
                )
            return f"no sample ratio mismatch (p = {o.p_value:.3g}, threshold {o.threshold:g})"
        d = self.explained_by
        if d is None:
            worst = min(self.dimensions, key=lambda x: x.p_value) if self.dimensions else None
            where = f"; the strongest dimension is {worst.dimension} (p = {worst.p_value:.3g})" if worst else ""
            return f"sample ratio mismatch (p = {o.p_value:.3g}) that no single dimension explains{where}"
        return (
            f"sample ratio mismatch (p = {o.p_value:.3g}) explained by {d.dimension} = "
            f"{', '.join(d.mismatched_levels)} "
            f"(without it p = {d.p_value_without_mismatched:.3g})"
        )

    def as_dict(self) -> dict:
        """A JSON-able dict."""
        return {
            "overall": self.overall.as_dict(),
            "dimensions": [d.as_dict() for d in self.dimensions],
            "explained_by": None if self.explained_by is None else self.explained_by.dimension,
            "message": self.message,
        }


def srm_by_dimension(
    units: pd.DataFrame,
    dimensions: Sequence[str] = (),
    *,
    variant_col: str = "variant",
    expected_shares: Mapping[str, float] | None = None,
    threshold: float = 0.001,
) -> SRMReport:
    """Overall SRM check of a unit table (one row per unit) and the per-dimension breakdown.

    >>> browser = ["x"] * 2500 + ["y"] * 2500 + ["x"] * 2500 + ["y"] * 2000
    >>> df = pd.DataFrame({"variant": ["a"] * 5000 + ["b"] * 4500, "browser": browser})
    >>> rep = srm_by_dimension(df, ["browser"])
    >>> rep.mismatch, rep.explained_by.dimension, rep.explained_by.mismatched_levels
    (True, 'browser', ['y'])
    """
    if not 0 < threshold < 1:
        raise InvalidInputError(f"SRM threshold must be in (0, 1), got {threshold}")
    missing = [c for c in [variant_col, *dimensions] if c not in units.columns]
    if missing:
        raise InvalidInputError(f"SRM: column(s) {missing} not in the table; it has {list(units.columns)}")
    variant = units[variant_col].astype(str)
    names = sorted(variant.unique().tolist())
    overall = srm_check(variant.value_counts().reindex(names).to_dict(), expected_shares, threshold=threshold)
    shares = overall.expected_shares
    out = []
    for dim in dimensions:
        level = units[dim].astype(str)
        table = pd.crosstab(level, variant).reindex(columns=names, fill_value=0)
        table = table[table.sum(axis=1) > 0]
        if len(table) >= 2:
            chi2, p, _, _ = stats.chi2_contingency(table.to_numpy())
        else:
            chi2, p = 0.0, 1.0
        level_p = {}
        for lv, row in table.iterrows():
            counts = row.to_numpy(dtype=np.float64)
            expected = np.array([shares[n] for n in names]) * counts.sum()
            level_p[str(lv)] = float(stats.chisquare(counts, f_exp=expected).pvalue) if counts.sum() > 0 else 1.0
        bad = sorted((lv for lv, pv in level_p.items() if pv < threshold), key=lambda lv: level_p[lv])
        p_rest = None
        explains = False
        if bad:
            rest = table.drop(index=bad).sum(axis=0)
            if rest.sum() > 0:
                p_rest = srm_check(rest.to_dict(), shares, threshold=threshold).p_value
                explains = bool(overall.mismatch and p_rest >= threshold)
        out.append(
            DimensionSRM(
                dim,
                float(chi2),
                float(p),
                bad,
                level_p,
                {str(lv): {n: int(v) for n, v in row.items()} for lv, row in table.iterrows()},
                p_rest,
                explains,
            )
        )
    return SRMReport(overall, out)
