"""The ranking funnel: a cheap model on many items, a costly one on few, then business rules.

- Stage 1 (retrieval): the two-tower user vector queries a vectree collection of item vectors for
  ``n_candidates`` unseen items (ANN, or exact for comparison); new items with few interactions that are
  close in content to the user's profile are added (cold start by content similarity).
- Stage 2 (re-scoring): a pointwise re-ranker (gradient-boosted trees, or a logistic regression:
  ``reranker={"model": "logistic"}``) on user, item and interaction features and each source's score and rank.
- Stage 3 (rules): dedupe, exclude seen, genre diversity, a boost for new items, and an exploration share
  (a fraction of the slots filled with random unseen items, each shown item's propensity logged).

Every call records each stage's latency. ``fit`` trains the re-ranker honestly: the models feeding it are
fitted on the earlier part of each user's training history, labels come from the later part, then every
stage model is refitted on the whole training log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from vectree.apps.recommend.content import profile_vectors
from vectree.apps.recommend.data import Interactions, stratified_split, time_split
from vectree.apps.recommend.features import Catalog
from vectree.apps.recommend.index import ItemIndex
from vectree.apps.recommend.rerank import PairFeatures, ReRanker
from vectree.apps.recommend.sources import ExtraSources, check_sources, merge, ranks
from vectree.collection.plan import DEFAULT_PROBES
from vectree.errors import InvalidInputError

if TYPE_CHECKING:  # torch is imported only when a model is trained or loaded
    from vectree.apps.recommend.two_tower import TwoTowerModel

ProgressFn = Callable[[int, int, float], None]  # (epoch, epochs, mean loss)

log = logging.getLogger(__name__)

STAGES = ("retrieval", "rerank", "rules")


def _zscore(scores: np.ndarray) -> np.ndarray:
    """Each row's scores minus its mean, over its standard deviation."""
    mu = scores.mean(axis=1, keepdims=True)
    sd = scores.std(axis=1, keepdims=True)
    return (scores - mu) / np.maximum(sd, 1e-9)


@dataclass
class FunnelResult:
    """Output of one funnel call for a batch of users."""

    items: np.ndarray  # (n_users, k) item indices, -1 padded
    scores: np.ndarray  # (n_users, k) final scores (nan for explored slots)
    sources: np.ndarray  # (n_users, k) "model" | "new_item" | "explore" | ""
    propensities: np.ndarray  # (n_users, k) probability the policy shows that item in that slot
    latency_ms: dict[str, float]  # per stage, for the whole batch
    n_candidates: int
    log: list[dict] = field(default_factory=list)  # one dict per shown item (for off-policy learning)


DEFAULT_RERANKER: dict = {"model": "logistic"}


