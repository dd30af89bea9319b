"""The two towers' torch modules: ids (+ a pooled history bag) and dense features through an MLP into one
unit-norm space. :class:`~vectree.apps.recommend.two_tower.TwoTowerModel` trains and uses them."""

from __future__ import annotations

import torch
from torch import nn


class Tower(nn.Module):
    """ids (+ optional pooled history bag) + dense features -> MLP -> unit vector."""

    def __init__(
        self, n_ids: int, n_feat: int, id_dim: int, hidden: int, dim: int, n_bag: int = 0, dropout: float = 0.1
    ):
        super().__init__()
        self.ids = nn.Embedding(n_ids + 1, id_dim)  # last row: unknown / dropped id
        nn.init.normal_(self.ids.weight, std=0.05)
        self.bag = nn.EmbeddingBag(n_bag, id_dim, mode="sum") if n_bag else None
        if self.bag is not None:
            nn.init.normal_(self.bag.weight, std=0.05)
        width = id_dim * (2 if n_bag else 1) + n_feat
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, dim))

    def forward(self, ids: torch.Tensor, feats: torch.Tensor, bag: tuple | None = None) -> torch.Tensor:
        parts = [self.ids(ids)]
        if self.bag is not None:
            idx, offsets, weights, counts = bag
            pooled = self.bag(idx, offsets, per_sample_weights=weights) / counts.clamp(min=1.0).unsqueeze(1)
            parts.append(pooled)
        parts.append(feats)
        return nn.functional.normalize(self.mlp(torch.cat(parts, dim=1)), dim=1)


class TwoTowerNet(nn.Module):
    """The user tower (which also pools the user's history when ``use_history``) and the item tower."""

    def __init__(
        self,
        n_users: int,
        n_items: int,
        user_feat: int,
        item_feat: int,
        id_dim: int,
        hidden: int,
        dim: int,
        use_history: bool,
        dropout: float,
    ):
        super().__init__()
        self.user = Tower(n_users, user_feat, id_dim, hidden, dim, n_bag=n_items if use_history else 0, dropout=dropout)
        self.item = Tower(n_items, item_feat, id_dim, hidden, dim, dropout=dropout)
