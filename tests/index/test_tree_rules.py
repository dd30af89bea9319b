"""Both split rules partition the rows into buckets no larger than the bucket size."""

import numpy as np
import pytest

from vectree.errors import InvalidInputError
from vectree.index import fit_pca, fit_tree


@pytest.fixture(scope="module")
def projected(arxiv_sample):
    x = arxiv_sample["vectors"]
    return fit_pca(x, 16).project(x)


@pytest.mark.parametrize("rule", ["seed", "variance", "kmeans"])
def test_buckets_respect_bucket_size_and_cover_every_row(projected, rule):
    tree = fit_tree(projected, 250, rule=rule, seed=1)
    buckets = tree.route(projected)
    counts = np.bincount(buckets, minlength=tree.n_buckets)
    assert counts.sum() == len(projected)
    assert counts.max() <= 250
    assert tree.n_buckets >= len(projected) / 250


def test_variance_rule_gives_balanced_buckets(projected):
    counts = np.bincount(fit_tree(projected, 250, rule="variance").route(projected))
    assert counts.min() >= 0.45 * counts.max()


def test_seed_rule_splits_at_the_mean_of_a_random_axis(projected):
    a = fit_tree(projected, 1000, rule="seed", seed=1)
    b = fit_tree(projected, 1000, rule="seed", seed=2)
    assert np.isclose(a.threshold[0], projected[:, a.axis[0]].mean(), atol=1e-4)
    assert (a.axis[a.axis >= 0].tolist() != b.axis[b.axis >= 0].tolist()) or a.threshold[0] != b.threshold[0]


def test_max_depth_stops_splitting(projected):
    tree = fit_tree(projected, 1, rule="variance", max_depth=3)
    assert tree.n_buckets == 8
    assert fit_tree(projected, 1, rule="kmeans", max_depth=1).n_buckets <= 256  # one level: the root fan-out


@pytest.mark.parametrize("rule", ["seed", "variance", "kmeans"])
def test_identical_points_make_a_single_bucket(rule):
    tree = fit_tree(np.ones((50, 3), np.float32), 5, rule=rule)
    assert tree.n_buckets == 1


def test_kmeans_rule_routes_each_row_to_its_nearest_center(projected):
    tree = fit_tree(projected, 250, rule="kmeans")
    assert not tree.has_planes_only
    buckets = tree.route(projected)
    cents = tree.bucket_centers(projected.shape[1])
    # a flat tree (one Voronoi level) routes every row to its nearest bucket center exactly
    if (tree.axis[1:] == -1).all():
        d = ((projected[:, None, :] - cents[None]) ** 2).sum(-1)
        assert (d.argmin(1) == buckets).all()
    counts = np.bincount(buckets, minlength=tree.n_buckets)
    assert counts.sum() == len(projected) and counts.max() <= 250


def test_bucket_boxes_contain_their_rows(projected):
    tree = fit_tree(projected, 300, rule="variance")
    lo, hi = tree.bucket_boxes(projected.shape[1])
    buckets = tree.route(projected)
    assert ((projected >= lo[buckets]) & (projected < hi[buckets])).all()


def test_unknown_rule_is_refused(projected):
    with pytest.raises(InvalidInputError, match="unknown tree rule 'annoy'"):
        fit_tree(projected, 100, rule="annoy")