class RankingFunnel:
    """Candidates from several sources -> a learned re-rank -> business rules.

    The defaults are the setting measured best on both MovieLens protocols
    (``benchmarks/results/recommend-protocols.md``): 100 candidates from each of the two-tower ANN, EASE and
    item-kNN, re-ranked by logistic regression.

    Parameters (keyword-only)
    -------------------------
    n_candidates : items retrieved per user in stage 1.
    probes : buckets probed in the item collection; ``exact=True`` scans all items instead.
    rerank : apply stage 2 (``False``: order by the two-tower score).
    label_fraction : share of each user's training events held out as re-ranker labels (best set to the share the
        evaluation holds out, so label slice / rest = test / train).
    max_per_genre : diversity rule, at most this many items sharing a genre in the top-k (None: off).
    explore_share : fraction of the k slots filled with random unseen items (0: off).
    new_item_max_count : items with fewer training interactions count as new.
    new_item_candidates : new items added per user to the candidates by content similarity.
    new_item_boost : added to a new item's score times its content similarity to the user.
    two_tower : keyword parameters for ``TwoTowerModel``; ``reranker`` for ``ReRanker`` (None:
        ``DEFAULT_RERANKER``, logistic regression; ``{"model": "gbdt"}`` did better on the time split only).
    metric, url, bucket_size : the item collection (``url`` None: a fresh ``memory://`` collection;
        ``bucket_size`` None: :func:`vectree.create_collection`'s default for the dimension).
    sources : candidate sources before the re-ranker: ``"two_tower"`` first, then ``"ease"`` and/or ``"item_knn"``
        (``vectree.apps.recommend.sources``); each proposes ``n_candidates`` unseen items.
    ease_l2 : EASE's regularisation when ``"ease"`` is a source.
    label_split : how the re-ranker's labels are held out of the training log: ``"time"`` (each user's
        latest ``label_fraction``) or ``"random"`` (a random ``label_fraction`` per user, for random splits).
    seed : for exploration draws.
    """

    def __init__(
        self,
        *,
        n_candidates: int = 100,
        probes: int = DEFAULT_PROBES,
        exact: bool = False,
        rerank: bool = True,
        label_fraction: float = 0.2,
        max_per_genre: int | None = None,
        explore_share: float = 0.0,
        new_item_max_count: int = 5,
        new_item_candidates: int = 0,
        new_item_boost: float = 0.0,
        two_tower: dict | None = None,
        reranker: dict | None = None,
        metric: str = "cosine",
        url: str | None = None,
        bucket_size: int | None = None,
        sources: tuple[str, ...] = ("two_tower", "ease", "item_knn"),
        ease_l2: float = 500.0,
        label_split: str = "time",
        seed: int = 0,
    ) -> None:
        self.n_candidates, self.probes, self.exact, self.rerank = n_candidates, probes, exact, rerank
        self.label_fraction, self.max_per_genre, self.explore_share = label_fraction, max_per_genre, explore_share
        self.new_item_max_count, self.new_item_candidates = new_item_max_count, new_item_candidates
        self.new_item_boost = new_item_boost
        self.two_tower, self.reranker = two_tower, reranker
        self.metric, self.url, self.bucket_size, self.seed = metric, url, bucket_size, seed
        self.sources, self.ease_l2, self.label_split = tuple(sources), ease_l2, label_split

    # ------------------------------------------------------------------ fitting
    def _fit_two_tower(self, log_: Interactions, catalog: Catalog, progress: ProgressFn | None) -> TwoTowerModel:
        from vectree.apps.recommend.two_tower import TwoTowerModel

        order = np.lexsort((log_.item, log_.timestamp, log_.user))
        model = TwoTowerModel(**(self.two_tower or {}), progress=progress)
        return model.fit(
            log_.user[order],
            log_.item[order],
            n_users=log_.n_users,
            n_items=log_.n_items,
            user_features=catalog.user_features,
            item_features=catalog.item_features,
            history=log_.by_user(),
        )

    def _features(self, log_: Interactions, catalog: Catalog) -> PairFeatures:
        return PairFeatures().fit(log_, catalog.genres, catalog.years, catalog.content, catalog.user_age)

    def fit(self, train: Interactions, catalog: Catalog, progress: ProgressFn | None = None) -> RankingFunnel:
        """Fit every stage on the training log. ``progress(epoch, epochs, loss)`` follows two-tower training."""
        if catalog.n_items != train.n_items:
            raise InvalidInputError(f"catalog has {catalog.n_items} items but the log has n_items={train.n_items}")
        self.catalog_ = catalog
        t0 = time.perf_counter()
        sources = check_sources(self.sources)
        if self.label_split not in ("time", "random"):
            raise InvalidInputError(f"label_split must be 'time' or 'random', got {self.label_split!r}")
        if self.rerank:
            if self.label_split == "time":
                early, late = time_split(train, self.label_fraction)
            else:
                early, late = stratified_split(train, 1.0 - self.label_fraction, seed=self.seed)
            log.info(
                "funnel: fitting stage models on %d early events, labels from %d later ones", len(early), len(late)
            )
            tt = self._fit_two_tower(early, catalog, progress)
            feats = self._features(early, catalog)
            extra = ExtraSources(sources, ease_l2=self.ease_l2).fit(early)
            users = np.unique(late.user)
            seen = early.by_user()
            seen_u = [seen[u] for u in users]
            tt_items, _ = self._retrieve_exact(tt, users, seen_u)
            items, lists, dense = self._merge(extra, users, seen_u, tt_items)
            x = self._pair_matrix(
                items, users, tt_items, lists, dense, tt.user_vectors(users), tt.item_vectors(), feats
            )
            truth = np.zeros((train.n_users, train.n_items), dtype=bool)
            truth[late.user, late.item] = True
            pu, pi, _, _ = self._pairs(users, items, np.zeros(items.shape, np.float32))
            labels = truth[pu, pi]
            self.ranker_ = ReRanker(**(DEFAULT_RERANKER if self.reranker is None else self.reranker)).fit(x, labels)
            self.label_recall_ = float(labels.sum() / max(1, truth[users].sum()))
        self.two_tower_ = self._fit_two_tower(train, catalog, progress)
        self.features_ = self._features(train, catalog)
        self.sources_ = ExtraSources(sources, ease_l2=self.ease_l2).fit(train)
        self.seen_ = train.by_user()
        counts = np.bincount(train.item, minlength=train.n_items)
        self.new_items_ = np.flatnonzero(counts < self.new_item_max_count)
        self.index_ = ItemIndex(
            self.two_tower_.item_vectors(),
            metric=self.metric,
            url=self.url,
            bucket_size=self.bucket_size,
            probes=self.probes,
        )
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _retrieve_exact(
        self, tt: TwoTowerModel, users: np.ndarray, seen: list[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        return ItemIndex(tt.item_vectors(), metric=self.metric, build=False).search(
            tt.user_vectors(users), self.n_candidates, seen, exact=True
        )

    @staticmethod
    def _pairs(users: np.ndarray, items: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, ...]:
        ok = items >= 0
        ranks = np.broadcast_to(np.arange(items.shape[1]), items.shape)
        return np.repeat(users, ok.sum(1)), items[ok], scores[ok], ranks[ok]

    def _merge(
        self, extra: ExtraSources, users: np.ndarray, seen: list[np.ndarray], tt_items: np.ndarray
    ) -> tuple[np.ndarray, dict, dict]:
        """The two-tower candidates merged with the other sources' (``items``), and each other source's
        lists and dense score rows."""
        lists, dense = extra.retrieve(users, seen, self.n_candidates)
        return (merge([tt_items, *lists.values()]) if lists else tt_items), lists, dense

    def _pair_matrix(
        self,
        items: np.ndarray,
        users: np.ndarray,
        tt_items: np.ndarray,
        lists: dict,
        dense: dict,
        uv: np.ndarray,
        item_vecs: np.ndarray,
        feats: PairFeatures,
    ) -> np.ndarray:
        """The re-ranker's features of the (user, item) pairs ``items >= 0``, row-major: the pair features
        with the two-tower score and rank, then each other source's score and rank."""
        n = self.n_candidates
        ok = items >= 0
        rows, _ = np.nonzero(ok)
        pi = items[ok]
        n_items = item_vecs.shape[0]
        tt_score = (uv[rows] * item_vecs[pi]).sum(1)
        cols = [feats.transform(users[rows], pi, tt_score, ranks(tt_items, n_items, n)[rows, pi])]
        if lists:  # several sources: each score also as a z-score within the user's row (stable across refits)
            cols.append(_zscore(uv @ item_vecs.T)[rows, pi][:, None])
        for name in lists:
            cols.append(
                np.column_stack(
                    [dense[name][rows, pi], ranks(lists[name], n_items, n)[rows, pi], _zscore(dense[name])[rows, pi]]
                )
            )
        return np.column_stack(cols).astype(np.float32)

    def source_candidates(self, users: np.ndarray, *, exact: bool | None = None) -> dict[str, np.ndarray]:
        """Each source's ``n_candidates`` unseen items for ``users`` (to measure a source's recall)."""
        self._check()
        users = np.asarray(users, dtype=np.int64).ravel()
        seen = [self.seen_[u] for u in users]
        exact = self.exact if exact is None else exact
        out = {
            "two_tower": self.index_.search(
                self.two_tower_.user_vectors(users), self.n_candidates, seen, exact=exact, probes=self.probes
            )[0]
        }
        out.update(self.sources_.retrieve(users, seen, self.n_candidates)[0])
        return out

    # ------------------------------------------------------------------ serving
    def _check(self) -> None:
        if not hasattr(self, "two_tower_"):
            raise InvalidInputError("RankingFunnel is not fitted; call fit(train, catalog) or RankingFunnel.load(url)")

    def _add_new_items(
        self, users: np.ndarray, items: np.ndarray, scores: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Append the new items most similar in content to each user's profile; returns the content
        similarity of every candidate that is a new item (0 elsewhere)."""
        cat = self.catalog_
        new = self.new_items_
        sim_all = np.zeros(items.shape, dtype=np.float32)
        if new.size == 0 or (self.new_item_candidates <= 0 and self.new_item_boost == 0):
            return items, scores, sim_all
        prof = profile_vectors([self.seen_[u] for u in users], cat.content)
        sims = prof @ cat.content[new].T  # (n_users, n_new)
        is_new = np.zeros(cat.n_items, dtype=bool)
        is_new[new] = True
        m = min(self.new_item_candidates, new.size)
        extra = np.full((users.size, m), -1, dtype=np.int64)
        if m > 0:
            for j, u in enumerate(users):
                s = sims[j].copy()
                s[np.isin(new, self.seen_[u]) | np.isin(new, items[j])] = -np.inf
                top = np.argsort(-s)[:m]
                top = top[np.isfinite(s[top])]
                extra[j, : top.size] = new[top]
        items = np.concatenate([items, extra], axis=1)
        scores = np.concatenate([scores, np.full(extra.shape, -1.0, dtype=np.float32)], axis=1)
        pos = {int(i): k for k, i in enumerate(new)}
        sim_all = np.zeros(items.shape, dtype=np.float32)
        rows, cols = np.nonzero((items >= 0) & is_new[np.clip(items, 0, None)])
        for r, c in zip(rows, cols):
            sim_all[r, c] = sims[r, pos[int(items[r, c])]]
        return items, scores, sim_all

    def recommend_detailed(
        self,
        users: np.ndarray,
        k: int = 10,
        *,
        exact: bool | None = None,
        rerank: bool | None = None,
        probes: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> FunnelResult:
        """Run the three stages for a batch of users; see ``FunnelResult``."""
        self._check()
        users = np.asarray(users, dtype=np.int64).ravel()
        if users.size and (users.min() < 0 or users.max() >= len(self.seen_)):
            raise InvalidInputError(f"user indices must be in [0, {len(self.seen_)}), got {users.min()}..{users.max()}")
        exact = self.exact if exact is None else exact
        rerank = self.rerank if rerank is None else rerank
        if rerank and not hasattr(self, "ranker_"):
            raise InvalidInputError("this funnel was fitted with rerank=False; refit with rerank=True to re-score")
        lat = {}
        t = time.perf_counter()
        seen = [self.seen_[u] for u in users]
        uv = self.two_tower_.user_vectors(users)
        tt_items, scores = self.index_.search(uv, self.n_candidates, seen, exact=exact, probes=probes or self.probes)
        items, lists, dense = tt_items, {}, {}
        if rerank and self.sources_.names:
            items, lists, dense = self._merge(self.sources_, users, seen, tt_items)
            scores = np.full(items.shape, -np.inf, dtype=np.float32)
            ok = items >= 0
            scores[ok] = (uv[np.nonzero(ok)[0]] * self.index_.vectors[items[ok]]).sum(1)
        items, scores, new_sim = self._add_new_items(users, items, scores)
        lat["retrieval"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        final = scores.astype(np.float32).copy()
        if rerank and (items >= 0).any():
            x = self._pair_matrix(items, users, tt_items, lists, dense, uv, self.index_.vectors, self.features_)
            final[items >= 0] = self.ranker_.predict(x)
        final = final + self.new_item_boost * new_sim
        final[items < 0] = -np.inf
        lat["rerank"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        out = self._rules(users, items, final, new_sim, k, rng or np.random.default_rng(self.seed))
        lat["rules"] = (time.perf_counter() - t) * 1000
        out.latency_ms = lat
        out.n_candidates = int((items >= 0).sum(1).mean()) if users.size else 0
        return out

    def recommend(self, users: np.ndarray, k: int = 10) -> np.ndarray:
        """Top-k item indices per user (the ``Recommender`` protocol used by ``evaluate``)."""
        return self.recommend_detailed(users, k).items

    def _rules(
        self,
        users: np.ndarray,
        items: np.ndarray,
        final: np.ndarray,
        new_sim: np.ndarray,
        k: int,
        rng: np.random.Generator,
    ) -> FunnelResult:
        n = users.size
        res_items = np.full((n, k), -1, dtype=np.int64)
        res_scores = np.full((n, k), np.nan, dtype=np.float32)
        sources = np.full((n, k), "", dtype=object)
        props = np.zeros((n, k), dtype=np.float32)
        genres = self.catalog_.genres > 0
        n_items = self.catalog_.n_items
        n_explore = int(round(self.explore_share * k))
        logs: list[dict] = []
        for j, u in enumerate(users):
            seen = set(self.seen_[u].tolist())
            order = np.argsort(-final[j], kind="stable")
            chosen: list[int] = []
            deferred: list[int] = []
            per_genre = np.zeros(genres.shape[1], dtype=np.int64)
            picked: set[int] = set()
            for c in order:
                it = int(items[j, c])
                if it < 0 or it in picked or it in seen or not np.isfinite(final[j, c]):
                    continue  # dedupe, exclude seen
                picked.add(it)
                if self.max_per_genre is not None and (per_genre[genres[it]] >= self.max_per_genre).any():
                    deferred.append(c)
                    continue
                per_genre[genres[it]] += 1
                chosen.append(c)
                if len(chosen) == k:
                    break
            chosen = (chosen + deferred)[:k]
            for slot, c in enumerate(chosen):
                it = int(items[j, c])
                res_items[j, slot], res_scores[j, slot] = it, final[j, c]
                sources[j, slot] = "new_item" if new_sim[j, c] != 0 else "model"
                props[j, slot] = 1.0 - n_explore / k
            if n_explore:
                slots = rng.choice(k, size=n_explore, replace=False)
                kept = np.delete(res_items[j], slots)
                taken = seen | set(kept[kept >= 0].tolist())  # a displaced model item may come back at random
                eligible = np.setdiff1d(np.arange(n_items), np.fromiter(taken, dtype=np.int64, count=len(taken)))
                picks = rng.choice(eligible, size=min(n_explore, eligible.size), replace=False)
                for slot, it in zip(slots, picks):
                    res_items[j, slot], res_scores[j, slot], sources[j, slot] = it, np.nan, "explore"
                    props[j, slot] = (n_explore / k) / eligible.size
            for slot in range(k):
                if res_items[j, slot] >= 0:
                    logs.append(
                        {
                            "user": int(u),
                            "item": int(res_items[j, slot]),
                            "slot": slot,
                            "source": sources[j, slot],
                            "propensity": float(props[j, slot]),
                            "score": None if np.isnan(res_scores[j, slot]) else float(res_scores[j, slot]),
                        }
                    )
        return FunnelResult(res_items, res_scores, sources, props, {}, 0, logs)
