"""A replayed slate A/B: assignment per user, clicks only on held-out items (once each, position-biased),
propensities logged, and a better policy found better by the scorecard."""

import numpy as np
import pytest

from vectree.errors import InvalidInputError
from vectree.experiments.scorecard import scorecard
from vectree.experiments.slate_ab import simulate_slate_ab, unit_metrics

N_ITEMS, K = 200, 10


def _policy(good: bool, relevant):
    def run(users, rng):
        items = np.empty((len(users), K), dtype=np.int64)
        for r, u in enumerate(users):
            first = relevant[u][:4] if good else np.array([], dtype=np.int64)
            rest = rng.choice(np.setdiff1d(np.arange(N_ITEMS), first), K - len(first), replace=False)
            items[r] = np.concatenate([first, rest])
        sources = np.full((len(users), K), "model", dtype=object)
        sources[:, -2:] = "explore"
        props = np.where(sources == "explore", 0.2 / (N_ITEMS - K), 0.8)
        return items, props, sources

    return run


def test_better_policy_wins_and_clicks_follow_the_held_out_items():
    rng = np.random.default_rng(0)
    users = np.arange(3000)
    relevant = [rng.choice(N_ITEMS, 6, replace=False) for _ in users]
    visits = rng.integers(1, 4, len(users))
    log = simulate_slate_ab(
        users, relevant, {"A": _policy(False, relevant), "B": _policy(True, relevant)}, visits=visits, seed=1
    )
    assert set(log.groupby("unit")["variant"].nunique()) == {1}  # one variant per user
    clicked = log[log["click"] == 1]
    assert not clicked.duplicated(["unit", "item"]).any()
    assert all(np.isin(clicked["item"], relevant[u]).all() for u, clicked in clicked.groupby("unit"))
    top = clicked[clicked["variant"] == "B"]["slot"].value_counts(normalize=True)
    assert top.get(0, 0) > top.get(3, 0)  # position bias: the first slot is examined most
    units = unit_metrics(log)
    assert (units["impressions"] == K * units["visits"]).all() and (
        units["explore_impressions"] == 2 * units["visits"]
    ).all()
    card = scorecard(
        units, ["clicks", "ctr=clicks/impressions", "explore_ctr=explore_clicks/explore_impressions"], control="A"
    )
    by = {r.metric: r for r in card.rows}
    assert by["clicks"].frequentist.p_value < 1e-6 and by["clicks"].bayes.chance_to_win > 0.999
    # the random slots draw the same way in both arms, yet click less next to the better policy: its users already
    # clicked their held-out items (each at most once), so an "explore CTR" is no A/A guardrail
    assert by["explore_ctr"].frequentist.abs_lift < 0


def test_bad_replay_input():
    with pytest.raises(InvalidInputError, match="one array of relevant items per user"):
        simulate_slate_ab(np.arange(3), [np.array([1])], {"A": None, "B": None})
    with pytest.raises(InvalidInputError, match="at least 2 policies"):
        simulate_slate_ab(np.arange(1), [np.array([1])], {"A": None})
