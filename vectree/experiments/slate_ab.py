"""A simulated A/B test of two recommender settings, replayed on a held-out interaction log.

Each user (the randomisation unit) is assigned a variant by :class:`~vectree.experiments.assignment.Assigner`.
On each of their visits the variant's policy shows a slate of ``k`` items; slots may be explored (random
items) and every impression carries the propensity the policy logged for it. A shown item is clicked when
the user really interacted with it in the held-out period and they examined its slot (position bias:
slot ``s`` is examined with probability ``1 / log2(s + 2)``, as discounted cumulative gain assumes), at
most once per user. The result is an exposure log (one row per impression) that
:func:`unit_metrics` turns into a unit table for :func:`vectree.experiments.scorecard.scorecard`.

A policy is any callable ``policy(users, rng) -> (items, propensities, sources)`` with ``(n_users, k)``
arrays, such as ``RankingFunnel.recommend_detailed`` wrapped to return those fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from vectree.errors import InvalidInputError
from vectree.experiments.assignment import Assigner

__all__ = ["Policy", "simulate_slate_ab", "unit_metrics"]

Policy = Callable[[np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray, np.ndarray]]


def simulate_slate_ab(
    users: np.ndarray,
    relevant: Sequence[np.ndarray],
    policies: Mapping[str, Policy],
    *,
    visits: np.ndarray | None = None,
    experiment: str = "slate-ab",
    shares: Sequence[float] | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Replay the policies on the users: one row per impression (``unit, variant, visit, slot, item, source,
    propensity, click``). ``relevant[i]`` holds the items user ``users[i]`` would click; ``visits[i]`` the
    number of visits (default 1).

    >>> pol = lambda u, rng: (np.tile(np.arange(3), (len(u), 1)), np.ones((len(u), 3)), np.full((len(u), 3), "model"))
    >>> log = simulate_slate_ab(np.arange(4), [np.array([0])] * 4, {"A": pol, "B": pol})
    >>> len(log), int(log["click"].sum())
    (12, 4)
    """
    users = np.asarray(users, dtype=np.int64)
    if len(relevant) != len(users):
        raise InvalidInputError(
            f"give one array of relevant items per user: {len(users)} users, {len(relevant)} arrays"
        )
    if len(policies) < 2:
        raise InvalidInputError(f"an A/B test needs at least 2 policies, got {list(policies)}")
    visits = np.ones(len(users), dtype=np.int64) if visits is None else np.asarray(visits, dtype=np.int64)
    if visits.shape != users.shape or (visits < 1).any():
        raise InvalidInputError("visits must give a count >= 1 for every user")
    names = list(policies)
    variant = Assigner(experiment, names, shares).assign(np.array([f"user{u}" for u in users], dtype=object))
    rng = np.random.default_rng(seed)
    frames = []
    for name in names:
        idx = np.flatnonzero(variant == name)
        if idx.size == 0:
            continue
        clicked = [set() for _ in idx]
        for v in range(int(visits[idx].max())):
            active = idx[visits[idx] > v]
            if active.size == 0:
                break
            items, props, sources = policies[name](users[active], rng)
            items, props = np.asarray(items), np.asarray(props, dtype=np.float64)
            n, k = items.shape
            examined = rng.random((n, k)) < 1.0 / np.log2(np.arange(k) + 2.0)
            click = np.zeros((n, k), dtype=np.int64)
            pos = {int(u): j for j, u in enumerate(idx)}
            for r, i in enumerate(active):
                rel, done = relevant[i], clicked[pos[int(i)]]
                for s in range(k):
                    it = int(items[r, s])
                    if it >= 0 and examined[r, s] and it not in done and np.any(rel == it):
                        click[r, s] = 1
                        done.add(it)
            frames.append(
                pd.DataFrame(
                    {
                        "unit": np.repeat(users[active], k),
                        "variant": name,
                        "visit": v,
                        "slot": np.tile(np.arange(k), n),
                        "item": items.ravel(),
                        "source": np.asarray(sources).ravel(),
                        "propensity": props.ravel(),
                        "click": click.ravel(),
                    }
                )
            )
    log = pd.concat(frames, ignore_index=True)
    return log[log["item"] >= 0].reset_index(drop=True)


def unit_metrics(log: pd.DataFrame, users: pd.DataFrame | None = None, *, unit_col: str = "unit") -> pd.DataFrame:
    """Per unit: ``visits, impressions, clicks, clicked`` (any click), model and explored impressions and
    clicks, and the mean logged propensity; joined with ``users`` (covariates, dimensions) on ``unit_col``.

    >>> log = pd.DataFrame({"unit": [1, 1, 2], "variant": ["A", "A", "B"], "visit": [0, 1, 0],
    ...     "source": ["model", "explore", "model"], "propensity": [0.9, 0.01, 0.9], "click": [1, 0, 0]})
    >>> unit_metrics(log)[["unit", "visits", "clicks", "explore_impressions"]].values.tolist()
    [[1, 2, 1, 1], [2, 1, 0, 0]]
    """
    need = {unit_col, "variant", "visit", "source", "propensity", "click"}
    if not need <= set(log.columns):
        raise InvalidInputError(f"the exposure log needs columns {sorted(need)}, it has {list(log.columns)}")
    d = log.assign(explore=(log["source"] == "explore").astype(int))
    d["explore_click"] = d["explore"] * d["click"]
    g = d.groupby(unit_col, sort=True)
    out = pd.DataFrame(
        {
            "variant": g["variant"].first(),
            "visits": g["visit"].nunique(),
            "impressions": g.size(),
            "clicks": g["click"].sum(),
            "explore_impressions": g["explore"].sum(),
            "explore_clicks": g["explore_click"].sum(),
            "mean_propensity": g["propensity"].mean(),
        }
    ).reset_index()
    out["clicked"] = (out["clicks"] > 0).astype(int)
    out["model_impressions"] = out["impressions"] - out["explore_impressions"]
    out["model_clicks"] = out["clicks"] - out["explore_clicks"]
    if users is not None:
        if unit_col not in users.columns:
            raise InvalidInputError(f"the user table needs a {unit_col!r} column, it has {list(users.columns)}")
        out = out.merge(users, on=unit_col, how="left", validate="one_to_one")
    return out
