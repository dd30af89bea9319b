"""The Bayesian engine against closed forms and scipy, and its chance to win calibrated by simulation."""

import numpy as np
import pytest
from scipy import integrate, special, stats

from vectree.errors import InvalidInputError
from vectree.experiments.bayes import bayes_means, bayes_normal, bayes_proportions, chance_beta_beats_beta


def _closed_form(a_t, b_t, a_c, b_c):
    """P(X > Y) for integer a_t (Evan Miller's sum), X ~ Beta(a_t, b_t), Y ~ Beta(a_c, b_c)."""
    i = np.arange(a_t)
    terms = special.betaln(a_c + i, b_c + b_t) - np.log(b_t + i) - special.betaln(1 + i, b_t) - special.betaln(a_c, b_c)
    return float(np.exp(terms).sum())


@pytest.mark.parametrize(
    "xc,nc,xt,nt", [(30, 300, 45, 310), (120, 1000, 100, 1000), (3, 40, 9, 41), (1000, 10000, 1050, 10000)]
)
def test_chance_to_win_matches_the_closed_form(xc, nc, xt, nt):
    got = chance_beta_beats_beta(1 + xt, 1 + nt - xt, 1 + xc, 1 + nc - xc)
    assert got == pytest.approx(_closed_form(1 + xt, 1 + nt - xt, 1 + xc, 1 + nc - xc), abs=1e-8)
    res = bayes_proportions(xc, nc, xt, nt)
    assert res.chance_to_win == pytest.approx(got)


def test_beta_loss_and_interval_match_independent_scipy_draws():
    res = bayes_proportions(30, 300, 45, 310, seed=1)
    rng = np.random.default_rng(99)
    pc = stats.beta(31, 271).rvs(400_000, random_state=rng)
    pt = stats.beta(46, 266).rvs(400_000, random_state=rng)
    assert res.expected_loss == pytest.approx(np.mean(np.maximum(pc - pt, 0)), rel=0.05)
    assert res.expected_loss_control == pytest.approx(np.mean(np.maximum(pt - pc, 0)), rel=0.02)
    lo, hi = np.quantile(pt / pc - 1, [0.025, 0.975])
    assert res.rel_ci == pytest.approx((lo, hi), abs=0.01)
    flipped = bayes_proportions(30, 300, 45, 310, higher_is_better=False)
    assert flipped.chance_to_win == pytest.approx(1 - res.chance_to_win)


def test_normal_engine_flat_prior_is_the_z_interval_and_loss_integrates():
    r = bayes_normal(10.0, 0.1, 0.3, 0.15)
    assert r.chance_to_win == pytest.approx(stats.norm.cdf(0.3 / 0.15))
    assert r.abs_ci == pytest.approx((0.3 - 1.959964 * 0.15, 0.3 + 1.959964 * 0.15), abs=1e-5)
    loss, _ = integrate.quad(lambda d: max(-d, 0.0) * stats.norm.pdf(d, 0.3, 0.15), -2, 2, points=[0.0])
    assert r.expected_loss == pytest.approx(loss, rel=1e-6)


def test_normal_prior_is_the_conjugate_update():
    r = bayes_normal(10.0, 1e-6, 0.3, 0.15, prior_mean=0.0, prior_sd=0.1)
    post_var = 1 / (1 / 0.15**2 + 1 / 0.1**2)
    post_mean = post_var * 0.3 / 0.15**2
    assert r.abs_lift == pytest.approx(post_mean, rel=1e-4)
    assert r.chance_to_win == pytest.approx(stats.norm.cdf(post_mean / np.sqrt(post_var)), rel=1e-4)


def test_chance_to_win_is_calibrated_when_the_prior_is_right():
    rng = np.random.default_rng(5)
    runs, prior_sd, se = 3000, 0.2, 0.15
    truth = rng.normal(0, prior_sd, runs)
    estimate = truth + rng.normal(0, se, runs)
    ctw = np.array(
        [
            bayes_normal(10.0, 0.05, e, se, prior_sd=prior_sd, draws=500, seed=i).chance_to_win
            for i, e in enumerate(estimate)
        ]
    )
    for lo, hi in [(0.5, 0.7), (0.7, 0.9), (0.9, 0.99)]:
        sel = (ctw >= lo) & (ctw < hi)
        assert sel.sum() > 100
        assert (truth[sel] > 0).mean() == pytest.approx(ctw[sel].mean(), abs=0.06)


def test_means_and_bad_input():
    rng = np.random.default_rng(0)
    r = bayes_means(rng.normal(10, 2, 4000), rng.normal(10.2, 2, 4000))
    assert r.chance_to_win > 0.99 and r.rel_ci[0] > 0
    with pytest.raises(InvalidInputError, match="Beta prior"):
        bayes_proportions(1, 10, 2, 10, prior=(0, 1))
    with pytest.raises(InvalidInputError, match="successes"):
        bayes_proportions(11, 10, 2, 10)
