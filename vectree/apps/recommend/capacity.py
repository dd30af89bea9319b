"""Capacity planning for the funnel: how many shards keep the p99 latency under budget at a given load.

The model (from the seed's example: 500 documents at 1 ms each take 500 ms on one machine, about 100 ms
on five shards): a stage that scores ``n_items`` items at ``per_item_ms`` each, split evenly over
``shards`` machines working in parallel, takes ``fixed_ms + ceil(n_items / shards) * per_item_ms`` per
request on a shard. At ``qps`` requests per second every shard sees every request, so its utilisation is
``rho = qps * service_ms / 1000 / cores_per_shard``; queueing stretches the latency by ``1 / (1 - rho)``
(the M/M/1 mean-response factor, applied to the p99 service time: a rough, conservative-leaning guide,
not a guarantee). The answer is the smallest shard count whose estimate fits the budget with
``rho <= max_utilization``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from vectree.errors import InvalidInputError


@dataclass
class CapacityPlan:
    shards: int
    p99_ms: float  # estimated p99 latency with that many shards
    service_ms: float  # per-request time on one shard, before queueing
    utilization: float  # per-shard utilisation at the given qps
    per_item_ms: float
    n_items: int
    qps: float
    budget_ms: float

    def as_dict(self) -> dict:
        return asdict(self)


def per_item_cost_ms(
    latencies_ms: list[float] | np.ndarray, n_items: int | list[int] | np.ndarray, quantile: float = 0.99
) -> float:
    """Per-item cost from measured stage latencies: the ``quantile`` of latency / items scored."""
    lat = np.asarray(latencies_ms, dtype=np.float64)
    n = np.broadcast_to(np.asarray(n_items, dtype=np.float64), lat.shape)
    if lat.size == 0 or (n <= 0).any():
        raise InvalidInputError("per_item_cost_ms needs at least one latency and positive item counts")
    return float(np.quantile(lat / n, quantile))


def shards_needed(
    n_items: int,
    per_item_ms: float,
    p99_budget_ms: float,
    *,
    qps: float = 0.0,
    fixed_ms: float = 0.0,
    cores_per_shard: int = 1,
    max_utilization: float = 0.7,
    max_shards: int = 10_000,
) -> CapacityPlan:
    """Smallest number of shards whose estimated p99 latency fits ``p99_budget_ms`` at ``qps``.

    ``per_item_ms`` is the (p99) cost of scoring one item, ``fixed_ms`` the per-request cost that does not
    shrink with sharding (network, merging). Raises ``InvalidInputError`` when no shard count fits
    (the fixed cost alone exceeds the budget, or the load needs more than ``max_shards``).

    >>> shards_needed(500, 1.0, 100.0).shards
    5
    """
    if n_items < 1 or per_item_ms < 0 or p99_budget_ms <= 0 or qps < 0 or fixed_ms < 0:
        raise InvalidInputError(
            f"need n_items >= 1, per_item_ms >= 0, p99_budget_ms > 0, qps >= 0, fixed_ms >= 0; got "
            f"{n_items}, {per_item_ms}, {p99_budget_ms}, {qps}, {fixed_ms}"
        )
    if not 0 < max_utilization < 1:
        raise InvalidInputError(f"max_utilization must be in (0, 1), got {max_utilization}")
    if fixed_ms >= p99_budget_ms:
        raise InvalidInputError(
            f"the fixed cost {fixed_ms} ms alone exceeds the budget {p99_budget_ms} ms; no sharding helps"
        )

    def estimate(shards: int) -> tuple[float, float, float]:
        service = fixed_ms + math.ceil(n_items / shards) * per_item_ms
        rho = qps * service / 1000.0 / cores_per_shard
        p99 = service / (1.0 - rho) if rho < 1 else math.inf
        return service, rho, p99

    # the latency-only bound gives a starting point; then walk up until queueing also fits
    lo = max(1, math.ceil(n_items * per_item_ms / (p99_budget_ms - fixed_ms))) if per_item_ms > 0 else 1
    for shards in range(min(lo, n_items), max_shards + 1):
        service, rho, p99 = estimate(shards)
        if p99 <= p99_budget_ms + 1e-9 and rho <= max_utilization:
            return CapacityPlan(shards, p99, service, rho, per_item_ms, n_items, qps, p99_budget_ms)
        if shards >= n_items and fixed_ms + per_item_ms >= p99_budget_ms:
            break
    raise InvalidInputError(
        f"no shard count up to {max_shards} keeps p99 under {p99_budget_ms} ms at {qps} qps "
        f"({n_items} items at {per_item_ms} ms each, fixed {fixed_ms} ms); lower the load, the candidates, or the cost"
    )
