"""analyze(): per-unit aggregation, the launch decision, SRM, several variants, lower-is-better metrics."""

import numpy as np
import pandas as pd
import pytest

from vectree.errors import InvalidInputError
from vectree.experiments import analyze, compare_proportions
from vectree.experiments.report import experiment_markdown
from vectree.experiments.simulate import simulate_exposures


def test_rows_per_exposure_are_aggregated_per_unit():
    # unit u1 saw 3 impressions and clicked once: it counts as one converted unit
    df = pd.DataFrame(
        {
            "unit": ["u1", "u1", "u1", "u2", "u3", "u4", "u4"],
            "variant": ["control", "control", "control", "control", "treatment", "treatment", "treatment"],
            "outcome": [0, 1, 0, 0, 1, 0, 0],
        }
    )
    r = analyze(df)
    assert r.summary == [
        {"variant": "control", "units": 2, "value": 0.5, "sd": pytest.approx(np.std([1, 0], ddof=1))},
        {"variant": "treatment", "units": 2, "value": 0.5, "sd": pytest.approx(np.std([1, 0], ddof=1))},
    ]
    revenue = df.assign(outcome=[1.0, 2.5, 0.0, 4.0, 3.0, 1.0, 1.5])
    r2 = analyze(revenue)
    assert r2.metric == "mean" and r2.summary[0]["value"] == pytest.approx((3.5 + 4.0) / 2)


def test_unit_in_two_variants_raises():
    df = pd.DataFrame(
        {"unit": ["u1", "u1", "u2"], "variant": ["control", "treatment", "control"], "outcome": [0, 1, 0]}
    )
    with pytest.raises(InvalidInputError, match="more than one variant"):
        analyze(df)


def test_launch_decision_follows_the_p_value():
    df = simulate_exposures(30000, rates=(0.10, 0.115), seed=1)
    r = analyze(df)
    c = r.comparisons[0]
    x = df.groupby("variant")["outcome"].agg(["sum", "size"])
    ref = compare_proportions(
        int(x.loc["control", "sum"]),
        int(x.loc["control", "size"]),
        int(x.loc["treatment", "sum"]),
        int(x.loc["treatment", "size"]),
    )
    assert c.p_value == pytest.approx(ref.p_value)
    assert c.reject and c.decision.startswith("launch") and r.decision.startswith("launch treatment")
    flat = analyze(simulate_exposures(4000, rates=(0.10, 0.10), seed=2))
    assert not flat.comparisons[0].reject and flat.decision.startswith("do not launch")
    worse = analyze(simulate_exposures(30000, rates=(0.10, 0.085), seed=3))
    assert worse.comparisons[0].decision == "do not launch: reject H0, the variant is worse"
    assert analyze(simulate_exposures(30000, rates=(0.10, 0.085), seed=3), higher_is_better=False).decision.startswith(
        "launch"
    )


def test_sample_ratio_mismatch_blocks_the_launch():
    df = simulate_exposures(30000, rates=(0.10, 0.12), seed=4)
    dropped = df[~((df["variant"] == "treatment") & (df.index % 10 == 0))]  # lose 10% of treatment logs
    r = analyze(dropped)
    assert r.srm.mismatch and r.decision.startswith("do not launch: sample ratio mismatch")
    assert "MISMATCH" in experiment_markdown(r)
    ok = analyze(df, expected_shares={"control": 0.5, "treatment": 0.5})
    assert not ok.srm.mismatch


def test_three_variants_are_corrected():
    df = simulate_exposures(45000, rates=(0.10, 0.10, 0.115), variants=("control", "B", "C"), seed=5)
    r = analyze(df, correction="holm")
    assert [c.variant for c in r.comparisons] == ["B", "C"]
    assert all(c.p_adjusted >= c.p_value for c in r.comparisons)
    assert r.comparisons[0].ci_level == pytest.approx(0.975)
    assert r.decision.startswith("launch C")
    none = analyze(df, correction="none")
    assert all(c.p_adjusted == c.p_value for c in none.comparisons)


def test_sequential_option_uses_always_valid_p():
    df = simulate_exposures(30000, rates=(0.10, 0.12), seed=6)
    r = analyze(df, time_col="time", sequential=True, tau=0.02)
    c = r.comparisons[0]
    assert c.sequential["p_value"] >= c.p_value  # paying for the right to peek
    assert c.sequential["ci"][0] <= c.abs_ci[0] and c.sequential["ci"][1] >= c.abs_ci[1]
    assert c.reject and "Sequential" in experiment_markdown(r)


def test_bad_tables_raise():
    with pytest.raises(InvalidInputError, match="not in the table"):
        analyze(pd.DataFrame({"group": ["a"], "outcome": [1]}))
    with pytest.raises(InvalidInputError, match="at least 2 variants"):
        analyze(pd.DataFrame({"variant": ["a", "a"], "outcome": [1, 0]}), unit_col=None)
    with pytest.raises(InvalidInputError, match="non-numeric"):
        analyze(pd.DataFrame({"variant": ["a", "b"], "outcome": ["x", 1]}), unit_col=None)
    with pytest.raises(InvalidInputError, match="control variant"):
        analyze(pd.DataFrame({"variant": ["a", "b"] * 3, "outcome": [1, 0] * 3}), unit_col=None, control="zzz")
