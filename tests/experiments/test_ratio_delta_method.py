"""Ratio metrics: the delta-method variance is statsmodels' cluster-robust one, and its intervals cover at 95%."""

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from vectree.errors import InvalidInputError
from vectree.experiments.ratio import compare_ratios, ratio_estimate
from vectree.experiments.simulate_metrics import ratio_arms


def test_delta_variance_equals_cluster_robust_ols():
    clicks, sessions, _, _ = ratio_arms(800, 0.2, 0.2, seed=4)
    est = ratio_estimate(clicks, sessions)
    # one row per session, outcome = click (0/1), clustered by user: the mean's cluster-robust variance
    user = np.repeat(np.arange(len(sessions)), sessions)
    y = np.concatenate([np.r_[np.ones(c), np.zeros(s - c)] for c, s in zip(clicks, sessions)])
    ols = sm.OLS(y, np.ones(len(y))).fit(cov_type="cluster", cov_kwds={"groups": user})
    assert est.ratio == pytest.approx(ols.params[0], rel=1e-12)
    assert est.variance == pytest.approx(ols.cov_params()[0, 0], rel=1e-9)
    naive = sm.OLS(y, np.ones(len(y))).fit().cov_params()[0, 0]
    assert est.variance > 1.3 * naive  # sessions of one user are correlated: the session-level variance is too small


def test_coverage_of_the_difference_over_simulated_runs():
    runs, hits, naive_hits = 1000, 0, 0
    z = stats.norm.ppf(0.975)
    for s in range(runs):
        cc, sc, ct, st = ratio_arms(500, 0.20, 0.22, seed=100 + s)
        c = compare_ratios(cc, sc, ct, st)
        hits += c.abs_ci[0] <= 0.02 <= c.abs_ci[1]
        pc, pt = cc.sum() / sc.sum(), ct.sum() / st.sum()
        se = np.sqrt(pc * (1 - pc) / sc.sum() + pt * (1 - pt) / st.sum())  # sessions treated as independent
        naive_hits += abs(pt - pc - 0.02) <= z * se
    assert hits / runs == pytest.approx(0.95, abs=0.02)
    assert naive_hits / runs < 0.90


def test_relative_interval_and_errors():
    cc, sc, ct, st = ratio_arms(4000, 0.20, 0.24, seed=1)
    c = compare_ratios(cc, sc, ct, st)
    assert c.reject is False and c.p_value < 1e-3 and c.rel_ci[0] < c.rel_lift < c.rel_ci[1]
    with pytest.raises(InvalidInputError, match="sums to 0"):
        ratio_estimate(np.zeros(3), np.zeros(3))
    with pytest.raises(InvalidInputError, match=">= 0"):
        ratio_estimate(np.ones(3), -np.ones(3))
