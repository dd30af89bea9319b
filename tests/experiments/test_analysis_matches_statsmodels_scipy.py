"""Analysis numbers agree with statsmodels and scipy called directly."""

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from vectree.errors import InvalidInputError
from vectree.experiments import compare_means, compare_proportions, srm_check


def test_two_proportion_z_test_and_intervals():
    c = compare_proportions(1000, 10000, 1100, 10050, alpha=0.05)
    z, p = proportions_ztest([1100, 1000], [10050, 10000])
    assert c.statistic == pytest.approx(z) and c.p_value == pytest.approx(p)
    lo, hi = confint_proportions_2indep(1100, 10050, 1000, 10000, method="wald", compare="diff")
    assert c.abs_ci == pytest.approx((lo, hi))
    rlo, rhi = confint_proportions_2indep(1100, 10050, 1000, 10000, method="log", compare="ratio")
    assert c.rel_ci == pytest.approx((rlo - 1, rhi - 1))
    assert c.abs_lift == pytest.approx(1100 / 10050 - 0.1)
    assert c.rel_lift == pytest.approx((1100 / 10050) / 0.1 - 1)
    assert c.rel_ci[0] < c.rel_lift < c.rel_ci[1]
    # Wald interval and its z: the interval excludes 0 exactly when the unpooled z does
    assert (c.abs_ci[0] > 0) == (c.abs_lift / c.se > stats.norm.ppf(0.975))


def test_welch_t_test_and_interval():
    rng = np.random.default_rng(3)
    yc = rng.exponential(10.0, 800)
    yt = rng.exponential(11.5, 600)
    c = compare_means(yc, yt, alpha=0.05)
    ref = stats.ttest_ind(yt, yc, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert c.statistic == pytest.approx(ref.statistic) and c.p_value == pytest.approx(ref.pvalue)
    assert c.abs_ci == pytest.approx((ci.low, ci.high))
    assert c.rel_lift == pytest.approx(yt.mean() / yc.mean() - 1)
    assert c.rel_ci[0] < c.rel_lift < c.rel_ci[1]
    assert c.test == "Welch's t-test"


def test_srm_is_scipy_chisquare():
    r = srm_check({"control": 5000, "treatment": 5200})
    ref = stats.chisquare([5000, 5200])
    assert r.chi2 == pytest.approx(ref.statistic) and r.p_value == pytest.approx(ref.pvalue)
    assert not r.mismatch
    bad = srm_check({"control": 5000, "treatment": 5400})
    assert bad.mismatch
    planned = srm_check({"control": 9000, "treatment": 1000}, {"control": 0.9, "treatment": 0.1})
    assert not planned.mismatch


def test_holm_correction_is_statsmodels():
    from vectree.experiments.analysis import correct

    comps = [compare_proportions(1000, 10000, x, 10000) for x in (1040, 1090, 1120)]
    correct(comps, "holm")
    ref = multipletests([c.p_value for c in comps], method="holm")[1]
    assert [c.p_adjusted for c in comps] == pytest.approx(list(ref))
    with pytest.raises(InvalidInputError):
        correct(comps, "made-up")


def test_degenerate_and_bad_inputs():
    same = compare_proportions(0, 100, 0, 100)
    assert same.p_value == 1.0 and same.abs_lift == 0.0
    with pytest.raises(InvalidInputError):
        compare_proportions(5, 4, 1, 10)
    with pytest.raises(InvalidInputError):
        compare_means([1.0], [1.0, 2.0])
    with pytest.raises(InvalidInputError):
        compare_means([1.0, np.nan], [1.0, 2.0])
