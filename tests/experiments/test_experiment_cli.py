"""`vectree experiment plan|analyze|backtest|simulate` over CSV files, writing markdown, PNG and JSON."""

import json

import pandas as pd
from typer.testing import CliRunner

from vectree.cli.main import app

runner = CliRunner()


def _run(*args):
    result = runner.invoke(app, ["experiment", *map(str, args)])
    assert result.exit_code == 0, result.output
    return result.output


def test_plan_both_ways(tmp_path):
    out = _run("plan", "--baseline", "0.1", "--mde", "0.02", "--json", tmp_path / "plan.json")
    assert "3,835" in out
    assert json.loads((tmp_path / "plan.json").read_text())["n_control"] == 3835
    out = _run("plan", "--baseline", "0.1", "--n", "3835")
    assert "+0.02" in out
    out = _run("plan", "--baseline", "10", "--mde", "1", "--metric", "mean", "--sd", "5")
    assert "394" in out
    bad = runner.invoke(app, ["experiment", "plan", "--baseline", "0.1"])
    assert bad.exit_code != 0


def test_simulate_then_analyze(tmp_path):
    csv = tmp_path / "ab.csv"
    _run("simulate", csv, "--units", "20000", "--rates", "0.10,0.12", "--seed", "3")
    assert set(pd.read_csv(csv).columns) == {"unit", "variant", "outcome", "time"}
    report, plot, js = tmp_path / "report.md", tmp_path / "lift.png", tmp_path / "r.json"
    out = _run("analyze", csv, "--report", report, "--plot", plot, "--json", js, "--sequential", "--tau", "0.02")
    assert "launch treatment" in out
    text = report.read_text()
    assert "**Decision: launch treatment" in text and "![lift over time](lift.png)" in text
    assert plot.read_bytes()[:4] == b"\x89PNG"
    data = json.loads(js.read_text())
    assert data["comparisons"][0]["reject"] is True and data["srm"]["mismatch"] is False


def test_backtest_with_holdout(tmp_path):
    fwd, rev = tmp_path / "fwd.csv", tmp_path / "rev.csv"
    _run("simulate", fwd, "--units", "30000", "--rates", "0.10,0.115", "--variants", "A,B", "--seed", "1")
    _run(
        "simulate", rev, "--units", "30000", "--rates", "0.115,0.10", "--variants", "B,A", "--days", "28", "--seed", "2"
    )
    report, plot = tmp_path / "bt.md", tmp_path / "holdout.png"
    out = _run(
        "backtest", fwd, rev, "--new", "B", "--old", "A", "--holdout-window", "7D", "--report", report, "--plot", plot
    )
    assert "confirmed" in out
    text = report.read_text()
    assert "Verdict: confirmed" in text and "Long-running holdout" in text and "2026-01-22" in text
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_errors_are_reported_not_raised(tmp_path):
    res = runner.invoke(app, ["experiment", "analyze", str(tmp_path / "missing.csv")])
    assert res.exit_code == 2 and "no such CSV file" in res.output
    csv = tmp_path / "bad.csv"
    pd.DataFrame({"unit": [1, 2], "variant": ["a", "b"], "outcome": [1, 0]}).to_csv(csv, index=False)
    res = runner.invoke(app, ["experiment", "analyze", str(csv), "--outcome-col", "clicks"])
    assert res.exit_code == 2 and "clicks" in res.output
