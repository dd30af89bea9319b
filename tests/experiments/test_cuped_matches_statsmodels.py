"""CUPED / CURE: the adjustment is statsmodels' OLS, variance shrinks by 1 - rho^2, A/A stays at alpha, plans shrink."""

import numpy as np
import pytest
import statsmodels.api as sm
from statsmodels.stats.power import TTestIndPower

from vectree.errors import InvalidInputError
from vectree.experiments import sample_size_means, sample_size_proportions
from vectree.experiments.cuped import compare_cuped, cuped_fit
from vectree.experiments.simulate_metrics import covariate_arms


def test_effect_and_theta_are_the_ols_coefficients():
    rng = np.random.default_rng(3)
    n = 3000
    x = rng.gamma(2.0, 3.0, (2 * n, 2))
    t = np.repeat([0.0, 1.0], n)
    y = 2.0 + 0.8 * x[:, 0] - 0.3 * x[:, 1] + 0.5 * t + rng.standard_normal(2 * n) * 2
    fit = cuped_fit(y[:n], y[n:], x[:n], x[n:])
    ols = sm.OLS(y, sm.add_constant(np.column_stack([t, x]))).fit()
    assert fit.theta == pytest.approx(ols.params[2:], rel=1e-9)
    assert fit.effect == pytest.approx(ols.params[1], rel=1e-9)
    comp, _ = compare_cuped(y[:n], y[n:], x[:n], x[n:])
    assert comp.abs_lift == pytest.approx(ols.params[1], rel=1e-9)  # adjusted difference of means = OLS coefficient
    hc2 = np.sqrt(ols.get_robustcov_results(cov_type="HC2").cov_params()[1, 1])
    assert comp.se == pytest.approx(hc2, rel=0.02)
    assert comp.ci_level == pytest.approx(0.95)


@pytest.mark.parametrize("rho", [0.3, 0.5, 0.7])
def test_variance_reduction_is_rho_squared(rho):
    yc, yt, xc, xt = covariate_arms(40000, rho, 0.1, seed=int(rho * 10))
    fit = cuped_fit(yc, yt, xc, xt)
    assert fit.variance_reduction == pytest.approx(rho**2, abs=0.015)
    plain = np.sqrt(yc.var(ddof=1) / len(yc) + yt.var(ddof=1) / len(yt))
    comp, _ = compare_cuped(yc, yt, xc, xt)
    assert comp.se / plain == pytest.approx(np.sqrt(1 - rho**2), abs=0.01)


def test_several_covariates_reduce_more_than_one():
    rng = np.random.default_rng(0)
    n = 5000
    x = rng.standard_normal((2 * n, 3))
    y = x @ np.array([1.0, 0.7, 0.5]) + rng.standard_normal(2 * n)
    one = cuped_fit(y[:n], y[n:], x[:n, 0], x[n:, 0]).variance_reduction
    three = cuped_fit(y[:n], y[n:], x[:n], x[n:]).variance_reduction
    assert three > one + 0.1 and three == pytest.approx(1 - 1 / (1 + 1 + 0.49 + 0.25), abs=0.03)


def test_aa_false_positive_rate_and_power_at_the_cuped_plan():
    rho, sims = 0.7, 800
    plan = sample_size_means(0.25, 1.0, cuped_rho=rho)
    ycs, yts, xcs, xts = covariate_arms(plan.n_control, rho, 0.0, n_sims=sims, seed=11)
    fpr = np.mean([compare_cuped(a, b, c, d)[0].p_value <= 0.05 for a, b, c, d in zip(ycs, yts, xcs, xts)])
    ycs, yts, xcs, xts = covariate_arms(plan.n_control, rho, 0.25, n_sims=sims, seed=12)
    power = np.mean([compare_cuped(a, b, c, d)[0].p_value <= 0.05 for a, b, c, d in zip(ycs, yts, xcs, xts)])
    assert fpr == pytest.approx(0.05, abs=0.02)
    assert power == pytest.approx(0.8, abs=0.045)


def test_plans_shrink_by_one_minus_rho_squared():
    for rho in (0.3, 0.5, 0.7):
        m = sample_size_means(1.0, 5.0, cuped_rho=rho)
        direct = TTestIndPower().solve_power(effect_size=1.0 / (5.0 * np.sqrt(1 - rho**2)), alpha=0.05, power=0.8)
        assert m.n_control == int(np.ceil(direct)) and m.n_control_without_cuped == 394
        p = sample_size_proportions(0.1, 0.02, cuped_rho=rho)
        assert abs(p.n_control - 3835 * (1 - rho**2)) <= 1
        assert "CUPED correlation" in p.to_markdown()
    with pytest.raises(InvalidInputError, match="cuped_rho"):
        sample_size_means(1.0, 5.0, cuped_rho=1.0)


def test_bad_covariates_are_refused():
    y = np.arange(10.0)
    with pytest.raises(InvalidInputError, match="one row per unit"):
        cuped_fit(y, y, np.arange(9.0), y)
    with pytest.raises(InvalidInputError, match="NaN"):
        cuped_fit(y, y, np.full(10, np.nan), y)
