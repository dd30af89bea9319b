"""The capacity helper answers 'how many shards meet a p99 budget at this load'."""

from __future__ import annotations

import pytest

from vectree.apps.recommend.capacity import per_item_cost_ms, shards_needed
from vectree.errors import InvalidInputError


def test_seed_example_500_docs_at_1ms_need_5_shards_for_100ms():
    plan = shards_needed(500, 1.0, 100.0)
    assert plan.shards == 5 and plan.p99_ms == pytest.approx(100.0)


def test_load_needs_more_shards_than_latency_alone():
    idle = shards_needed(500, 1.0, 100.0, qps=0.0)
    busy = shards_needed(500, 1.0, 100.0, qps=5.0, fixed_ms=5.0)
    assert busy.shards > idle.shards
    assert busy.p99_ms <= 100.0 and busy.utilization <= 0.7


def test_impossible_budget_is_refused_with_reason():
    with pytest.raises(InvalidInputError, match="fixed cost"):
        shards_needed(100, 1.0, 10.0, fixed_ms=20.0)
    with pytest.raises(InvalidInputError, match="no shard count"):
        shards_needed(10, 5.0, 4.0)


def test_per_item_cost_from_measured_latencies():
    assert per_item_cost_ms([10.0, 20.0, 40.0], [100, 100, 100], quantile=0.5) == pytest.approx(0.2)
