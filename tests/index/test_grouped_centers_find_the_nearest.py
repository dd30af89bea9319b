"""Routing to the nearest of many centers through pruned groups finds the nearest center, as the full product does."""

from __future__ import annotations

import numpy as np

from benchmarks.datasets import synth_rows
from vectree.index.build import Routing
from vectree.index.centers import nearest_center
from vectree.index.grouped import GROUPED_MIN_CENTERS, GroupedCenters


def _true_distance(x: np.ndarray, c: np.ndarray) -> np.ndarray:
    return ((x.astype(np.float64) - c.astype(np.float64)) ** 2).sum(1)


def test_grouped_search_returns_the_nearest_center_on_clustered_rows() -> None:
    rows = synth_rows(0, 100_000)  # the clustered 96-d generator: 4096 anisotropic clusters
    rng = np.random.default_rng(0)
    centers = rows[rng.choice(len(rows), 3000, replace=False)]
    x = synth_rows(200_000, 220_000)
    flat = nearest_center(x, centers)
    grouped = GroupedCenters(centers, groups=60).nearest(x)
    same = grouped == flat
    assert same.mean() >= 0.999
    # where they differ, the two centers are within float32 rounding and the grouped one is no farther
    differ = ~same
    d_grouped = _true_distance(x[differ], centers[grouped[differ]])
    d_flat = _true_distance(x[differ], centers[flat[differ]])
    assert (d_grouped <= d_flat * (1 + 1e-5) + 1e-6).all()


def test_a_build_with_many_centers_routes_through_the_groups() -> None:
    rng = np.random.default_rng(1)
    centers = synth_rows(0, GROUPED_MIN_CENTERS)
    routing = Routing(projection=None, tree=None, centers=centers, estimate=np.zeros(len(centers)))
    assert isinstance(routing.grouped, GroupedCenters)
    x = synth_rows(300_000, 305_000) + rng.standard_normal((5000, 96)).astype(np.float32) * 0.01
    routed = routing.route(x)
    flat = nearest_center(x, centers)
    assert (routed == flat).mean() >= 0.999
    differ = routed != flat
    assert (
        _true_distance(x[differ], centers[routed[differ]])
        <= _true_distance(x[differ], centers[flat[differ]]) * (1 + 1e-5) + 1e-6
    ).all()
    few = Routing(projection=None, tree=None, centers=centers[:1000], estimate=np.zeros(1000))
    assert few.grouped is None  # below the threshold one product with every center is as fast
