"""A two-tower retrieval model in torch: a user tower and an item tower map ids and side features into one
unit-norm embedding space, so the inner product of a user vector and an item vector scores the pair.

Trained on interaction pairs with either loss (``loss=``):

- ``"inbatch"``: sampled softmax with in-batch negatives; every other item of the batch is a negative for
  a user, with the log-frequency ("logQ") correction for popular items being sampled more often.
- ``"random"``: the inner-product loss with random negatives: positive pairs are pushed up and pairs
  with uniformly drawn items pushed down, through a logistic link so the loss is bounded.

The user tower also pools the user's history (the items they engaged with, minus the target item while
training, so it cannot just look the answer up), which is what lets it generalise on small data.
Item vectors go into a vectree collection (metric "cosine" or "dot": they are unit-norm), and a user
vector queries it.
"""

from __future__ import annotations

import io
import json
import logging
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vectree.apps.recommend.towers import TwoTowerNet
from vectree.errors import InvalidInputError

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int, float], None]  # (epoch, epochs, mean loss)


def _as_features(x: np.ndarray | None, n: int, name: str) -> np.ndarray:
    if x is None:
        return np.zeros((n, 0), dtype=np.float32)
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] != n:
        raise InvalidInputError(f"{name} must have shape ({n}, d), got {x.shape}")
    if not np.isfinite(x).all():
        raise InvalidInputError(f"{name} contains NaN or inf; clean the features first")
    return x


