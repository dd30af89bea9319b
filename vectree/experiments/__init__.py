"""Experiments: A/B test assignment, power, analysis, sequential tests, backtests and holdouts;
CUPED/CURE, ratio metrics, a Bayesian engine, Holm and BH across metrics, SRM by dimension, the sequential hybrid.

Training-data tools (splits, filtering, learning curves) live in :mod:`vectree.experiments.data`.
"""

from vectree.experiments.ab import ExperimentResult, analyze, read_exposures, unit_table
from vectree.experiments.analysis import Comparison, SRMResult, compare_means, compare_proportions, srm_check
from vectree.experiments.assignment import Assigner, assign, hash_unit
from vectree.experiments.backtest import BacktestResult, backtest, split_phases
from vectree.experiments.bayes import BayesResult, bayes_means, bayes_normal, bayes_proportions
from vectree.experiments.cuped import CupedFit, compare_cuped, cuped_fit
from vectree.experiments.holdout import HoldoutReport, WindowRow, holdout_report, lift_over_time
from vectree.experiments.hybrid import HybridResult, hybrid_test
from vectree.experiments.power import (
    PowerPlan,
    detectable_effect_means,
    detectable_effect_proportions,
    power_means,
    power_proportions,
    sample_size_means,
    sample_size_proportions,
)
from vectree.experiments.ratio import RatioEstimate, compare_ratios, ratio_estimate
from vectree.experiments.scorecard import MetricSpec, Scorecard, ScorecardRow, per_unit, scorecard
from vectree.experiments.sequential import SequentialResult, always_valid_pvalues, confidence_sequence, sequential_test
from vectree.experiments.srm import SRMReport, srm_by_dimension

__all__ = [
    "Assigner",
    "assign",
    "hash_unit",
    "PowerPlan",
    "sample_size_proportions",
    "sample_size_means",
    "detectable_effect_proportions",
    "detectable_effect_means",
    "power_proportions",
    "power_means",
    "Comparison",
    "SRMResult",
    "compare_proportions",
    "compare_means",
    "srm_check",
    "ExperimentResult",
    "analyze",
    "read_exposures",
    "unit_table",
    "SequentialResult",
    "sequential_test",
    "always_valid_pvalues",
    "confidence_sequence",
    "BacktestResult",
    "backtest",
    "split_phases",
    "HoldoutReport",
    "WindowRow",
    "holdout_report",
    "lift_over_time",
    "CupedFit",
    "cuped_fit",
    "compare_cuped",
    "RatioEstimate",
    "ratio_estimate",
    "compare_ratios",
    "BayesResult",
    "bayes_proportions",
    "bayes_normal",
    "bayes_means",
    "SRMReport",
    "srm_by_dimension",
    "HybridResult",
    "hybrid_test",
    "MetricSpec",
    "Scorecard",
    "ScorecardRow",
    "scorecard",
    "per_unit",
]
