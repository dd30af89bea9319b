"""Over 2,000 simulated tests: A/A false-positive rate within 1 point of alpha; power within 3 points of the plan."""

import pytest

from vectree.experiments import sample_size_means, sample_size_proportions
from vectree.experiments.simulate import rejection_rate_means, rejection_rate_proportions

N_SIMS = 2000
ALPHA = 0.05


def test_aa_false_positive_rate_proportions():
    plan = sample_size_proportions(0.10, 0.02)
    fpr = rejection_rate_proportions(N_SIMS, plan.n_control, 0.10, 0.10, alpha=ALPHA, seed=0)
    assert fpr == pytest.approx(ALPHA, abs=0.01)


def test_aa_false_positive_rate_means_skewed():
    fpr = rejection_rate_means(N_SIMS, 400, 0.0, 5.0, alpha=ALPHA, skew=True, seed=0)
    assert fpr == pytest.approx(ALPHA, abs=0.01)


def test_power_matches_plan_proportions():
    plan = sample_size_proportions(0.10, 0.02, power=0.8)
    power = rejection_rate_proportions(N_SIMS, plan.n_control, 0.10, 0.12, alpha=ALPHA, seed=0)
    assert power == pytest.approx(0.8, abs=0.03)


def test_power_matches_plan_means():
    plan = sample_size_means(1.0, 5.0, power=0.8)
    power = rejection_rate_means(N_SIMS, plan.n_control, 1.0, 5.0, alpha=ALPHA, seed=0)
    assert power == pytest.approx(0.8, abs=0.03)
