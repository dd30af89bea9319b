"""``vectree experiment``: plan, analyze and backtest A/B tests from CSV files of exposures and outcomes."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markdown import Markdown

from vectree.cli.common import console, reports_errors

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="A/B tests: plan (power analysis), analyze (tests, SRM, decision), backtest (reverse run, holdout).",
)


def _shares(text: str | None) -> dict[str, float] | None:
    if not text:
        return None
    out = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise typer.BadParameter(f"shares must look like 'control=0.5,treatment=0.5', got {text!r}") from None
    return out


def _split(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def _write(path: Path | None, text: str, what: str) -> None:
    if path is not None:
        path.write_text(text)
        console.print(f"{what} written to {path}")


@app.command()
@reports_errors
def plan(
    baseline: float = typer.Option(..., help="Control rate (proportion) or mean (mean metric)."),
    mde: float | None = typer.Option(
        None, help="Minimum detectable effect, absolute (0.01 = 1 point) unless --relative."
    ),
    n: int | None = typer.Option(
        None, help="Units in the control: report the detectable effect instead of a sample size."
    ),
    metric: str = typer.Option("proportion", help="proportion or mean."),
    sd: float | None = typer.Option(None, help="Outcome standard deviation (mean metric)."),
    relative: bool = typer.Option(False, help="Read --mde as a fraction of the baseline."),
    alpha: float = typer.Option(0.05, help="Significance level (family-wise)."),
    power: float = typer.Option(0.8, help="Probability of detecting the MDE."),
    variants: int = typer.Option(2, help="Number of variants including the control."),
    ratio: float = typer.Option(1.0, help="Units per treatment for each control unit."),
    cuped_rho: float = typer.Option(
        0.0,
        "--cuped-rho",
        help="Correlation of the outcome with its pre-experiment covariate: CUPED shrinks the sample by 1 - rho^2.",
    ),
    json_out: Path | None = typer.Option(None, "--json", help="Write the plan as JSON here."),
) -> None:
    """Sample size per variant for a minimum detectable effect, or the effect detectable with --n units."""
    from vectree.experiments import power as pw

    if (mde is None) == (n is None):
        raise typer.BadParameter(
            "give exactly one of --mde (to get a sample size) or --n (to get the detectable effect)"
        )
    if metric not in ("proportion", "mean"):
        raise typer.BadParameter(f"--metric must be proportion or mean, got {metric!r}")
    if metric == "mean" and sd is None:
        raise typer.BadParameter("--metric mean needs --sd, the outcome's standard deviation")
    if not 0 <= cuped_rho < 1:
        raise typer.BadParameter(f"--cuped-rho must be in [0, 1), got {cuped_rho}")
    if n is not None:
        if metric == "proportion":
            # CUPED: n units with the adjustment carry the information of n / (1 - rho^2) plain ones
            eff = pw.detectable_effect_proportions(
                baseline,
                max(2, round(n / (1 - cuped_rho**2))),
                alpha=alpha,
                power=power,
                ratio=ratio,
                n_variants=variants,
            )
        else:
            eff = pw.detectable_effect_means(
                sd * (1 - cuped_rho**2) ** 0.5, n, alpha=alpha, power=power, ratio=ratio, n_variants=variants
            )
        rel = f" ({eff / baseline:+.2%} relative)" if baseline else ""
        console.print(
            f"With {n:,} units in the control, the detectable effect at alpha={alpha:g}, power={power:g} is "
            f"[bold]{eff:+.4g}[/bold]{rel}."
        )
        _write(
            json_out,
            json.dumps({"n_control": n, "mde_abs": eff, "alpha": alpha, "power": power, "metric": metric}, indent=2),
            "JSON",
        )
        return
    if metric == "proportion":
        p = pw.sample_size_proportions(
            baseline,
            mde,
            relative=relative,
            alpha=alpha,
            power=power,
            ratio=ratio,
            n_variants=variants,
            cuped_rho=cuped_rho,
        )
    else:
        p = pw.sample_size_means(
            mde,
            sd,
            baseline=baseline,
            relative=relative,
            alpha=alpha,
            power=power,
            ratio=ratio,
            n_variants=variants,
            cuped_rho=cuped_rho,
        )
    console.print(Markdown(p.to_markdown()))
    _write(json_out, json.dumps(p.as_dict(), indent=2), "JSON")


@app.command()
@reports_errors
def analyze(
    csv: Path = typer.Argument(
        ..., help="CSV with a variant column, an outcome column and optionally unit and time columns."
    ),
    variant_col: str = typer.Option("variant", help="Column naming the variant."),
    outcome_col: str = typer.Option("outcome", help="Column with the outcome (0/1 or a number)."),
    unit_col: str = typer.Option(
        "unit", help="Randomisation unit column; rows of a unit are aggregated (absent: one row = one unit)."
    ),
    time_col: str | None = typer.Option(
        None, help="Time column for sequential looks and lift over time (default: 'time' if present)."
    ),
    control: str | None = typer.Option(None, help="Control variant (default: 'control', 'A', or the first name)."),
    metric: str = typer.Option("auto", help="auto, proportion or mean."),
    alpha: float = typer.Option(0.05),
    correction: str = typer.Option("holm", help="Multiple-comparison correction: holm, bonferroni, fdr_bh or none."),
    shares: str | None = typer.Option(
        None, help="Planned traffic shares for the SRM check, e.g. 'control=0.5,treatment=0.5'."
    ),
    sequential: bool = typer.Option(False, help="Decide with the always-valid mSPRT p-value (safe under peeking)."),
    tau: float | None = typer.Option(None, help="Effect size the sequential test is tuned for (e.g. the planned MDE)."),
    lower_is_better: bool = typer.Option(False, help="The metric improves when it goes down (latency, churn)."),
    window: str = typer.Option(
        "1D", help="Window for lift over time (pandas frequency, or a number for numeric time)."
    ),
    metrics: str | None = typer.Option(
        None,
        help="Scorecard metrics, comma-separated: 'col', 'name=numerator/denominator' (ratio, "
        "delta method), 'col~pre1+pre2' (CUPED/CURE); ':lower' when lower is better. Default: the outcome.",
    ),
    covariates: str | None = typer.Option(
        None, help="Pre-experiment covariate column(s) for CUPED on the outcome, e.g. 'pre_outcome'."
    ),
    dimensions: str | None = typer.Option(None, help="Columns to break the SRM check down by, e.g. 'browser,country'."),
    srm_threshold: float = typer.Option(0.001, help="p-value below which the SRM check flags a mismatch."),
    planned_n: int | None = typer.Option(
        None, help="Planned units per arm: run the sequential hybrid on the first metric."
    ),
    prior_sd: float | None = typer.Option(
        None, help="Bayesian prior sd of each metric's absolute effect (default: flat / Beta(1,1))."
    ),
    report: Path | None = typer.Option(None, help="Write a markdown report here."),
    plot: Path | None = typer.Option(None, help="Write a PNG of the cumulative lift with its interval over time here."),
    lift_plot: Path | None = typer.Option(
        None, help="Write a PNG of the lift per metric, frequentist and Bayesian intervals side by side."
    ),
    json_out: Path | None = typer.Option(None, "--json", help="Write the result as JSON here."),
) -> None:
    """Tests, intervals, sample-ratio check and launch decision; a scorecard of every metric (frequentist, Bayesian)."""
    from vectree.experiments import analyze as run
    from vectree.experiments import lift_over_time, read_exposures
    from vectree.experiments.report import experiment_markdown, plot_lift_over_time
    from vectree.experiments.scorecard import MetricSpec, per_unit, scorecard
    from vectree.experiments.scorecard_report import plot_scorecard, scorecard_markdown

    df = read_exposures(csv)
    time_col = time_col or ("time" if "time" in df.columns else None)
    unit = unit_col if unit_col in df.columns else None
    specs = [MetricSpec.parse(m) for m in _split(metrics)] if metrics else []
    if not specs:
        cov = _split(covariates)
        specs = [
            MetricSpec(outcome_col, column=outcome_col, covariates=tuple(cov), higher_is_better=not lower_is_better)
        ]
    dims = _split(dimensions)
    sums = list(dict.fromkeys(c for sp in specs for c in (sp.column, sp.numerator, sp.denominator) if c))
    firsts = list(dict.fromkeys([*(c for sp in specs for c in sp.covariates), *dims]))
    units = per_unit(
        df,
        unit_col=unit,
        variant_col=variant_col,
        sum_cols=sums,
        first_cols=firsts + ([time_col] if time_col else []),
    )
    card = scorecard(
        units,
        specs,
        variant_col=variant_col,
        control=control,
        alpha=alpha,
        dimensions=dims,
        expected_shares=_shares(shares),
        srm_threshold=srm_threshold,
        prior_sd=prior_sd,
        planned_n=planned_n,
        time_col=time_col,
        tau=tau,
    )
    lift_name = None
    if lift_plot is not None:
        plot_scorecard(card, lift_plot)
        lift_name = str(lift_plot.name if report is not None and lift_plot.parent == report.parent else lift_plot)
        console.print(f"plot written to {lift_plot}")
    card_text = scorecard_markdown(card, title="Scorecard: every metric, frequentist and Bayesian", plot=lift_name)
    if outcome_col not in df.columns:  # a scorecard of other metrics only
        console.print(Markdown(card_text))
        _write(report, card_text, "report")
        _write(json_out, json.dumps({"scorecard": card.as_dict()}, indent=2, default=str), "JSON")
        return
    res = run(
        df,
        variant_col=variant_col,
        outcome_col=outcome_col,
        unit_col=unit,
        time_col=time_col,
        control=control,
        metric=metric,
        alpha=alpha,
        correction=correction,
        expected_shares=_shares(shares),
        sequential=sequential,
        tau=tau,
        higher_is_better=not lower_is_better,
        srm_threshold=srm_threshold,
    )
    plot_name = None
    if plot is not None:
        if time_col is None:
            raise typer.BadParameter("--plot needs a time column (--time-col)")
        best = max(res.comparisons, key=lambda c: abs(c.abs_lift))
        rows = lift_over_time(
            df,
            control=res.control,
            variant=best.variant,
            time_col=time_col,
            window=window,
            variant_col=variant_col,
            outcome_col=outcome_col,
            unit_col=unit,
            metric=res.metric,
            alpha=alpha,
        )
        plot_lift_over_time(rows, plot, title=f"{best.variant} vs {res.control}: cumulative lift")
        plot_name = str(plot.name if report is not None and plot.parent == report.parent else plot)
        console.print(f"plot written to {plot}")
    text = (
        experiment_markdown(res, title=f"Experiment analysis: {csv.name}", plot=plot_name)
        + "\n"
        + card_text.replace("# Scorecard", "## Scorecard", 1)
    )
    console.print(Markdown(text))
    _write(report, text, "report")
    _write(json_out, json.dumps({**res.as_dict(), "scorecard": card.as_dict()}, indent=2, default=str), "JSON")


@app.command()
@reports_errors
def backtest(
    forward: Path = typer.Argument(
        ..., help="CSV of the forward run (old = control, new = variant), or of both runs with --phase-col."
    ),
    reverse: Path | None = typer.Argument(None, help="CSV of the reverse run (new = control, old = variant)."),
    new: str = typer.Option("B", help="Name of the new system (the variant in the forward run)."),
    old: str = typer.Option("A", help="Name of the old system (the control in the forward run)."),
    phase_col: str = typer.Option("phase", help="With one CSV: the column telling 'forward' from 'reverse' rows."),
    variant_col: str = typer.Option("variant"),
    outcome_col: str = typer.Option("outcome"),
    unit_col: str = typer.Option("unit"),
    metric: str = typer.Option("auto"),
    alpha: float = typer.Option(0.05),
    lower_is_better: bool = typer.Option(False),
    holdout_window: str | None = typer.Option(
        None, help="Also report the lift per time window of the reverse (holdout) run, e.g. '7D'."
    ),
    time_col: str = typer.Option("time", help="Time column for the holdout report."),
    report: Path | None = typer.Option(None, help="Write a markdown report here."),
    plot: Path | None = typer.Option(
        None, help="Write a PNG of the holdout lift per window here (needs --holdout-window)."
    ),
    json_out: Path | None = typer.Option(None, "--json"),
) -> None:
    """Swap control and variant: is the gain lost in reverse? Optionally a holdout report over time windows."""
    from vectree.experiments import backtest as run
    from vectree.experiments import holdout_report, read_exposures, split_phases
    from vectree.experiments.report import backtest_markdown, holdout_markdown, plot_lift_over_time

    fdf = read_exposures(forward)
    if reverse is None:
        fdf, rdf = split_phases(fdf, phase_col)
    else:
        rdf = read_exposures(reverse)
    unit = unit_col if unit_col in fdf.columns else None
    res = run(
        fdf,
        rdf,
        new=new,
        old=old,
        alpha=alpha,
        metric=metric,
        higher_is_better=not lower_is_better,
        variant_col=variant_col,
        outcome_col=outcome_col,
        unit_col=unit,
    )
    text = backtest_markdown(res)
    out = res.as_dict()
    if holdout_window:
        h = holdout_report(
            rdf,
            control=old,
            variant=new,
            time_col=time_col,
            window=holdout_window,
            alpha=alpha,
            higher_is_better=not lower_is_better,
            variant_col=variant_col,
            outcome_col=outcome_col,
            unit_col=unit,
        )
        plot_name = None
        if plot is not None:
            plot_lift_over_time(h.rows, plot, title=f"{new} vs holdout {old}: lift per window", cumulative=False)
            plot_name = str(plot.name if report is not None and plot.parent == report.parent else plot)
            console.print(f"plot written to {plot}")
        text += "\n" + holdout_markdown(h, title="Long-running holdout (reverse run)", plot=plot_name)
        out["holdout"] = h.as_dict()
    console.print(Markdown(text))
    _write(report, text, "report")
    _write(json_out, json.dumps(out, indent=2, default=str), "JSON")


@app.command()
@reports_errors(also=(ValueError,))
def simulate(
    out: Path = typer.Argument(..., help="CSV to write."),
    units: int = typer.Option(20000, help="Number of units."),
    rates: str = typer.Option("0.10,0.11", help="Conversion rate per variant, comma-separated."),
    variants: str = typer.Option("control,treatment", help="Variant names, comma-separated."),
    days: int = typer.Option(14),
    novelty: float = typer.Option(0.0, help="Extra lift of every treatment that halves every 3 days."),
    seed: int = typer.Option(0),
) -> None:
    """Write a simulated exposure CSV (unit, variant, outcome, time) to try the other commands on."""
    from vectree.experiments.simulate import simulate_exposures

    df = simulate_exposures(
        units,
        rates=[float(r) for r in rates.split(",")],
        variants=variants.split(","),
        days=days,
        novelty=novelty,
        seed=seed,
        experiment=out.stem,
    )
    df.to_csv(out, index=False)
    console.print(f"{len(df):,} rows written to {out}")
