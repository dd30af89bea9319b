"""`vectree experiment analyze` with a scorecard (CUPED, ratio, Bayesian, Holm and BH, SRM by dimension, hybrid)
and `plan --cuped-rho`."""

import json

from typer.testing import CliRunner

from vectree.cli.main import app
from vectree.experiments.simulate_metrics import simulate_units

runner = CliRunner()


def _run(*args):
    result = runner.invoke(app, ["experiment", *map(str, args)])
    assert result.exit_code == 0, result.output
    return result.output


def test_plan_shrinks_with_the_cuped_correlation(tmp_path):
    out = _run(
        "plan",
        "--baseline",
        "10",
        "--mde",
        "1",
        "--metric",
        "mean",
        "--sd",
        "5",
        "--cuped-rho",
        "0.7",
        "--json",
        tmp_path / "p.json",
    )
    plan = json.loads((tmp_path / "p.json").read_text())
    assert plan["n_control"] == 202 and plan["n_control_without_cuped"] == 394 and "202" in out
    out = _run("plan", "--baseline", "0.1", "--mde", "0.02", "--cuped-rho", "0.5")
    assert "2,876" in out and "3,835" in out
    bad = runner.invoke(app, ["experiment", "plan", "--baseline", "0.1", "--mde", "0.02", "--cuped-rho", "1.5"])
    assert bad.exit_code != 0


def test_analyze_scorecard_end_to_end(tmp_path):
    csv = tmp_path / "units.csv"
    simulate_units(16000, revenue_lift=0.6, lost_share=0.25, seed=5).to_csv(csv, index=False)
    report, png, js = tmp_path / "r.md", tmp_path / "lift.png", tmp_path / "r.json"
    _run(
        "analyze",
        csv,
        "--metrics",
        "revenue~pre_revenue,revenue,converted,ctr=clicks/sessions",
        "--dimensions",
        "country,browser",
        "--planned-n",
        "7000",
        "--report",
        report,
        "--lift-plot",
        png,
        "--json",
        js,
    )
    text = report.read_text()
    assert "CUPED on pre_revenue" in text and "delta-method" in text and "chance to win" in text and "BH p" in text
    assert (
        "explained by browser = safari" in text
        and "Sequential hybrid" in text
        and "![lift per metric](lift.png)" in text
    )
    assert png.read_bytes()[:4] == b"\x89PNG"
    card = json.loads(js.read_text())["scorecard"]
    assert card["srm"]["explained_by"] == "browser"
    rows = {(r["metric"], r["kind"]): r for r in card["rows"]}
    cuped = rows[("revenue", "mean, CUPED on pre_revenue")]
    plain = rows[("revenue", "mean")]
    assert cuped["variance_reduction"] > 0.3 and cuped["frequentist"]["se"] < plain["frequentist"]["se"]
    assert all(0 <= r["bayes"]["chance_to_win"] <= 1 for r in card["rows"])


def test_outcome_with_covariate_keeps_the_classic_report(tmp_path):
    csv = tmp_path / "u.csv"
    df = simulate_units(6000, seed=1)
    df["outcome"] = df["converted"]
    df.to_csv(csv, index=False)
    out = _run("analyze", csv, "--covariates", "pre_revenue", "--report", tmp_path / "r.md")
    text = (tmp_path / "r.md").read_text()
    assert "**Decision:" in text and "## Scorecard" in text and "CUPED on pre_revenue" in text
    bad = runner.invoke(app, ["experiment", "analyze", str(csv), "--metrics", "ctr=clicks/nope"])
    assert bad.exit_code == 2 and "nope" in bad.output
    assert out