class TwoTowerModel:
    """User and item towers over ids and features, trained on (user, item) pairs.

    Parameters (keyword-only): ``dim`` output size; ``id_dim`` id-embedding size; ``hidden`` MLP width;
    ``loss`` ``"inbatch"`` or ``"random"``; ``temperature`` softmax/logit scale; ``n_negatives`` random
    negatives per positive (``loss="random"``); ``epochs``, ``batch_size``, ``lr``, ``weight_decay``;
    ``use_history`` pool the user's history in the user tower; ``max_history`` keep the most recent items;
    ``id_dropout`` chance of hiding an item's id while training so the item tower also works from features
    alone (new items); ``seed``; ``progress`` optional callback ``(epoch, epochs, loss)``.

    Fitted attributes: ``net_``, ``loss_history_`` (mean loss per epoch), ``n_users_``, ``n_items_``,
    ``user_features_``, ``item_features_``, ``history_``, ``fit_seconds_``.
    """

    def __init__(
        self,
        *,
        dim: int = 64,
        id_dim: int = 32,
        hidden: int = 128,
        loss: str = "inbatch",
        temperature: float = 0.1,
        n_negatives: int = 8,
        epochs: int = 10,
        batch_size: int = 1024,
        lr: float = 3e-3,
        weight_decay: float = 0.0,
        use_history: bool = True,
        max_history: int = 100,
        id_dropout: float = 0.1,
        dropout: float = 0.1,
        seed: int = 0,
        progress: ProgressFn | None = None,
    ):
        self.dim, self.id_dim, self.hidden, self.loss = dim, id_dim, hidden, loss
        self.temperature, self.n_negatives, self.epochs, self.batch_size = temperature, n_negatives, epochs, batch_size
        self.lr, self.weight_decay, self.use_history, self.max_history = lr, weight_decay, use_history, max_history
        self.id_dropout, self.dropout, self.seed, self.progress = id_dropout, dropout, seed, progress

    _PARAMS = (
        "dim",
        "id_dim",
        "hidden",
        "loss",
        "temperature",
        "n_negatives",
        "epochs",
        "batch_size",
        "lr",
        "weight_decay",
        "use_history",
        "max_history",
        "id_dropout",
        "dropout",
        "seed",
    )

    def get_params(self) -> dict:
        """The constructor parameters (without the progress callback)."""
        return {p: getattr(self, p) for p in self._PARAMS}

    # ------------------------------------------------------------------ training
    def fit(
        self,
        users: np.ndarray,
        items: np.ndarray,
        *,
        n_users: int,
        n_items: int,
        user_features: np.ndarray | None = None,
        item_features: np.ndarray | None = None,
        history: list[np.ndarray] | None = None,
    ) -> TwoTowerModel:
        """Train on interaction pairs ``(users[j], items[j])`` (dense 0-based indices).

        ``history[u]`` lists user ``u``'s engaged items in time order (default: built from the pairs in
        input order); it feeds the user tower. Returns ``self``.
        """
        if self.loss not in ("inbatch", "random"):
            raise InvalidInputError(f"loss must be 'inbatch' or 'random', got {self.loss!r}")
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        if users.shape != items.shape or users.ndim != 1 or users.size == 0:
            raise InvalidInputError(
                f"users and items must be equal-length non-empty 1-d arrays, got {users.shape} and {items.shape}"
            )
        if users.min() < 0 or users.max() >= n_users or items.min() < 0 or items.max() >= n_items:
            raise InvalidInputError(f"indices out of range: users must be in [0, {n_users}), items in [0, {n_items})")
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        self.n_users_, self.n_items_ = int(n_users), int(n_items)
        self.user_features_ = _as_features(user_features, n_users, "user_features")
        self.item_features_ = _as_features(item_features, n_items, "item_features")
        if history is None:
            history = [items[users == u] for u in range(n_users)]
        self.history_ = [np.asarray(h, dtype=np.int64)[-self.max_history :] for h in history]
        if len(self.history_) != n_users:
            raise InvalidInputError(f"history must have one entry per user ({n_users}), got {len(self.history_)}")
        self.net_ = TwoTowerNet(
            n_users,
            n_items,
            self.user_features_.shape[1],
            self.item_features_.shape[1],
            self.id_dim,
            self.hidden,
            self.dim,
            self.use_history,
            self.dropout,
        )
        opt = torch.optim.Adam(self.net_.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        log_q = torch.from_numpy(np.log(np.bincount(items, minlength=n_items) / items.size + 1e-9).astype(np.float32))
        uf, itf = torch.from_numpy(self.user_features_), torch.from_numpy(self.item_features_)
        self.loss_history_ = []
        t0 = time.perf_counter()
        n_batches = int(np.ceil(users.size / self.batch_size))
        for epoch in range(self.epochs):
            self.net_.train()
            order = rng.permutation(users.size)
            total = 0.0
            for b in range(n_batches):
                sel = order[b * self.batch_size : (b + 1) * self.batch_size]
                bu, bi = users[sel], items[sel]
                u_vec = self._user_forward(bu, uf, exclude=bi)
                shown = bi.copy()
                if self.id_dropout > 0:
                    shown[rng.random(bi.size) < self.id_dropout] = n_items
                i_vec = self.net_.item(torch.from_numpy(shown), itf[torch.from_numpy(bi)])
                loss = self._loss(u_vec, i_vec, bi, itf, log_q, rng)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach())
            mean = total / n_batches
            self.loss_history_.append(mean)
            log.info("two-tower epoch %d/%d loss %.4f (%.1fs)", epoch + 1, self.epochs, mean, time.perf_counter() - t0)
            if self.progress is not None:
                self.progress(epoch + 1, self.epochs, mean)
        self.fit_seconds_ = time.perf_counter() - t0
        self.net_.eval()
        return self

    def _bag(self, users: np.ndarray, exclude: np.ndarray | None, history: list[np.ndarray] | None = None) -> tuple:
        hist = history if history is not None else [self.history_[u] for u in users]
        lengths = np.array([len(h) for h in hist], dtype=np.int64)
        idx = np.concatenate(hist) if lengths.sum() else np.zeros(0, dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        weights = np.ones(idx.size, dtype=np.float32)
        if exclude is not None and idx.size:
            weights[idx == np.repeat(exclude, lengths)] = 0.0
        counts = np.bincount(np.repeat(np.arange(len(hist)), lengths), weights=weights, minlength=len(hist)).astype(
            np.float32
        )
        return (torch.from_numpy(idx), torch.from_numpy(offsets), torch.from_numpy(weights), torch.from_numpy(counts))

    def _user_forward(
        self,
        users: np.ndarray,
        uf: torch.Tensor,
        exclude: np.ndarray | None = None,
        history: list[np.ndarray] | None = None,
        features: torch.Tensor | None = None,
    ) -> torch.Tensor:
        bag = self._bag(users, exclude, history) if self.use_history else None
        feats = features if features is not None else uf[torch.from_numpy(users)]
        ids = np.where(users < self.n_users_, users, self.n_users_)
        return self.net_.user(torch.from_numpy(ids), feats, bag)

    def _loss(
        self,
        u: torch.Tensor,
        i: torch.Tensor,
        bi: np.ndarray,
        itf: torch.Tensor,
        log_q: torch.Tensor,
        rng: np.random.Generator,
    ) -> torch.Tensor:
        tau = self.temperature
        if self.loss == "inbatch":
            logits = u @ i.T / tau - log_q[torch.from_numpy(bi)].unsqueeze(0)
            same = torch.from_numpy(bi[:, None] == bi[None, :])
            same.fill_diagonal_(False)
            logits = logits.masked_fill(same, float("-inf"))  # a repeat of the positive is not a negative
            return nn.functional.cross_entropy(logits, torch.arange(bi.size))
        neg = rng.integers(0, self.n_items_, size=(bi.size, self.n_negatives))
        if neg.size > self.n_items_:  # cheaper to embed the whole catalogue once and gather
            all_vec = self.net_.item(torch.arange(self.n_items_), itf)
            n_vec = all_vec[torch.from_numpy(neg)]
        else:
            n_vec = self.net_.item(torch.from_numpy(neg.ravel()), itf[torch.from_numpy(neg.ravel())]).view(
                bi.size, self.n_negatives, -1
            )
        pos = (u * i).sum(1) / tau
        negs = torch.einsum("bd,bnd->bn", u, n_vec) / tau
        return nn.functional.softplus(-pos).mean() + nn.functional.softplus(negs).mean()

    # ------------------------------------------------------------------ inference
    def _check(self) -> None:
        if not hasattr(self, "net_"):
            raise InvalidInputError("TwoTowerModel is not fitted; call fit(...) or TwoTowerModel.load(path)")

    @torch.no_grad()
    def item_vectors(
        self, items: np.ndarray | None = None, features: np.ndarray | None = None, use_ids: bool = True
    ) -> np.ndarray:
        """Unit item vectors (float32) for ``items`` (default all). ``features`` overrides the stored side
        features; ``use_ids=False`` embeds from features alone (as for an item unseen in training)."""
        self._check()
        items = np.arange(self.n_items_) if items is None else np.asarray(items, dtype=np.int64)
        feats = (
            self.item_features_[np.clip(items, 0, self.n_items_ - 1)]
            if features is None
            else _as_features(features, items.size, "features")
        )
        ids = items if use_ids else np.full(items.size, self.n_items_)
        out = [
            self.net_.item(torch.from_numpy(ids[s : s + 4096]), torch.from_numpy(feats[s : s + 4096]))
            for s in range(0, items.size, 4096)
        ]
        return torch.cat(out).numpy() if out else np.zeros((0, self.dim), dtype=np.float32)

    @torch.no_grad()
    def user_vectors(
        self, users: np.ndarray, history: list[np.ndarray] | None = None, features: np.ndarray | None = None
    ) -> np.ndarray:
        """Unit user vectors (float32). ``history`` / ``features`` override what was seen in training;
        a user index >= n_users is a new user (no id embedding: history and features only)."""
        self._check()
        users = np.asarray(users, dtype=np.int64)
        if history is None and (users >= self.n_users_).any():
            raise InvalidInputError("new users (index >= n_users) need an explicit history")
        if features is None:
            feats = torch.from_numpy(self.user_features_[np.clip(users, 0, self.n_users_ - 1)])
        else:
            feats = torch.from_numpy(_as_features(features, users.size, "features"))
        hist = None if history is None else [np.asarray(h, dtype=np.int64)[-self.max_history :] for h in history]
        return self._user_forward(users, None, history=hist, features=feats).numpy()

    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Inner products of matching (user, item) pairs."""
        u = self.user_vectors(np.asarray(users))
        v = self.item_vectors(np.asarray(items))
        return (u * v).sum(1)

    # ------------------------------------------------------------------ persistence
    def to_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """``(header, arrays)``: parameters and sizes as JSON-able values, the weights and fitted side data
        as numpy arrays (no pickle anywhere: see ``vectree.apps.recommend.state``)."""
        self._check()
        lengths = np.array([len(h) for h in self.history_], dtype=np.int64)
        arrays = {f"state.{k}": v.detach().cpu().numpy() for k, v in self.net_.state_dict().items()}
        arrays.update(
            {
                "user_features": self.user_features_,
                "item_features": self.item_features_,
                "history_lengths": lengths,
                "history_items": np.concatenate(self.history_) if lengths.sum() else np.zeros(0, np.int64),
            }
        )
        header = {
            "format": 1,
            "params": self.get_params(),
            "n_users": self.n_users_,
            "n_items": self.n_items_,
            "loss_history": [float(x) for x in self.loss_history_],
        }
        return header, arrays

    @classmethod
    def from_state(cls, header: dict, arrays: dict[str, np.ndarray]) -> TwoTowerModel:
        """Inverse of ``to_state``."""
        if header.get("format") != 1:
            raise InvalidInputError(f"two-tower model state has format {header.get('format')!r}, this vectree reads 1")
        model = cls(**header["params"])
        model.n_users_, model.n_items_ = int(header["n_users"]), int(header["n_items"])
        model.user_features_ = np.asarray(arrays["user_features"], dtype=np.float32)
        model.item_features_ = np.asarray(arrays["item_features"], dtype=np.float32)
        lengths = arrays["history_lengths"]
        model.history_ = np.split(arrays["history_items"], np.cumsum(lengths)[:-1]) if lengths.size else []
        model.net_ = TwoTowerNet(
            model.n_users_,
            model.n_items_,
            model.user_features_.shape[1],
            model.item_features_.shape[1],
            model.id_dim,
            model.hidden,
            model.dim,
            model.use_history,
            model.dropout,
        )
        state = {k[len("state.") :]: torch.from_numpy(np.array(v)) for k, v in arrays.items() if k.startswith("state.")}
        model.net_.load_state_dict(state)
        model.net_.eval()
        model.loss_history_ = list(header["loss_history"])
        return model

    def to_bytes(self) -> bytes:
        """One zip archive: ``model.json`` (``to_state``'s header) and ``arrays.npz``."""
        from vectree.apps.recommend.state import to_npz

        header, arrays = self.to_state()
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("model.json", json.dumps(header))
            z.writestr("arrays.npz", to_npz(arrays))
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> TwoTowerModel:
        """Inverse of ``to_bytes`` (reads JSON and a pickle-free npz)."""
        from vectree.apps.recommend.state import from_npz

        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                header, npz = json.loads(z.read("model.json")), z.read("arrays.npz")
        except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
            raise InvalidInputError(f"not a saved two-tower model ({exc})") from exc
        return cls.from_state(header, from_npz(npz))

    def save(self, path: str | Path) -> None:
        """Write the model to a file (see ``to_bytes``)."""
        Path(path).write_bytes(self.to_bytes())

    @classmethod
    def load(cls, path: str | Path) -> TwoTowerModel:
        """Read a model written by ``save``."""
        return cls.from_bytes(Path(path).read_bytes())
