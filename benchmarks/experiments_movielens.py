"""The experiments benchmark's MovieLens 100k rows: a simulated A/B of two ranking-funnel settings with
logged-propensity exploration, analysed end to end (scorecard) and backtested.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.experiments_stats import progress, row  # noqa: E402
from vectree.experiments import backtest  # noqa: E402
from vectree.experiments.cuped import cuped_fit  # noqa: E402
from vectree.experiments.scorecard import scorecard  # noqa: E402
from vectree.experiments.scorecard_report import scorecard_markdown  # noqa: E402
from vectree.experiments.slate_ab import simulate_slate_ab, unit_metrics  # noqa: E402


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
        sources=("two_tower",),  # as in the recorded experiments: the two-tower funnel with GBDT
        reranker={"model": "gbdt"},
    ).fit(train, catalog)
    fit_s = time.perf_counter() - t0
    progress(f"MovieLens funnel fitted in {fit_s:.0f} s")
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
            row(
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
            row(
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
    progress(f"MovieLens A/B analysed: {bt.verdict}")
    return rows, extra, card
