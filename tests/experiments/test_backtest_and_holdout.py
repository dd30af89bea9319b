"""Backtests: a real gain is lost in reverse; a novelty effect is not. Holdouts show a fading lift over time."""

import pandas as pd
import pytest

from vectree.errors import InvalidInputError
from vectree.experiments import backtest, holdout_report, lift_over_time, split_phases
from vectree.experiments.report import backtest_markdown, holdout_markdown, plot_lift_over_time
from vectree.experiments.simulate import simulate_exposures


def _runs(forward_rates, reverse_rates, novelty=0.0, n=40000):
    fwd = simulate_exposures(n, rates=forward_rates, variants=("A", "B"), novelty=novelty, seed=11, experiment="fwd")
    rev = simulate_exposures(n, rates=reverse_rates, variants=("B", "A"), seed=12, experiment="rev")
    return fwd, rev


def test_real_gain_is_lost_in_reverse():
    fwd, rev = _runs((0.10, 0.115), (0.115, 0.10))
    r = backtest(fwd, rev, new="B", old="A")
    assert r.gain > 0 and r.loss < 0
    assert r.asymmetry == pytest.approx(r.gain + r.loss)
    assert r.asymmetry_ci[0] < 0 < r.asymmetry_ci[1]
    assert r.confirmed and r.verdict.startswith("confirmed")
    assert "Verdict: confirmed" in backtest_markdown(r)


def test_novelty_effect_is_not_lost_in_reverse():
    # forward: B looks much better early on (novelty); in reverse the old system A is no worse
    fwd, rev = _runs((0.10, 0.10), (0.10, 0.10), novelty=0.05)
    r = backtest(fwd, rev, new="B", old="A")
    assert r.forward.reject and r.gain > 0
    assert not r.confirmed and r.verdict.startswith("not confirmed")


def test_overly_optimistic_gain_is_partly_confirmed():
    fwd, rev = _runs((0.10, 0.11), (0.11, 0.10), novelty=0.06, n=80000)
    r = backtest(fwd, rev, new="B", old="A")
    assert r.verdict.startswith("partly confirmed") and "overly optimistic" in r.verdict


def test_phases_in_one_table():
    fwd, rev = _runs((0.10, 0.115), (0.115, 0.10), n=20000)
    both = pd.concat([fwd.assign(phase="forward"), rev.assign(phase="reverse", unit=rev["unit"] + "r")])
    f, r = split_phases(both)
    assert len(f) == len(fwd) and len(r) == len(rev)
    with pytest.raises(InvalidInputError):
        split_phases(fwd.assign(phase="forward"))
    with pytest.raises(InvalidInputError, match="no rows for variant"):
        backtest(fwd, rev, new="B", old="Z")


def test_holdout_shows_a_fading_lift(tmp_path):
    df = simulate_exposures(
        80000,
        rates=(0.10, 0.10),
        variants=("holdout", "launched"),
        novelty=0.04,
        novelty_half_life_days=7,
        days=56,
        seed=21,
    )
    h = holdout_report(df, control="holdout", variant="launched", window="7D")
    assert len(h.rows) == 8
    assert h.rows[0].abs_lift > h.rows[-1].abs_lift
    assert h.drift == "fading" and h.slope_per_window < 0
    steady = simulate_exposures(80000, rates=(0.10, 0.11), variants=("holdout", "launched"), days=56, seed=22)
    assert holdout_report(steady, control="holdout", variant="launched", window="7D").drift == "stable"
    text = holdout_markdown(h, plot="lift.png")
    assert "Trend: fading" in text and "![lift per window](lift.png)" in text
    rows = lift_over_time(df, control="holdout", variant="launched", window="7D", cumulative=True)
    assert rows[-1].n_control + rows[-1].n_variant == len(df)
    png = plot_lift_over_time(rows, tmp_path / "lift.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
