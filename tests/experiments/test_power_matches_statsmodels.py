"""Power analysis: sample sizes and detectable effects agree with statsmodels and the textbook formula."""

import math

import pytest
from scipy import stats
from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import proportion_effectsize

from vectree.errors import InvalidInputError
from vectree.experiments import (
    detectable_effect_means,
    detectable_effect_proportions,
    power_proportions,
    sample_size_means,
    sample_size_proportions,
)


def test_proportions_match_statsmodels_and_formula():
    plan = sample_size_proportions(0.10, 0.02, alpha=0.05, power=0.8)
    h = proportion_effectsize(0.12, 0.10)
    expected = NormalIndPower().solve_power(effect_size=h, alpha=0.05, power=0.8, ratio=1.0)
    assert plan.n_control == math.ceil(expected) == plan.n_treatment
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert plan.n_control == math.ceil(2 * (z / h) ** 2)  # var(2 asin sqrt p) = 1/n per arm
    assert plan.n_total == 2 * plan.n_control


def test_relative_mde_and_unequal_ratio():
    rel = sample_size_proportions(0.05, 0.10, relative=True)
    assert rel.mde_abs == pytest.approx(0.005)
    assert rel.n_control == sample_size_proportions(0.05, 0.005).n_control
    uneven = sample_size_proportions(0.05, 0.005, ratio=0.25)
    assert uneven.n_treatment < uneven.n_control / 3
    assert uneven.n_control > rel.n_control  # a small treatment arm needs a bigger control


def test_more_variants_use_bonferroni_alpha():
    three = sample_size_proportions(0.1, 0.01, n_variants=3)
    assert three.alpha_per_comparison == pytest.approx(0.025)
    assert three.n_control == sample_size_proportions(0.1, 0.01, alpha=0.025).n_control
    assert three.n_total == 3 * three.n_control


def test_means_match_statsmodels():
    plan = sample_size_means(1.0, 5.0)
    expected = TTestIndPower().solve_power(effect_size=0.2, alpha=0.05, power=0.8)
    assert plan.n_control == math.ceil(expected)


def test_inverse_round_trips():
    plan = sample_size_proportions(0.10, 0.02)
    assert detectable_effect_proportions(0.10, plan.n_control) == pytest.approx(0.02, abs=2e-4)
    assert detectable_effect_proportions(0.10, plan.n_control, direction=-1) < 0
    assert power_proportions(0.10, 0.02, plan.n_control) == pytest.approx(0.8, abs=0.002)
    m = sample_size_means(1.0, 5.0)
    assert detectable_effect_means(5.0, m.n_control) == pytest.approx(1.0, abs=0.01)


def test_markdown_lists_the_sample_size():
    text = sample_size_proportions(0.10, 0.02).to_markdown()
    assert "3,835" in text and "| power | 0.8 |" in text


@pytest.mark.parametrize(
    "args,kwargs",
    [
        ((0.0, 0.01), {}),
        ((0.1, 0.0), {}),
        ((0.1, 0.01), {"alpha": 1.5}),
        ((0.1, 0.01), {"power": 0}),
        ((0.95, 0.1), {}),
        ((0.1, 0.01), {"n_variants": 1}),
    ],
)
def test_bad_plans_raise(args, kwargs):
    with pytest.raises(InvalidInputError):
        sample_size_proportions(*args, **kwargs)
