"""BH next to Holm over many metrics; SRM flagged at p < 0.001 with the dimension explaining it; the sequential
hybrid."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from vectree.errors import InvalidInputError
from vectree.experiments import sample_size_proportions
from vectree.experiments.analysis import srm_check
from vectree.experiments.hybrid import hybrid_test, simulate_hybrid
from vectree.experiments.scorecard import scorecard
from vectree.experiments.simulate_metrics import many_metrics_pvalues, multiple_testing_rates, simulate_units
from vectree.experiments.srm import srm_by_dimension


def test_bh_controls_fdr_and_finds_more_than_holm():
    p, is_true = many_metrics_pvalues(2000, 20, 5, seed=1)
    r = multiple_testing_rates(p, is_true)
    assert r["fdr_bh"]["fdr"] <= 0.05 and r["holm"]["fwer"] <= 0.05
    assert r["none"]["fwer"] > 0.4  # 15 null metrics at 0.05 each: uncorrected, most runs have a false positive
    assert r["fdr_bh"]["power"] > r["holm"]["power"] + 0.05
    # the rates are over multipletests' decisions, run by run
    row = p[0]
    assert multipletests(row, method="fdr_bh")[0].sum() >= multipletests(row, method="holm")[0].sum()


def test_scorecard_corrections_are_multipletests():
    df = simulate_units(6000, seed=2)
    card = scorecard(df, ["revenue~pre_revenue", "revenue", "converted", "ctr=clicks/sessions", "sessions"])
    p = [r.frequentist.p_value for r in card.rows]
    assert [r.p_bh for r in card.rows] == pytest.approx(list(multipletests(p, method="fdr_bh")[1]))
    assert [r.p_holm for r in card.rows] == pytest.approx(list(multipletests(p, method="holm")[1]))
    assert card.rows[0].variance_reduction > 0.4
    assert card.rows[0].frequentist.se < card.rows[1].frequentist.se


def test_srm_is_flagged_and_explained_by_the_segment_that_lost_units():
    df = simulate_units(20000, lost_share=0.3, seed=3)
    rep = srm_by_dimension(df, ["country", "browser"])
    assert rep.mismatch and rep.overall.threshold == 0.001
    assert rep.explained_by.dimension == "browser" and rep.explained_by.mismatched_levels == ["safari"]
    table = pd.crosstab(df["browser"], df["variant"])
    assert rep.dimensions[1].p_value == pytest.approx(stats.chi2_contingency(table.to_numpy())[1])
    assert "explained by browser = safari" in rep.message
    clean = srm_by_dimension(simulate_units(20000, seed=3), ["browser"])
    assert not clean.mismatch and clean.explained_by is None


def test_srm_false_alarm_rate_at_the_default_threshold():
    rng = np.random.default_rng(0)
    counts = rng.multinomial(20000, [0.5, 0.5], 2000)
    flags = [srm_check({"a": int(a), "b": int(b)}).mismatch for a, b in counts]
    assert np.mean(flags) <= 0.004
    with pytest.raises(InvalidInputError, match="not in the table"):
        srm_by_dimension(pd.DataFrame({"variant": ["a", "b"]}), ["browser"])


def test_hybrid_false_positive_rate_and_power_against_the_plan():
    plan = sample_size_proportions(0.10, 0.02)
    aa = simulate_hybrid(6000, plan.n_control, 0.10, 0.10, tau=0.02, seed=7)
    assert aa["reject"] == pytest.approx(0.05, abs=0.008)
    ab = simulate_hybrid(2000, plan.n_control, 0.10, 0.12, tau=0.02, seed=8)
    assert ab["reject"] == pytest.approx(0.8, abs=0.04)
    assert ab["early"] > 0.2 and ab["mean_units_per_arm"] < 0.95 * plan.n_control
    assert 0.045 < aa["alpha_final"] <= 0.05


def test_hybrid_running_then_complete():
    rng = np.random.default_rng(1)
    yc, yt = rng.binomial(1, 0.10, 4000), rng.binomial(1, 0.10, 4000)
    running = hybrid_test(yc[:1500], yt[:1500], planned_n=3835, tau=0.02)
    assert not running.complete and running.final_p_value is None and "running" in running.decided_by
    done = hybrid_test(yc, yt, planned_n=3835, tau=0.02)
    assert done.complete and done.looks[-1].n_control == 3835
    big = hybrid_test(rng.binomial(1, 0.10, 2000), rng.binomial(1, 0.16, 2000), planned_n=3835, tau=0.02)
    assert big.reject and big.stopped_at is not None and not big.complete
