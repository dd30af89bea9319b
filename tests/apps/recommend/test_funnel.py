"""The funnel on real MovieLens: ANN retrieval from a collection, gradient-boosted re-rank, business rules
(dedupe, exclude seen, diversity), exploration with logged propensities, new-item boost, per-stage latency,
and save/load as one collection."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

import vectree
from vectree.apps.recommend.data import time_split
from vectree.apps.recommend.features import Catalog
from vectree.apps.recommend.funnel import STAGES, RankingFunnel
from vectree.apps.recommend.metrics import evaluate
from vectree.apps.recommend.store import load_funnel, save_funnel
from vectree.errors import InvalidInputError, NotFoundError

N_USERS = 150


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def setup(movielens):
    ml = movielens
    inter = ml.interactions.subset(ml.interactions.user < N_USERS)
    train, test = time_split(inter)
    catalog = Catalog.from_movielens(ml, "static")
    funnel = RankingFunnel(  # the two-tower source alone: these tests pin its stages
        n_candidates=100,
        probes=8,
        bucket_size=100,
        two_tower={"epochs": 2, "dim": 32},
        reranker={"max_iter": 50},
        sources=("two_tower",),
    )
    funnel.fit(train, catalog)
    return ml, train, test, funnel


def test_recommendations_are_unseen_unique_and_timed(setup):
    _, train, _, funnel = setup
    seen = train.by_user()
    users = np.arange(0, N_USERS, 7)
    res = funnel.recommend_detailed(users, k=10)
    assert res.items.shape == (users.size, 10) and set(res.latency_ms) == set(STAGES)
    assert all(v >= 0 for v in res.latency_ms.values())
    for row, u in zip(res.items, users):
        assert (row >= 0).all() and len(set(row.tolist())) == 10
        assert not set(row.tolist()) & set(seen[u].tolist())
    assert res.n_candidates == 100
    assert set(res.sources.ravel()) == {"model"} and (res.propensities == 1.0).all()


def test_rerank_improves_on_retrieval_order_and_ann_matches_exact(setup):
    _, _, test, funnel = setup
    users = np.unique(test.user)
    funnel.exact, funnel.rerank = True, False
    retrieval = evaluate(funnel, test, users=users)
    funnel.rerank = True
    exact = evaluate(funnel, test, users=users)
    funnel.exact = False
    ann = evaluate(funnel, test, users=users)
    assert exact.ndcg_at_10 > retrieval.ndcg_at_10
    assert ann.recall_at_10 >= 0.9 * exact.recall_at_10  # 8 of ~32 buckets: close to exact


def test_exploration_fills_a_share_of_slots_with_logged_propensity(setup):
    ml, train, _, funnel = setup
    funnel.explore_share = 0.3
    try:
        res = funnel.recommend_detailed(np.arange(20), k=10, rng=np.random.default_rng(3))
    finally:
        funnel.explore_share = 0.0
    explored = res.sources == "explore"
    assert (explored.sum(1) == 3).all()
    seen = train.by_user()
    n_eligible = np.array([ml.n_items - len(seen[u]) - 7 for u in range(20)])
    assert np.allclose(res.propensities[explored].reshape(20, 3), (0.3 / n_eligible)[:, None])
    assert np.allclose(res.propensities[~explored], 0.7)
    assert len(res.log) == 200 and {e["source"] for e in res.log} == {"model", "explore"}
    assert all(e["score"] is None for e in res.log if e["source"] == "explore")


def test_new_items_get_candidates_and_a_boost_by_content_similarity(setup):
    _, _, _, funnel = setup
    assert funnel.new_items_.size > 0
    users = np.arange(30)
    plain = funnel.recommend_detailed(users, k=10)
    funnel.new_item_candidates, funnel.new_item_boost = 20, 1.0
    try:
        boosted = funnel.recommend_detailed(users, k=10)
    finally:
        funnel.new_item_candidates, funnel.new_item_boost = 0, 0.0
    is_new = lambda items: np.isin(items, funnel.new_items_).sum()  # noqa: E731
    assert is_new(boosted.items) > is_new(plain.items)
    assert (boosted.sources == "new_item").sum() == is_new(boosted.items)


def test_diversity_caps_items_per_genre(setup):
    _, _, _, funnel = setup
    funnel.max_per_genre = 3
    try:
        res = funnel.recommend_detailed(np.arange(10), k=10)
    finally:
        funnel.max_per_genre = None
    genres = funnel.catalog_.genres > 0
    for row in res.items:
        # once enough candidates are diverse, no genre appears more than 3 times in the top list
        top = row[:5]
        assert genres[top].sum(0).max() <= 3


def test_save_and_load_as_one_collection(setup, tmp_path):
    _, _, _, funnel = setup
    url = str(tmp_path / "rec")
    save_funnel(funnel, url)
    again = load_funnel(url)
    users = np.arange(12)
    assert np.array_equal(again.recommend(users, 10), funnel.recommend(users, 10))
    detailed, back = funnel.recommend_detailed(users, 10), again.recommend_detailed(users, 10)
    assert np.allclose(back.scores, detailed.scores, equal_nan=True)  # the re-ranker's trees came back exactly
    with pytest.raises(NotFoundError):
        load_funnel(str(tmp_path / "nothing-here"))


def test_saved_funnel_is_json_and_npz_and_loading_builds_only_known_classes(setup, tmp_path):
    _, _, _, funnel = setup
    url = str(tmp_path / "rec")
    save_funnel(funnel, url)
    col = vectree.open_collection(url)
    head = json.loads(col.get_attachment("recommend.funnel"))
    assert head["format"] == 2 and head["funnel"]["$object"] == "RankingFunnel"
    for name in ("recommend.funnel.npz", "recommend.two_tower.npz"):
        with np.load(io.BytesIO(col.get_attachment(name)), allow_pickle=False) as z:
            assert z.files and not any(z[k].dtype.hasobject for k in z.files)
    # a stored state naming any other class is refused instead of being built
    head["funnel"]["state"]["catalog_"]["$object"] = "Popen"
    col.put_attachment("recommend.funnel", json.dumps(head).encode())
    with pytest.raises(InvalidInputError, match="'Popen', which is not a known recommender class"):
        load_funnel(url)


def test_unfitted_and_bad_users_are_refused(setup):
    with pytest.raises(InvalidInputError, match="not fitted"):
        RankingFunnel().recommend(np.array([0]))
    with pytest.raises(InvalidInputError, match="user indices"):
        setup[3].recommend(np.array([10_000]))


def test_item_index_excludes_seen_items_inside_the_search(arxiv_sample):
    """The ANN path excludes a user's seen items in the scan: n unseen items come back even when the
    nearest hundreds are all seen (no over-fetching), and none of them is seen."""
    import numpy as np

    from vectree.apps.recommend.index import ItemIndex

    items = arxiv_sample["vectors"][:1500]
    index = ItemIndex(items, metric="cosine", bucket_size=100, probes=4)
    user = items[:1]
    nearest = index.search(user, 400, exact=True)[0][0]
    seen = [nearest[:300]]  # the 300 nearest items were all seen
    got, scores = index.search(user, 10, seen)
    assert (got[0] >= 0).all() and not set(got[0]) & set(seen[0].tolist())
    assert np.isfinite(scores).all()
    exact, _ = index.search(user, 10, seen, exact=True)
    everywhere, _ = index.search(user, 10, seen, probes=10_000)  # probing every bucket: the exact unseen top 10
    np.testing.assert_array_equal(everywhere, exact)


def test_candidates_from_several_sources_reach_the_reranker_and_survive_save(setup, tmp_path):
    ml, train, test, _ = setup
    funnel = RankingFunnel(
        n_candidates=50,
        probes=8,
        bucket_size=100,
        sources=("two_tower", "ease", "item_knn"),
        label_split="random",
        two_tower={"epochs": 1, "dim": 16},
        reranker={"max_iter": 30},
    )
    funnel.fit(train, Catalog.from_movielens(ml, "hash", 16))
    users = np.arange(0, N_USERS, 5)
    cands = funnel.source_candidates(users)
    assert set(cands) == {"two_tower", "ease", "item_knn"} and all(c.shape == (users.size, 50) for c in cands.values())
    res = funnel.recommend_detailed(users, k=10)
    # the re-ranker saw the union: more candidates than one source gives, and the top-10 draws on the others
    assert res.n_candidates > 50
    from_others = np.isin(res.items, np.concatenate([cands["ease"], cands["item_knn"]], axis=1)) & ~np.stack(
        [np.isin(r, c) for r, c in zip(res.items, cands["two_tower"])]
    )
    assert from_others.any()
    assert evaluate(funnel, test).recall_at_10 > 0
    url = str(tmp_path / "multi")
    save_funnel(funnel, url)
    again = load_funnel(url)
    assert np.array_equal(again.recommend(users, 10), funnel.recommend(users, 10))
    with pytest.raises(InvalidInputError, match="sources must start with 'two_tower'"):
        RankingFunnel(sources=("ease",)).fit(train, funnel.catalog_)


def test_logistic_reranker_over_several_sources_beats_each_source_on_a_random_split(movielens, tmp_path):
    from vectree.apps.recommend.baselines import EASERecommender, ItemKNNRecommender
    from vectree.apps.recommend.data import stratified_split

    inter = movielens.interactions.subset(movielens.interactions.user < 300)
    train, test = stratified_split(inter, 0.75, seed=42)
    funnel = RankingFunnel(
        n_candidates=100,
        probes=8,
        sources=("two_tower", "ease", "item_knn"),
        label_split="random",
        label_fraction=0.25,
        reranker={"model": "logistic"},
        two_tower={"epochs": 2, "dim": 32},
    ).fit(train, Catalog.from_movielens(movielens, "hash", 16))
    assert funnel.ranker_.model == "logistic" and funnel.ranker_.coef_.shape == (funnel.ranker_.n_features_,)
    got = evaluate(funnel, test)
    for base in (EASERecommender(l2=500.0).fit(train), ItemKNNRecommender(neighbors=50).fit(train)):
        b = evaluate(base, test)
        assert got.recall_at_10 > b.recall_at_10 and got.ndcg_at_10 > b.ndcg_at_10
    funnel.rerank = False
    alone = evaluate(funnel, test)
    funnel.rerank = True
    assert got.ndcg_at_10 > alone.ndcg_at_10
    url = str(tmp_path / "logistic")
    save_funnel(funnel, url)
    users = np.arange(0, 300, 7)
    assert np.array_equal(load_funnel(url).recommend(users, 10), funnel.recommend(users, 10))
    with pytest.raises(InvalidInputError, match="re-ranker model"):
        RankingFunnel(reranker={"model": "forest"}).fit(train, funnel.catalog_)
