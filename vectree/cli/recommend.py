"""``vectree recommend fit|evaluate|for-user``: the two-tower + re-rank funnel on MovieLens 100k.

MovieLens 100k is read from ``--data`` (default ``~/.cache/vectree/ml-100k``, where
``python benchmarks/datasets.py movielens`` puts it, from the ``recbole==1.2.1`` wheel); the fitted
recommender is one vectree collection (item vectors plus the models as attachments).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from vectree.cli.common import console, reports_errors
from vectree.collection.plan import DEFAULT_PROBES
from vectree.errors import VectreeError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Recommendations: two-tower retrieval, gradient-boosted re-rank, business rules.",
)

UrlOpt = typer.Option(..., "--url", help="Collection URL holding the recommender (path, file://, memory://, s3://).")
DataOpt = typer.Option(
    None,
    "--data",
    help="Folder of the MovieLens 100k files (default ~/.cache/vectree/ml-100k; "
    "`python benchmarks/datasets.py movielens` fetches them there).",
)


def _data(data: Path | None, test_fraction: float):
    from vectree.apps.recommend.data import load_movielens_100k, time_split

    if data is None:
        data = Path(os.environ.get("VECTREE_CACHE", Path.home() / ".cache" / "vectree")) / "ml-100k"
    ml = load_movielens_100k(data)
    if test_fraction <= 0:
        return ml, ml.interactions, None
    train, test = time_split(ml.interactions, test_fraction=test_fraction, per_user=True)
    return ml, train, test


@app.command()
@reports_errors
def fit(
    url: str = UrlOpt,
    epochs: int = typer.Option(8, help="Two-tower training epochs."),
    loss: str = typer.Option("inbatch", help="Two-tower loss: inbatch (sampled softmax) or random (random negatives)."),
    title_encoder: str = typer.Option(
        "minilm", help="Title embedding: minilm (all-MiniLM-L6-v2), static (64-d static tokens) or hash (bag of words)."
    ),
    n_candidates: int = typer.Option(100, help="Candidates per user from each source."),
    probes: int = typer.Option(DEFAULT_PROBES, help="Buckets probed in stage 1."),
    test_fraction: float = typer.Option(
        0.2, help="Hold out each user's latest share for `evaluate` (0: train on everything)."
    ),
    users: int = typer.Option(0, help="Use only the first N users (0: all), for a quick try."),
    data: Path = DataOpt,
) -> None:
    """Train the funnel (two-tower, re-ranker) on MovieLens 100k and save it as a collection at --url."""
    import vectree
    from vectree.apps.recommend.features import Catalog
    from vectree.apps.recommend.funnel import RankingFunnel
    from vectree.apps.recommend.store import save_funnel
    from vectree.errors import NotFoundError

    try:
        vectree.open_collection(url)
    except NotFoundError:
        pass
    else:
        raise VectreeError(f"a collection already exists at {url}; choose another --url or delete it first")
    ml, train, _ = _data(data, test_fraction)
    if users > 0:
        train = train.subset(train.user < users)
    catalog = Catalog.from_movielens(ml, title_encoder)
    funnel = RankingFunnel(n_candidates=n_candidates, probes=probes, two_tower={"epochs": epochs, "loss": loss})
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} epochs"),
        TextColumn("loss {task.fields[loss]}"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        tasks: list = []

        def progress(epoch: int, total: int, value: float) -> None:
            if epoch == 1:
                name = "two-tower (re-ranker features)" if not tasks and funnel.rerank else "two-tower (final)"
                tasks.append(bar.add_task(name, total=total, loss="-"))
            bar.update(tasks[-1], completed=epoch, loss=f"{value:.4f}")

        funnel.fit(train, catalog, progress=progress)
    funnel.split_ = {"test_fraction": test_fraction, "users": users}
    save_funnel(funnel, url)
    console.print(
        f"saved recommender to [bold]{url}[/bold] ({len(train)} training interactions, "
        f"{funnel.fit_seconds_:.1f}s, final loss {funnel.two_tower_.loss_history_[-1]:.4f})"
    )


@app.command()
@reports_errors
def evaluate(
    url: str = UrlOpt,
    probes: int = typer.Option(None, help="Override the saved probes."),
    exact: bool = typer.Option(False, "--exact", help="Exact stage-1 retrieval instead of ANN (--probes)."),
    rerank: bool = typer.Option(True, help="Apply the stage-2 re-ranker."),
    baselines: bool = typer.Option(True, help="Also score popularity and item-kNN on the same split."),
    k: int = typer.Option(10, "-k", "--k", help="List length."),
    data: Path = DataOpt,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Recall@k, NDCG@k and coverage on the held-out later interactions, with per-stage latency."""
    from vectree.apps.recommend.baselines import ItemKNNRecommender, PopularityRecommender
    from vectree.apps.recommend.metrics import evaluate as run_eval
    from vectree.apps.recommend.store import load_funnel

    funnel = load_funnel(url, probes=probes)
    split = getattr(funnel, "split_", {"test_fraction": 0.2, "users": 0})
    if split["test_fraction"] <= 0:
        raise VectreeError("this recommender was fitted on all interactions (--test-fraction 0); nothing is held out")
    _, train, test = _data(data, split["test_fraction"])
    if split.get("users"):
        train, test = train.subset(train.user < split["users"]), test.subset(test.user < split["users"])
    funnel.exact, funnel.rerank = exact, rerank
    results = {}
    if baselines:
        results["popularity"] = run_eval(PopularityRecommender().fit(train), test, k).as_dict()
        results["item-knn"] = run_eval(ItemKNNRecommender(neighbors=50).fit(train), test, k).as_dict()
    t = time.perf_counter()
    lat = {"retrieval": 0.0, "rerank": 0.0, "rules": 0.0}
    users = np.unique(test.user)
    recs = []
    for s in range(0, users.size, 256):
        r = funnel.recommend_detailed(users[s : s + 256], k)
        recs.append(r.items)
        for name, ms in r.latency_ms.items():
            lat[name] += ms

    class _Fixed:
        def recommend(self, u: np.ndarray, k: int = 10) -> np.ndarray:
            return np.concatenate(recs)

    name = "two-tower" + (" + re-rank" if rerank else "") + (" (exact)" if exact else f" (ANN probes={funnel.probes})")
    results[name] = run_eval(_Fixed(), test, k, users=users).as_dict()
    results[name]["ms_per_user"] = {s: v / users.size for s, v in lat.items()}
    results[name]["total_s"] = time.perf_counter() - t
    if as_json:
        console.print_json(json.dumps(results))
        return
    table = Table(title=f"MovieLens 100k, time split, k={k}")
    for col in ("system", f"Recall@{k}", f"NDCG@{k}", f"coverage@{k}", "ms/user (retrieval / rerank / rules)"):
        table.add_column(col)
    for sys_name, m in results.items():
        ms = m.get("ms_per_user")
        table.add_row(
            sys_name,
            f"{m[f'recall_at_{k}']:.4f}",
            f"{m[f'ndcg_at_{k}']:.4f}",
            f"{m[f'coverage_at_{k}']:.3f}",
            " / ".join(f"{ms[s]:.2f}" for s in ("retrieval", "rerank", "rules")) if ms else "",
        )
    console.print(table)


