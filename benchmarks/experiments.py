"""Experiments benchmark: are the A/B statistics calibrated, and what do the training-data tools find on real data?

Rows:
- calibration: false-positive rate of simulated A/A tests and power at the planned sample size
  (two-proportion z-test, Welch's t-test on normal and on skewed outcomes);
- CUPED at rho 0.3 / 0.5 / 0.7: the variance of the adjusted outcome against 1 - rho^2, A/A false-positive
  rate, power at the CUPED plan (which shrinks the sample by 1 - rho^2) against the planned 0.8;
- ratio metrics: coverage of the delta-method interval, against treating sessions as independent;
- many metrics: false discovery rate of Benjamini-Hochberg and family-wise error of Holm over runs of
  20 metrics with 5 true effects;
- Bayesian: chance-to-win calibration (of runs reporting 90-95%, the share whose variant truly wins);
- sequential hybrid: A/A false-positive rate, power and traffic used against the fixed-horizon plan;
- SRM: false alarms at p < 0.001 and detection (with the dimension named) of a segment losing units;
- MovieLens 100k: a simulated A/B of two ranking-funnel settings with logged-propensity exploration,
  replayed on each user's held-out interactions, analysed end to end (scorecard) and backtested;
- peeking: the false-positive rate when a test is checked 1, 5, 20 or 100 times, fixed-horizon z-test
  against the always-valid mSPRT, and the mSPRT's power;
- near duplicates on real arXiv embeddings (all-MiniLM-L6-v2): pairs found through a vectree collection
  (probes=8) against the exact scan, and the time each takes;
- splits and learning curve on the same embeddings (label = primary category): a random split against a
  time split (train on older papers, validate on newer ones), and validation accuracy against the number
  of training rows ("do we need more data?").

Usage: python benchmarks/experiments.py [--quick] [--data ../shared/data]
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.common import arguments  # noqa: E402
from vectree.errors import VectreeError  # noqa: E402
from vectree.experiments import backtest, sample_size_means, sample_size_proportions  # noqa: E402
from vectree.experiments.analysis import srm_check  # noqa: E402
from vectree.experiments.bayes import bayes_normal, chance_beta_beats_beta  # noqa: E402
from vectree.experiments.cuped import compare_cuped, cuped_fit  # noqa: E402
from vectree.experiments.data import learning_curve, near_duplicate_pairs, random_split, time_split  # noqa: E402
from vectree.experiments.hybrid import simulate_hybrid  # noqa: E402
from vectree.experiments.ratio import compare_ratios  # noqa: E402
from vectree.experiments.scorecard import scorecard  # noqa: E402
from vectree.experiments.scorecard_report import plot_scorecard, scorecard_markdown  # noqa: E402
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
from vectree.experiments.slate_ab import simulate_slate_ab, unit_metrics  # noqa: E402
from vectree.experiments.srm import srm_by_dimension  # noqa: E402
from vectree.figures import pyplot, save_figure  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
SYSTEM = "vectree.experiments"


def _row(setting: str, dataset: str, **metrics) -> dict:
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
        _row(
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
            _row(
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


def _progress(msg: str) -> None:
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
            _row(
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
        _progress(f"CUPED rho={rho}: fpr={fpr:.4f} power={power:.4f}")
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
    _progress(f"ratio coverage {cover / n_sims:.4f}")
    return [
        _row(
            "ratio clicks/sessions, delta method, 1000 users/arm, ~3 sessions/user, ctr 0.20 vs 0.21",
            f"simulated x{n_sims}",
            nominal_coverage=0.95,
            coverage=cover / n_sims,
            aa_false_positive_rate=rej_aa / n_sims,
        ),
        _row(
            "ratio clicks/sessions, sessions treated as independent (binomial), same runs",
            f"simulated x{n_sims}",
            nominal_coverage=0.95,
            coverage=naive / n_sims,
        ),
    ]


def fdr(n_sims: int) -> list[dict]:
    p, truth = many_metrics_pvalues(n_sims, 20, 5, seed=3)
    r = multiple_testing_rates(p, truth, alpha=0.05)
    _progress(f"BH fdr {r['fdr_bh']['fdr']:.4f}")
    names = {"fdr_bh": "Benjamini-Hochberg, q=0.05", "holm": "Holm, alpha=0.05", "none": "uncorrected, alpha=0.05"}
    return [
        _row(
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
            _row(
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
            _row(
                f"chance to win, normal, {label}, effect se 0.15",
                f"simulated x{n_sims}",
                runs_reporting_90_95=b["runs"],
                mean_reported=b["mean_chance_to_win"],
                truly_win=b["truly_win"],
            )
        )
    _progress("bayes calibration: " + ", ".join(f"{r['metrics']['truly_win']:.3f}" for r in rows))
    return rows, curves


def hybrid(n_sims: int) -> list[dict]:
    plan = sample_size_proportions(0.10, 0.02)
    aa = simulate_hybrid(n_sims, plan.n_control, 0.10, 0.10, tau=0.02, seed=31)
    ab = simulate_hybrid(n_sims, plan.n_control, 0.10, 0.12, tau=0.02, seed=32)
    _progress(f"hybrid fpr {aa['reject']:.4f} power {ab['reject']:.4f}")
    return [
        _row(
            f"sequential hybrid, 20 looks, half of alpha on the mSPRT (tau=0.02), p=0.10, mde=+0.02, planned n={plan.n_control}/arm",
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
    _progress(f"srm false={false:.4f} found={found}/{n_tables}")
    return [
        _row(
            "SRM at p < 0.001, A/A, 20,000 units, 50/50",
            f"simulated x{n_sims}",
            false_alarm_rate=false,
            threshold=0.001,
        ),
        _row(
            "SRM at p < 0.001, treatment loses 25% of its safari units (25% of traffic), 20,000 units",
            f"simulated x{n_tables}",
            detection_rate=found / n_tables,
            explained_by_browser_safari=named / n_tables,
        ),
    ]


def movielens_ab(quick: bool) -> tuple[list[dict], dict, object]:
    """Two funnel settings: the A/B (forward run) and its backtest (reverse run, roles swapped)."""
    import pandas as pd
    import torch

    from benchmarks.datasets import movielens_100k
    from vectree.apps.recommend.data import time_split
    from vectree.apps.recommend.features import Catalog
    from vectree.apps.recommend.funnel import RankingFunnel

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    ml = movielens_100k()
    inter = ml.interactions
    if quick:
        inter = inter.subset(inter.user < 300)
    train, test = time_split(inter, test_fraction=0.2, per_user=True)
    catalog = Catalog.from_movielens(ml, "hash")
    # quick: one two-tower epoch, settings differ by probes; full: the same funnel with and without the re-ranker
    funnel = RankingFunnel(
        n_candidates=100 if quick else 200,
        probes=8,
        explore_share=0.2,
        rerank=not quick,
        two_tower={"epochs": 1 if quick else 5},
    ).fit(train, catalog)
    fit_s = time.perf_counter() - t0
    _progress(f"MovieLens funnel fitted in {fit_s:.0f} s")
    if quick:
        settings = {
            "A": ("ANN probes=1", dict(probes=1, rerank=False)),
            "B": ("ANN probes=8", dict(probes=8, rerank=False)),
        }
    else:
        settings = {
            "A": ("two-tower order, no re-rank", dict(rerank=False)),
            "B": ("two-tower + gradient-boosted re-rank", dict(rerank=True)),
        }

    def policy(kw):
        def run(users, rng):
            r = funnel.recommend_detailed(users, 10, rng=rng, **kw)
            return r.items, r.propensities, r.sources

        return run

    policies = {k: policy(kw) for k, (_, kw) in settings.items()}
    users = np.unique(test.user)
    relevant_all = test.by_user()
    days = pd.Series(test.timestamp // 86400).groupby(test.user).nunique()
    visits = np.minimum(5, days.reindex(users).fillna(1).to_numpy(int))
    train_days = pd.Series(train.timestamp // 86400).groupby(train.user).nunique()
    occupation = np.array(ml.occupation_names, dtype=object)[ml.user_occupation]
    info = pd.DataFrame(
        {
            "unit": users,
            "pre_activity": np.bincount(train.user, minlength=inter.n_users)[users],
            "pre_days": train_days.reindex(users).fillna(0).to_numpy(),
            "gender": np.where(ml.user_gender[users] == 1, "M", "F"),
            "age_band": pd.cut(
                ml.user_age[users], [0, 24, 34, 49, 200], labels=["<25", "25-34", "35-49", "50+"]
            ).astype(str),
            "occupation": occupation[users],
        }
    )
    # forward and reverse both run on every user, re-randomised with another salt: independent assignments make
    # the two estimates' noise independent, as the backtest's asymmetry test assumes
    logs, tables = {}, {}
    for ph in ("forward", "reverse"):
        pol = policies if ph == "forward" else {"B": policies["B"], "A": policies["A"]}
        log = simulate_slate_ab(
            users,
            [relevant_all[u] for u in users],
            pol,
            visits=visits,
            experiment=f"movielens-funnel-{ph}",
            seed=41 if ph == "forward" else 42,
        )
        logs[ph], tables[ph] = log, unit_metrics(log, info)
    card = scorecard(
        tables["forward"],
        [
            "clicks~pre_activity+pre_days",
            "clicks",
            "clicked",
            "ctr=clicks/impressions",
            "explore_ctr=explore_clicks/explore_impressions",
        ],
        control="A",
        dimensions=["gender", "age_band", "occupation"],
    )
    for t in tables.values():  # the backtest of the CUPED metric: adjusted clicks, theta fitted within each run
        arm = t["variant"] == t["variant"].iloc[0]
        cov = ["pre_activity", "pre_days"]
        fit = cuped_fit(
            t.loc[arm, "clicks"],
            t.loc[~arm, "clicks"],
            t.loc[arm, cov].to_numpy(float),
            t.loc[~arm, cov].to_numpy(float),
        )
        t["clicks_cuped"] = fit.adjust(t["clicks"].to_numpy(float), t[cov].to_numpy(float))
    bts = {
        m: backtest(
            tables["forward"][["unit", "variant", m]],
            tables["reverse"][["unit", "variant", m]],
            new="B",
            old="A",
            outcome_col=m,
            metric="proportion" if m == "clicked" else "mean",
        )
        for m in ("clicks_cuped", "clicked", "clicks")
    }
    bt = bts["clicks_cuped"]
    fwd_log = logs["forward"]
    expl = fwd_log[fwd_log["source"] == "explore"]
    ds = f"movielens-100k{'-300users' if quick else ''}, held-out 20% per user"
    rows = []
    for r in card.rows:
        f, b = r.frequentist, r.bayes
        rows.append(
            _row(
                f"funnel A/B: {r.metric} ({r.kind}), B = {settings['B'][0]} vs A = {settings['A'][0]}",
                ds,
                control=f.control_value,
                variant=f.variant_value,
                abs_lift=f.abs_lift,
                rel_lift=f.rel_lift,
                ci_low=f.abs_ci[0],
                ci_high=f.abs_ci[1],
                p_value=f.p_value,
                p_holm=r.p_holm,
                p_bh=r.p_bh,
                chance_to_win=b.chance_to_win,
                expected_loss=b.expected_loss,
                variance_reduction=r.variance_reduction if r.variance_reduction is not None else "-",
            )
        )
    names = {
        "clicks_cuped": "clicks per user (CUPED)",
        "clicked": "users with a click",
        "clicks": "clicks per user (plain)",
    }
    for m, b in bts.items():
        rows.append(
            _row(
                f"funnel backtest: {names[m]}, forward (A control) then reverse (B control), every user re-randomised",
                ds,
                gain=b.gain,
                loss=b.loss,
                asymmetry=b.asymmetry,
                asymmetry_p_value=b.asymmetry_p_value,
                forward_p_value=b.forward.p_value,
                reverse_p_value=b.reverse.p_value,
                verdict=b.verdict,
            )
        )
    extra = {
        "settings": {k: v[0] for k, v in settings.items()},
        "fit_s": round(fit_s, 1),
        "units": card.n_units,
        "srm": card.srm.message,
        "impressions_forward": int(len(fwd_log)),
        "explored_share": float((fwd_log["source"] == "explore").mean()),
        "explore_propensity_median": float(expl["propensity"].median()) if len(expl) else None,
        "model_propensity": float(fwd_log.loc[fwd_log["source"] != "explore", "propensity"].median()),
        "scorecard_md": scorecard_markdown(card, title="MovieLens funnel A/B (forward run)"),
        "backtest": {m: {"verdict": b.verdict, "gain": b.gain, "loss": b.loss} for m, b in bts.items()},
    }
    _progress(f"MovieLens A/B analysed: {bt.verdict}")
    return rows, extra, card


def peeking(n_sims: int) -> list[dict]:
    rows = []
    for looks in (1, 5, 20, 100):
        aa = simulate_peeking(n_sims, 10000, n_looks=looks, p_control=0.1, tau=0.012, seed=looks)
        ab = simulate_peeking(
            n_sims, 10000, n_looks=looks, p_control=0.1, p_variant=0.112, tau=0.012, seed=1000 + looks
        )
        rows.append(
            _row(
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


def _arxiv(data: Path, n: int) -> tuple[np.ndarray, list[dict]]:
    vec = np.load(data / "arxiv-abstracts-minilm.npy", mmap_mode="r")
    with gzip.open(data / "arxiv-abstracts.jsonl.gz", "rt") as f:
        meta = [json.loads(line) for line in itertools.islice(f, n)]
    return np.asarray(vec[:n], dtype=np.float32), meta


def near_duplicates(x: np.ndarray, meta: list[dict], threshold: float) -> tuple[list[dict], list[dict]]:
    t = time.perf_counter()
    approx = near_duplicate_pairs(x, threshold=threshold, probes=8)
    t_approx = time.perf_counter() - t
    t = time.perf_counter()
    exact = near_duplicate_pairs(x, threshold=threshold, exact=True)
    t_exact = time.perf_counter() - t
    found = set(zip(approx["i"], approx["j"]))
    truth = set(zip(exact["i"], exact["j"]))
    recall = len(found & truth) / len(truth) if truth else 1.0
    ds = f"arxiv-minilm first {len(x):,}"
    rows = [
        _row(
            f"near duplicates, cosine distance <= {threshold}, probes=8",
            ds,
            pairs=len(found),
            pair_recall=recall,
            time_s=t_approx,
        ),
        _row(f"near duplicates, cosine distance <= {threshold}, exact scan", ds, pairs=len(truth), time_s=t_exact),
    ]
    examples = [
        {
            "a": meta[i]["id"],
            "b": meta[j]["id"],
            "distance": float(d),
            "title_a": meta[i]["title"][:70],
            "title_b": meta[j]["title"][:70],
        }
        for i, j, d in exact.head(5).itertuples(index=False)
    ]
    return rows, examples


def splits_and_curve(x: np.ndarray, meta: list[dict], sizes: list[int], quick: bool):
    from sklearn.linear_model import RidgeClassifier
    from sklearn.metrics import balanced_accuracy_score

    cats = np.array([m["primary_category"] for m in meta])
    uniq, counts = np.unique(cats, return_counts=True)
    keep = np.isin(cats, uniq[counts >= max(50, len(cats) // 150)])
    x, cats, dates = x[keep], cats[keep], np.array([m["date"] for m in meta])[keep]
    model = RidgeClassifier(alpha=1.0)  # linear, closed form: seconds where logistic regression takes minutes here
    rows = []
    split_rows = {}
    for name, split in (
        ("random", random_split(len(x), (0.8, 0.2, 0.0), seed=0)),
        ("time", time_split(dates, (0.8, 0.2, 0.0))),
    ):
        t = time.perf_counter()
        fitted = RidgeClassifier(alpha=1.0).fit(x[split.train], cats[split.train])
        pred = fitted.predict(x[split.validation])
        acc = float((pred == cats[split.validation]).mean())
        bal = float(balanced_accuracy_score(cats[split.validation], pred))
        split_rows[name] = {"accuracy": round(acc, 4), "balanced_accuracy": round(bal, 4)}
        rows.append(
            _row(
                f"ridge classifier, {name} split 80/20",
                f"arxiv-minilm {len(x):,} rows, {len(set(cats))} classes",
                validation_accuracy=acc,
                validation_balanced_accuracy=bal,
                train_rows=int(len(split.train)),
                fit_s=time.perf_counter() - t,
            )
        )
    ts = time_split(dates, (0.8, 0.2, 0.0))
    t = time.perf_counter()
    lc = learning_curve(
        model,
        x[ts.train],
        cats[ts.train],
        validation=(x[ts.validation], cats[ts.validation]),
        train_sizes=[s for s in sizes if s <= len(ts.train)],
        repeats=1,
    )
    for r in lc.rows():
        rows.append(
            _row(
                f"learning curve (time split), n_train={r['n_train']}",
                f"arxiv-minilm {len(x):,} rows",
                validation_accuracy=r["val_mean"],
                train_accuracy=r["train_mean"],
            )
        )
    return rows, lc, time.perf_counter() - t, split_rows


def plot(rows_peek: list[dict], lc, cuped_rows: list[dict], curves: dict, fdr_rows: list[dict], path: Path) -> None:
    plt = pyplot()

    fig, axes = plt.subplots(2, 3, figsize=(16, 8.4), dpi=100)
    a, b, c, d, e, f = axes.ravel()
    looks = [r["setting"].split()[0] for r in rows_peek]
    xs = np.arange(len(looks))
    a.bar(xs - 0.2, [r["metrics"]["naive_false_positive_rate"] for r in rows_peek], 0.4, label="fixed-horizon z-test")
    a.bar(xs + 0.2, [r["metrics"]["msprt_false_positive_rate"] for r in rows_peek], 0.4, label="always-valid mSPRT")
    a.axhline(0.05, color="black", linestyle="--", linewidth=0.8, label="alpha = 0.05")
    a.set_xticks(xs, looks)
    a.set_xlabel("number of looks at the data")
    a.set_ylabel("false-positive rate (A/A)")
    a.set_title("Peeking: false positives")
    a.legend(loc="upper left", fontsize=8)
    if lc is not None:
        b.plot(lc.sizes, lc.val_mean, marker="o", label="validation (newer papers)")
        b.plot(lc.sizes, lc.train_mean, marker="o", label="train")
        b.set_xscale("log")
        b.minorticks_off()
        b.set_xticks(lc.sizes, [f"{s:,}" for s in lc.sizes], rotation=30)
        b.set_xlabel("training rows (older papers)")
        b.set_ylabel("accuracy")
        b.set_title("Learning curve: arXiv category from MiniLM embeddings")
        b.grid(True, alpha=0.3)
        b.legend(loc="best", fontsize=8)
    else:
        b.axis("off")
        b.text(0.5, 0.5, "no shared arXiv data: learning curve skipped", ha="center")
    rhos = [r["metrics"]["rho"] for r in cuped_rows]
    xs = np.arange(len(rhos))
    c.bar(xs - 0.2, [r["metrics"]["theoretical_variance_ratio"] for r in cuped_rows], 0.4, label="1 - rho^2")
    c.bar(
        xs + 0.2,
        [r["metrics"]["measured_variance_ratio"] for r in cuped_rows],
        0.4,
        label="measured var(adjusted) / var(raw)",
    )
    for x, r in zip(xs, cuped_rows):
        m = r["metrics"]
        c.text(
            x,
            m["theoretical_variance_ratio"] + 0.03,
            f"power {m['simulated_power']:.3f}\nFPR {m['false_positive_rate']:.3f}\n"
            f"n {m['n_per_arm']} vs {m['n_per_arm_without_cuped']}",
            ha="center",
            fontsize=7,
        )
    c.set_xticks(xs, [f"rho = {r}" for r in rhos])
    c.set_ylim(0, 1.25)
    c.set_ylabel("variance ratio")
    c.set_title("CUPED: variance kept, power at the CUPED plan")
    c.legend(loc="upper right", fontsize=8)
    for name, cal in curves.items():
        pts = [(v["mean_chance_to_win"], v["truly_win"]) for v in cal.values() if v["runs"] >= 20]
        d.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
    d.plot([0.5, 1], [0.5, 1], color="black", linewidth=0.8, linestyle="--")
    d.axvspan(0.9, 0.95, color="grey", alpha=0.15)
    d.set_xlabel("reported chance to win (bin mean)")
    d.set_ylabel("share that truly win")
    d.set_title("Bayesian chance to win: calibration")
    d.legend(loc="upper left", fontsize=7)
    labels = [r["setting"].split(", ")[-1] for r in fdr_rows]
    xs = np.arange(len(labels))
    for k, (key, lab) in enumerate(
        (("false_discovery_rate", "FDR"), ("family_wise_error_rate", "FWER"), ("power", "power"))
    ):
        e.bar(xs + (k - 1) * 0.27, [r["metrics"][key] for r in fdr_rows], 0.27, label=lab)
    e.axhline(0.05, color="black", linestyle="--", linewidth=0.8)
    e.set_xticks(xs, labels, fontsize=8)
    e.set_title("20 metrics, 5 true effects")
    e.legend(loc="upper left", fontsize=8)
    f.axis("off")
    save_figure(fig, path)


def readme_block(result: dict) -> str:
    """The README's experiments summary, from a results file (no number typed by hand)."""
    rows = {r["setting"]: r["metrics"] for r in result["rows"]}

    def pick(prefix: str) -> list[tuple[str, dict]]:
        return [(s, m) for s, m in rows.items() if s.startswith(prefix)]

    out = [
        f"From `{result['command']}` ({result['date']}, {result['machine']['cpus']} cores; every rate over simulated runs "
        "with a known truth, the same functions an analysis calls):",
        "",
        "| check | goal | measured |",
        "|---|---|---|",
    ]
    for s, m in pick("CUPED"):
        out.append(
            f"| CUPED, rho = {m['rho']}: variance of the adjusted outcome | 1 - rho^2 = {m['theoretical_variance_ratio']:.2f} "
            f"| {m['measured_variance_ratio']:.3f} |"
        )
        out.append(
            f"| CUPED, rho = {m['rho']}: A/A false positives; power at the CUPED plan ({m['n_per_arm']} instead of "
            f"{m['n_per_arm_without_cuped']} units/arm) | 0.05 +- 0.01; 0.80 | {m['false_positive_rate']:.4f}; {m['simulated_power']:.4f} |"
        )
    for s, m in pick("ratio"):
        what = "delta method" if "delta" in s else "sessions as independent (wrong)"
        out.append(
            f"| ratio metric clicks/sessions, 95% interval coverage, {what} | 0.95 +- 0.01 | {m['coverage']:.4f} |"
        )
    for s, m in pick("20 metrics"):
        name = s.split(", ")[-2] if "Benjamini" not in s else "Benjamini-Hochberg"
        if "Holm" in s:
            out.append(
                f"| 20 metrics, 5 true effects: Holm family-wise error; power | <= 0.05 | {m['family_wise_error_rate']:.4f}; {m['power']:.3f} |"
            )
        elif "Benjamini" in s:
            out.append(
                f"| 20 metrics, 5 true effects: BH false discovery rate; power | <= q = 0.05 | {m['false_discovery_rate']:.4f}; {m['power']:.3f} |"
            )
        else:
            out.append(
                f"| 20 metrics, 5 true effects: uncorrected false discovery rate; family-wise error | (for contrast) "
                f"| {m['false_discovery_rate']:.4f}; {m['family_wise_error_rate']:.4f} |"
            )
    for s, m in pick("chance to win"):
        label = s[len("chance to win, ") :].rsplit(",", 1)[0]
        out.append(
            f"| chance to win, {label}: of {m['runs_reporting_90_95']} runs reporting 90-95% (mean {m['mean_reported']:.3f}), "
            f"share that truly win | 0.90-0.95 | {m['truly_win']:.4f} |"
        )
    for s, m in pick("sequential hybrid"):
        out.append(
            f"| sequential hybrid (mSPRT looks at alpha/2, final test at {m['alpha_final']:.4f}): A/A false positives; power "
            f"| 0.05; plan 0.80 | {m['false_positive_rate']:.4f}; {m['simulated_power']:.4f} (stopped early in {m['stopped_early']:.1%}, "
            f"{m['traffic_saved']:.1%} less traffic) |"
        )
    for s, m in pick("SRM"):
        if "false_alarm_rate" in m:
            out.append(f"| SRM at p < 0.001, A/A false alarms | 0.001 | {m['false_alarm_rate']:.4f} |")
        else:
            out.append(
                f"| SRM, treatment loses 25% of one browser's units: flagged; explained by that browser | 1; 1 "
                f"| {m['detection_rate']:.2f}; {m['explained_by_browser_safari']:.2f} |"
            )
    ml = result.get("movielens_ab")
    if ml:
        fun = pick("funnel A/B")
        bts = [
            (s[len("funnel backtest: ") :].split(", forward")[0], m)
            for s, m in rows.items()
            if s.startswith("funnel backtest")
        ]
        out += [
            "",
            f"MovieLens 100k, replayed: each user's held-out 20% of ratings are the items they would click; "
            f"B = {ml['settings']['B']} against A = {ml['settings']['A']}, 20% of the slots explored with logged propensities, "
            f"{sum(ml['units'].values())} users in the forward run ("
            + ", ".join(f"{k} {v}" for k, v in ml["units"].items())
            + "):",
            "",
            "| metric | A | B | relative lift | p | BH p | chance to win | CUPED variance reduction |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for s, m in fun:
            name = s[len("funnel A/B: ") :].split(", B = ")[0]
            vr = m["variance_reduction"]
            out.append(
                f"| {name} | {m['control']:.4g} | {m['variant']:.4g} | {m['rel_lift']:+.1%} | {m['p_value']:.3g} | {m['p_bh']:.3g} "
                f"| {m['chance_to_win']:.1%} | {vr if isinstance(vr, str) else f'{vr:.1%}'} |"
            )
        out += [
            "",
            "Backtest (a reverse run, B the control, every user re-randomised):",
            "",
            "| metric | gain (forward, B - A) | p | loss in reverse (A - B) | p | gain + loss [p] | verdict |",
            "|---|---|---|---|---|---|---|",
        ]
        out += [
            f"| {name} | {m['gain']:+.4g} | {m['forward_p_value']:.3g} | {m['loss']:+.4g} | {m['reverse_p_value']:.3g} "
            f"| {m['asymmetry']:+.4g} [{m['asymmetry_p_value']:.3g}] | {m['verdict']} |"
            for name, m in bts
        ]
        out += [
            "",
            f"{ml['srm'][0].upper() + ml['srm'][1:]}. The explored slots draw items the same way in both arms, yet their "
            "click rate is no A/A guardrail: next to a better ranking, users have already clicked the items they wanted "
            "(each at most once), so the random slots click less (tested in `tests/experiments/test_slate_ab_replay.py`).",
        ]
    return "\n".join(out)


def write_readme(result: dict, readme: Path) -> None:
    text = readme.read_text()
    begin, end = "<!-- experiments:begin -->", "<!-- experiments:end -->"
    if begin not in text or end not in text:
        raise SystemExit(f"{readme} has no {begin} .. {end} block")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(head + begin + "\n" + readme_block(result) + "\n" + end + tail)


def main() -> None:
    ap = arguments(__doc__.splitlines()[0], quick="a small run in under a minute")
    ap.add_argument(
        "--data", type=Path, default=Path(os.environ.get("VECTREE_SHARED_DATA", REPO.parent / "shared" / "data"))
    )
    ap.add_argument(
        "--readme", action="store_true", help="only rewrite README.md's experiments block from the results file"
    )
    args = ap.parse_args()
    if args.readme:
        write_readme(json.loads((args.out / "experiments.json").read_text()), REPO / "README.md")
        return
    q = args.quick
    started = time.perf_counter()
    extra: dict = {}
    card, ml_rows = None, []
    from benchmarks.datasets import FetchError

    try:  # first: the longest part, and the one that needs a registry
        ml_rows, ml_extra, card = movielens_ab(q)
        extra["movielens_ab"] = ml_extra
    except (VectreeError, FetchError) as exc:  # no registry to fetch MovieLens from: say so, keep the rest
        extra["movielens_skipped"] = str(exc)
    rows = calibration(n_sims=500 if q else 2000, seeds=1 if q else 5)
    peek = peeking(500 if q else 2000)
    rows += peek
    _progress("calibration and peeking done")
    sims = 100 if q else 2000
    cuped_rows = cuped(sims)
    fdr_rows = fdr(sims)
    bayes_rows, curves = bayes_calibration(300 if q else 5000)
    rows += (
        cuped_rows
        + ratio_coverage(sims)
        + fdr_rows
        + bayes_rows
        + hybrid(1000 if q else 10000)
        + srm_rows(sims, 3 if q else 40)
    )
    rows += ml_rows
    extra["bayes_calibration"] = curves
    lc = None
    if (args.data / "arxiv-abstracts-minilm.npy").is_file():
        n = 4000 if q else 20000
        x, meta = _arxiv(args.data, n)
        nd_rows, examples = near_duplicates(x, meta, threshold=0.02)
        rows += nd_rows
        extra["near_duplicate_examples"] = examples
        n_curve = 6000 if q else 72000
        x2, meta2 = (x, meta) if n_curve <= n else _arxiv(args.data, n_curve)
        sizes = (
            [250, 500, 1000, 2000, 4000] if q else [500, 1000, 2000, 4000, 8000, 16000, 32000, 1.0]
        )  # 1.0 = all training rows
        curve_rows, lc, lc_s, split_acc = splits_and_curve(x2[:n_curve], meta2[:n_curve], sizes, q)
        rows += curve_rows
        extra.update(
            {"learning_curve_verdict": lc.verdict, "learning_curve_s": round(lc_s, 1), "split_accuracy": split_acc}
        )
    else:
        extra["skipped"] = f"no shared data at {args.data}: near-duplicate and learning-curve rows skipped"
    import numpy as _np
    import scipy
    import sklearn
    import statsmodels

    result = {
        "benchmark": "experiments",
        "command": "python benchmarks/experiments.py" + (" --quick" if q else ""),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": _np.__version__,
            "scipy": scipy.__version__,
            "statsmodels": statsmodels.__version__,
            "scikit_learn": sklearn.__version__,
        },
        "date": date.today().isoformat(),
        "total_s": round(time.perf_counter() - started, 1),
        "rows": rows,
        **extra,
    }
    name = "experiments-quick" if q else "experiments"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.json").write_text(json.dumps(result, indent=2, default=float))
    lines = [
        f"# {name}",
        "",
        f"`{result['command']}` on {result['date']} ({result['machine']['cpus']} CPUs, "
        f"Python {result['machine']['python']}), {result['total_s']} s.",
        "",
        "| setting | dataset | metrics |",
        "|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['setting']} | {r['dataset']} | " + ", ".join(f"{k}={v}" for k, v in r["metrics"].items()) + " |"
        )
    for key in ("learning_curve_verdict", "split_accuracy", "skipped", "movielens_skipped"):
        if key in extra:
            lines += ["", f"{key.replace('_', ' ')}: {extra[key]}"]
    if "near_duplicate_examples" in extra:
        lines += ["", "Near duplicates found (exact scan):", ""]
        lines += [
            f'- {e["a"]} / {e["b"]} (distance {e["distance"]:.4f}): "{e["title_a"]}" / "{e["title_b"]}"'
            for e in extra["near_duplicate_examples"]
        ]
    if "movielens_ab" in extra:
        ml = extra["movielens_ab"]
        lines += [
            "",
            f"MovieLens funnel A/B: settings {ml['settings']}, {ml['impressions_forward']:,} impressions in the forward run, "
            f"{ml['explored_share']:.1%} of them explored (logged propensity, median {ml['explore_propensity_median']:.3g}; "
            f"model slots {ml['model_propensity']:.3g}); funnel fitted in {ml['fit_s']} s. Backtest of CUPED clicks per user: "
            f"{ml['backtest']['clicks_cuped']['verdict']}.",
            "",
            ml["scorecard_md"].replace("# MovieLens", "## MovieLens", 1),
        ]
        if card is not None:
            plot_scorecard(
                card, args.out / f"{name}-movielens.png", title="MovieLens funnel A/B: relative lift (B vs A)"
            )
            lines += ["", f"![MovieLens funnel A/B, lift per metric]({name}-movielens.png)"]
    plot(peek, lc, cuped_rows, curves, fdr_rows, args.out / f"{name}.png")
    lines += ["", f"![peeking, learning curve, CUPED, calibration, multiple testing]({name}.png)"]
    (args.out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
