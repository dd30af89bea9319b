"""The experiments benchmark's simulated rows: calibration of the tests, CUPED, ratio metrics, many
metrics, Bayesian chance to win, the sequential hybrid, SRM and peeking (see benchmarks/experiments.py).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vectree.experiments import sample_size_means, sample_size_proportions  # noqa: E402
from vectree.experiments.analysis import srm_check  # noqa: E402
from vectree.experiments.bayes import bayes_normal, chance_beta_beats_beta  # noqa: E402
from vectree.experiments.cuped import compare_cuped  # noqa: E402
from vectree.experiments.hybrid import simulate_hybrid  # noqa: E402
from vectree.experiments.ratio import compare_ratios  # noqa: E402
from vectree.experiments.simulate import (  # noqa: E402
    rejection_rate_means,
    rejection_rate_proportions,
    simulate_peeking,
)
from vectree.experiments.simulate_metrics import (  # noqa: E402
    covariate_arms,
    many_metrics_pvalues,
    multiple_testing_rates,
    ratio_arms,
    simulate_units,
)
from vectree.experiments.srm import srm_by_dimension  # noqa: E402

SYSTEM = "vectree.experiments"


def row(setting: str, dataset: str, **metrics) -> dict:
    return {
        "system": SYSTEM,
        "setting": setting,
        "dataset": dataset,
        "metrics": {k: (round(v, 5) if isinstance(v, float) else v) for k, v in metrics.items()},
    }


def calibration(n_sims: int, seeds: int) -> list[dict]:
    rows = []
    plan = sample_size_proportions(0.10, 0.02)
    fpr = [rejection_rate_proportions(n_sims, plan.n_control, 0.10, 0.10, seed=s) for s in range(seeds)]
    pw = [rejection_rate_proportions(n_sims, plan.n_control, 0.10, 0.12, seed=100 + s) for s in range(seeds)]
    rows.append(
        row(
            f"two-proportion z-test, p=0.10, mde=+0.02, n={plan.n_control}/arm",
            f"simulated x{n_sims} x{seeds} seeds",
            alpha=0.05,
            false_positive_rate=float(np.mean(fpr)),
            false_positive_rate_min=min(fpr),
            false_positive_rate_max=max(fpr),
            planned_power=0.8,
            simulated_power=float(np.mean(pw)),
        )
    )
    m = sample_size_means(1.0, 5.0)
    for skew in (False, True):
        fpr = [rejection_rate_means(n_sims, m.n_control, 0.0, 5.0, skew=skew, seed=s) for s in range(seeds)]
        pw = [rejection_rate_means(n_sims, m.n_control, 1.0, 5.0, skew=skew, seed=100 + s) for s in range(seeds)]
        rows.append(
            row(
                f"Welch's t-test, {'exponential' if skew else 'normal'} outcomes, sd=5, mde=+1, n={m.n_control}/arm",
                f"simulated x{n_sims} x{seeds} seeds",
                alpha=0.05,
                false_positive_rate=float(np.mean(fpr)),
                false_positive_rate_min=min(fpr),
                false_positive_rate_max=max(fpr),
                planned_power=0.8,
                simulated_power=float(np.mean(pw)),
            )
        )
    return rows


def progress(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def cuped(n_sims: int) -> list[dict]:
    rows = []
    for i, rho in enumerate((0.3, 0.5, 0.7)):
        plan = sample_size_means(0.25, 1.0, cuped_rho=rho)
        n = plan.n_control
        yc, yt, xc, xt = covariate_arms(n, rho, 0.0, n_sims=n_sims, seed=10 + i)
        aa = [compare_cuped(a, b, c, d) for a, b, c, d in zip(yc, yt, xc, xt)]
        var_ratio = [f.variance_reduction for _, f in aa]
        fpr = float(np.mean([c.p_value <= 0.05 for c, _ in aa]))
        yc, yt, xc, xt = covariate_arms(n, rho, 0.25, n_sims=n_sims, seed=20 + i)
        power = float(np.mean([compare_cuped(a, b, c, d)[0].p_value <= 0.05 for a, b, c, d in zip(yc, yt, xc, xt)]))
        rows.append(
            row(
                f"CUPED, rho={rho}, sd=1, mde=+0.25, n={n}/arm (plain plan {plan.n_control_without_cuped}/arm)",
                f"simulated x{n_sims}",
                rho=rho,
                theoretical_variance_ratio=1 - rho**2,
                measured_variance_ratio=1 - float(np.mean(var_ratio)),
                n_per_arm=n,
                n_per_arm_without_cuped=plan.n_control_without_cuped,
                alpha=0.05,
                false_positive_rate=fpr,
                planned_power=0.8,
                simulated_power=power,
            )
        )
        progress(f"CUPED rho={rho}: fpr={fpr:.4f} power={power:.4f}")
    return rows


def ratio_coverage(n_sims: int) -> list[dict]:
    from scipy import stats

    z = stats.norm.ppf(0.975)
    cover, naive, rej_aa = 0, 0, 0
    for s in range(n_sims):
        cc, sc, ct, st = ratio_arms(1000, 0.20, 0.21, seed=1000 + s)
        c = compare_ratios(cc, sc, ct, st)
        cover += c.abs_ci[0] <= 0.01 <= c.abs_ci[1]
        pc, pt = cc.sum() / sc.sum(), ct.sum() / st.sum()
        naive += abs(pt - pc - 0.01) <= z * np.sqrt(pc * (1 - pc) / sc.sum() + pt * (1 - pt) / st.sum())
        ac, asc, at, ast = ratio_arms(1000, 0.20, 0.20, seed=90000 + s)
        rej_aa += compare_ratios(ac, asc, at, ast).p_value <= 0.05
    progress(f"ratio coverage {cover / n_sims:.4f}")
    return [
        row(
            "ratio clicks/sessions, delta method, 1000 users/arm, ~3 sessions/user, ctr 0.20 vs 0.21",
            f"simulated x{n_sims}",
            nominal_coverage=0.95,
            coverage=cover / n_sims,
            aa_false_positive_rate=rej_aa / n_sims,
        ),
        row(
            "ratio clicks/sessions, sessions treated as independent (binomial), same runs",
            f"simulated x{n_sims}",
            nominal_coverage=0.95,
            coverage=naive / n_sims,
        ),
    ]


def fdr(n_sims: int) -> list[dict]:
    p, truth = many_metrics_pvalues(n_sims, 20, 5, seed=3)
    r = multiple_testing_rates(p, truth, alpha=0.05)
    progress(f"BH fdr {r['fdr_bh']['fdr']:.4f}")
    names = {"fdr_bh": "Benjamini-Hochberg, q=0.05", "holm": "Holm, alpha=0.05", "none": "uncorrected, alpha=0.05"}
    return [
        row(
            f"20 metrics, 5 true effects (z=3), {names[m]}",
            f"simulated x{n_sims}",
            q=0.05,
            false_discovery_rate=v["fdr"],
            family_wise_error_rate=v["fwer"],
            power=v["power"],
            discoveries_per_run=v["discoveries_per_run"],
        )
        for m, v in r.items()
    ]


def _calibration(ctw: np.ndarray, wins: np.ndarray) -> dict:
    out = {}
    for lo, hi in ((0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 0.95), (0.95, 1.0001)):
        sel = (ctw >= lo) & (ctw < hi)
        out[f"{lo:.2f}-{min(hi, 1):.2f}"] = {
            "runs": int(sel.sum()),
            "mean_chance_to_win": float(ctw[sel].mean()) if sel.any() else None,
            "truly_win": float(wins[sel].mean()) if sel.any() else None,
        }
    return out


def bayes_calibration(n_sims: int) -> tuple[list[dict], dict]:
    rng = np.random.default_rng(8)
    rows, curves = [], {}
    # rates: each arm's true rate drawn from Beta(225, 2025) (mean 0.10, sd 0.0063); 2,000 units per arm
    a0, b0, n = 225.0, 2025.0, 2000
    pc, pt = rng.beta(a0, b0, n_sims), rng.beta(a0, b0, n_sims)
    xc, xt = rng.binomial(n, pc), rng.binomial(n, pt)
    for prior, label in (
        ((a0, b0), "Beta(225, 2025) prior = the truth's"),
        ((1.0, 1.0), "flat Beta(1, 1) prior (misspecified)"),
    ):
        ctw = np.array(
            [
                chance_beta_beats_beta(prior[0] + b, prior[1] + n - b, prior[0] + a, prior[1] + n - a)
                for a, b in zip(xc, xt)
            ]
        )
        cal = _calibration(ctw, pt > pc)
        curves[f"beta-binomial, {label}"] = cal
        b = cal["0.90-0.95"]
        rows.append(
            row(
                f"chance to win, beta-binomial, {label}, 2000 units/arm",
                f"simulated x{n_sims}",
                runs_reporting_90_95=b["runs"],
                mean_reported=b["mean_chance_to_win"],
                truly_win=b["truly_win"],
            )
        )
    # means: true absolute effect ~ Normal(0, 0.2^2), estimate se 0.15 (revenue-like, CLT)
    effect = rng.normal(0, 0.2, n_sims)
    est = effect + rng.normal(0, 0.15, n_sims)
    for prior_sd, label in (
        (0.2, "Normal(0, 0.2^2) prior on the effect = the truth's"),
        (None, "flat prior (misspecified)"),
    ):
        ctw = np.array(
            [
                bayes_normal(10.0, 0.05, e, 0.15, prior_sd=prior_sd, draws=200, seed=i).chance_to_win
                for i, e in enumerate(est)
            ]
        )
        cal = _calibration(ctw, effect > 0)
        curves[f"normal, {label}"] = cal
        b = cal["0.90-0.95"]
        rows.append(
            row(
                f"chance to win, normal, {label}, effect se 0.15",
                f"simulated x{n_sims}",
                runs_reporting_90_95=b["runs"],
                mean_reported=b["mean_chance_to_win"],
                truly_win=b["truly_win"],
            )
        )
    progress("bayes calibration: " + ", ".join(f"{r['metrics']['truly_win']:.3f}" for r in rows))
    return rows, curves


def hybrid(n_sims: int) -> list[dict]:
    plan = sample_size_proportions(0.10, 0.02)
    aa = simulate_hybrid(n_sims, plan.n_control, 0.10, 0.10, tau=0.02, seed=31)
    ab = simulate_hybrid(n_sims, plan.n_control, 0.10, 0.12, tau=0.02, seed=32)
    progress(f"hybrid fpr {aa['reject']:.4f} power {ab['reject']:.4f}")
    return [
        row(
            "sequential hybrid, 20 looks, half of alpha on the mSPRT (tau=0.02), p=0.10, mde=+0.02, planned "
            f"n={plan.n_control}/arm",
            f"simulated x{n_sims}",
            alpha=0.05,
            alpha_final=aa["alpha_final"],
            false_positive_rate=aa["reject"],
            planned_power=0.8,
            simulated_power=ab["reject"],
            stopped_early=ab["early"],
            mean_units_per_arm=ab["mean_units_per_arm"],
            traffic_saved=1 - ab["mean_units_per_arm"] / plan.n_control,
        )
    ]


def srm_rows(n_sims: int, n_tables: int) -> list[dict]:
    rng = np.random.default_rng(4)
    counts = rng.multinomial(20000, [0.5, 0.5], n_sims)
    false = float(np.mean([srm_check({"a": int(a), "b": int(b)}).mismatch for a, b in counts]))
    found = named = 0
    for s in range(n_tables):
        rep = srm_by_dimension(simulate_units(20000, lost_share=0.25, seed=500 + s), ["country", "browser"])
        found += rep.mismatch
        named += (
            rep.explained_by is not None
            and rep.explained_by.dimension == "browser"
            and rep.explained_by.mismatched_levels == ["safari"]
        )
    progress(f"srm false={false:.4f} found={found}/{n_tables}")
    return [
        row(
            "SRM at p < 0.001, A/A, 20,000 units, 50/50",
            f"simulated x{n_sims}",
            false_alarm_rate=false,
            threshold=0.001,
        ),
        row(
            "SRM at p < 0.001, treatment loses 25% of its safari units (25% of traffic), 20,000 units",
            f"simulated x{n_tables}",
            detection_rate=found / n_tables,
            explained_by_browser_safari=named / n_tables,
        ),
    ]


def peeking(n_sims: int) -> list[dict]:
    rows = []
    for looks in (1, 5, 20, 100):
        aa = simulate_peeking(n_sims, 10000, n_looks=looks, p_control=0.1, tau=0.012, seed=looks)
        ab = simulate_peeking(
            n_sims, 10000, n_looks=looks, p_control=0.1, p_variant=0.112, tau=0.012, seed=1000 + looks
        )
        rows.append(
            row(
                f"{looks} looks, p=0.10, effect +0.012, n=10000/arm, tau=0.012",
                f"simulated x{n_sims}",
                alpha=0.05,
                naive_false_positive_rate=aa.naive_any_look,
                msprt_false_positive_rate=aa.msprt_any_look,
                naive_power=ab.naive_any_look,
                msprt_power=ab.msprt_any_look,
            )
        )
    return rows