@app.command("for-user")
@reports_errors
def for_user(
    user_id: int = typer.Argument(..., help="MovieLens user id (1..943)."),
    url: str = UrlOpt,
    k: int = typer.Option(10, "-k", "--k", help="How many items."),
    explore_share: float = typer.Option(0.0, help="Fraction of slots filled at random (propensity is shown)."),
    new_item_boost: float = typer.Option(
        0.0, help="Score boost for new items similar in content to the user's history."
    ),
    max_per_genre: int = typer.Option(None, help="Diversity: at most this many items sharing a genre."),
    probes: int = typer.Option(None, help="Override the saved probes."),
    seed: int = typer.Option(0, help="Seed of the exploration draws."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines (the exploration log) instead of a table."),
) -> None:
    """Recommend k unseen movies to one user, with each stage's latency."""
    from vectree.apps.recommend.store import load_funnel
    from vectree.errors import NotFoundError

    funnel = load_funnel(url, probes=probes)
    cat = funnel.catalog_
    hit = np.flatnonzero(cat.user_ids == user_id)
    if hit.size == 0:
        raise NotFoundError(
            f"user id {user_id} is not in the recommender (ids {cat.user_ids.min()}..{cat.user_ids.max()})"
        )
    funnel.explore_share, funnel.max_per_genre = explore_share, max_per_genre
    if new_item_boost:
        funnel.new_item_boost, funnel.new_item_candidates = new_item_boost, max(funnel.new_item_candidates, 10)
    res = funnel.recommend_detailed(hit[:1], k, rng=np.random.default_rng(seed))
    if as_json:
        for entry in res.log:
            entry = dict(entry, user=user_id, item=int(cat.item_ids[entry["item"]]), title=cat.titles[entry["item"]])
            print(json.dumps(entry))
        return
    table = Table(title=f"user {user_id}: " + ", ".join(f"{s} {v:.1f} ms" for s, v in res.latency_ms.items()))
    for col in ("#", "item", "title", "year", "score", "source", "propensity"):
        table.add_column(col)
    for slot in range(k):
        it = int(res.items[0, slot])
        if it < 0:
            continue
        score = res.scores[0, slot]
        table.add_row(
            str(slot + 1),
            str(cat.item_ids[it]),
            cat.titles[it],
            str(cat.years[it] or ""),
            "" if np.isnan(score) else f"{score:.4f}",
            res.sources[0, slot],
            f"{res.propensities[0, slot]:.4g}",
        )
    console.print(table)
