"""Experiments: A/B test assignment, power, analysis, sequential tests, backtests and holdouts.

Training-data tools (splits, filtering, learning curves) live in :mod:`vectree.experiments.data`.
"""

from vectree.experiments.ab import ExperimentResult, analyze, read_exposures, unit_table
from vectree.experiments.analysis import Comparison, SRMResult, compare_means, compare_proportions, srm_check
from vectree.experiments.assignment import Assigner, assign, hash_unit
from vectree.experiments.backtest import BacktestResult, backtest, split_phases
from vectree.experiments.holdout import HoldoutReport, WindowRow, holdout_report, lift_over_time
from vectree.experiments.power import (
    PowerPlan,
    detectable_effect_means,
    detectable_effect_proportions,
    power_means,
    power_proportions,
    sample_size_means,
    sample_size_proportions,
)
from vectree.experiments.sequential import SequentialResult, always_valid_pvalues, confidence_sequence, sequential_test

__all__ = [
    "Assigner", "assign", "hash_unit",
    "PowerPlan", "sample_size_proportions", "sample_size_means", "detectable_effect_proportions",
    "detectable_effect_means", "power_proportions", "power_means",
    "Comparison", "SRMResult", "compare_proportions", "compare_means", "srm_check",
    "ExperimentResult", "analyze", "read_exposures", "unit_table",
    "SequentialResult", "sequential_test", "always_valid_pvalues", "confidence_sequence",
    "BacktestResult", "backtest", "split_phases",
    "HoldoutReport", "WindowRow", "holdout_report", "lift_over_time",
]
