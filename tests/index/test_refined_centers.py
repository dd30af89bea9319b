"""Refined centers: Lloyd steps at full width tighten the tree's cells, and every row lives in its nearest cell."""

import dataclasses
import logging

import numpy as np

import vectree
from vectree.index import fit_pca, fit_tree
from vectree.index.centers import centers_of, nearest_center, refine_centers


def _spread(x: np.ndarray, assign: np.ndarray, centers: np.ndarray) -> float:
    """Mean squared distance of each row to its cell's center (the k-means objective)."""
    return float(((x - centers[assign]) ** 2).sum(1).mean())


def test_lloyd_steps_tighten_the_tree_cells_at_full_width(arxiv_sample):
    x = arxiv_sample["vectors"]
    projected = fit_pca(x, 16).project(x)
    tree = fit_tree(projected, 60, rule="kmeans")
    buckets = tree.route(projected)
    tree_centers = centers_of(x, buckets, np.zeros((tree.n_buckets, x.shape[1]), np.float32))
    refined, _ = refine_centers(x, buckets, tree.n_buckets, 3)
    assert refined.shape == tree_centers.shape
    before = _spread(x, buckets, tree_centers)
    after = _spread(x, nearest_center(x, refined), refined)
    assert after < 0.99 * before  # cells fitted in 16 of 384 dimensions: every Lloyd step lowers the spread


def test_nearest_center_is_the_brute_force_argmin(arxiv_sample):
    x = arxiv_sample["vectors"][:500]
    centers = arxiv_sample["vectors"][1000:1080]
    brute = ((x[:, None, :] - centers[None]) ** 2).sum(-1).argmin(1)
    agree = (nearest_center(x, centers) == brute).mean()
    assert agree > 0.995  # float32 ties aside


def test_every_stored_row_is_found_in_its_first_probed_bucket(tmp_path, arxiv_sample):
    x = arxiv_sample["vectors"]
    col = vectree.create_collection(tmp_path / "c", dim=384, metric="cosine", bucket_size=100)
    col.add(x[:3000])
    col.build()
    assert col.stats()["buckets"] >= 30
    res = col.search(x[:3000:7], k=1, probes=1)
    # the row itself (or an identical duplicate) is at distance 0
    assert (res.distances[:, 0] < 1e-5).mean() > 0.99


def test_rows_added_later_go_to_their_nearest_center(tmp_path, arxiv_sample):
    x = arxiv_sample["vectors"]
    col = vectree.create_collection(tmp_path / "c", dim=384, metric="cosine", bucket_size=100)
    col.add(x[:2000])
    col.build()
    buckets = col.stats()["buckets"]
    col.add(x[2000:2200])
    col.compact()  # buckets grow in place: no new centers, no misplaced neighbours
    assert col.stats()["buckets"] == buckets
    res = col.search(x[2000:2200], k=1, probes=1)
    assert (res.distances[:, 0] < 1e-5).mean() > 0.99


def test_buckets_grown_past_twice_their_size_are_split_in_place(tmp_path, arxiv_sample, caplog):
    x = arxiv_sample["vectors"]
    col = vectree.create_collection(tmp_path / "c", dim=384, metric="cosine", bucket_size=100)
    col.add(x[:1800])
    col.build()
    before = col.index
    col.add(x[1800:3500])  # fewer rows than are indexed: only grown buckets call for splits
    with caplog.at_level(logging.INFO, logger="vectree.collection"):  # compaction and maintenance
        col.compact()
    assert "split bucket" in caplog.text and "rebuilding" not in caplog.text
    after = col.index
    assert col.manifest.operation == "compact" and after.projection is not None
    # no rebuild: the old centers of buckets that were neither split nor a neighbour are kept as they were
    kept = np.flatnonzero(np.all(after.centers[: before.n_buckets] == before.centers, axis=1))
    assert len(kept) > 0.5 * before.n_buckets
    assert after.n_buckets > before.n_buckets and after.bucket_rows.max() <= 3 * 100
    assert after.tree.n_buckets == after.n_buckets
    # every row still lives in (almost always) its nearest center, so it is found in its first probed bucket
    res = col.search(x[:3500:5], k=1, probes=1)
    assert (res.distances[:, 0] < 1e-5).mean() > 0.97
    exact = col.search(x[3600:3700], k=10, exact=True)
    approx = col.search(x[3600:3700], k=10, probes=12)
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(approx.ids.tolist(), exact.ids.tolist())])
    assert overlap > 0.8
    assert col.verify().ok and len(col) == 3500 and col.stats()["tail_rows"] == 0
    assert sorted(col.get(list(range(0, 3500, 97))).ids.tolist()) == list(range(0, 3500, 97))


def test_refinement_can_be_turned_off(tmp_path, arxiv_sample):
    x = arxiv_sample["vectors"][:2000]
    col = vectree.create_collection(tmp_path / "c", dim=384, metric="cosine", bucket_size=100)
    col.add(x)
    col.build(dataclasses.replace(col.index_config, refine_iterations=0))
    res = col.search(x[:50], k=1, probes=1)
    assert (res.distances[:, 0] < 1e-5).all()  # the tree routes stored rows to their own bucket


def test_few_query_ranking_equals_the_full_product(fashion_mnist):
    from vectree.index.centers import CenterRanker, center_norms
    from vectree.index.probe import probe_centers

    x = fashion_mnist["train"]
    proj = fit_pca(x, 32)
    centers, _ = refine_centers(x, nearest_center(x, x[::40]), len(x[::40]), 1)  # 200 real centers
    empty = np.zeros(len(centers), bool)
    empty[::17] = True  # emptied buckets come last in both rankings
    ranker = CenterRanker(centers, center_norms(centers), proj.mean, proj.components)
    q = fashion_mnist["queries"][:50]
    for probes in (1, 8, 40):
        full = probe_centers(q, centers, probes, empty=empty, center_sq=center_norms(centers))
        np.testing.assert_array_equal(ranker.rank(q, probes, empty), full)


def test_ranking_with_every_dimension_projected_equals_the_full_product(fashion_mnist):
    """A projection that keeps every dimension (GloVe's 50 of 50) ranks by full products and a histogram
    of them, not by bounds: the same order, emptied centers last."""
    from vectree.index.centers import CenterRanker, center_norms
    from vectree.index.probe import probe_centers

    x = np.ascontiguousarray(fashion_mnist["train"][:, 300:348])  # 48 of the pixels
    proj = fit_pca(x, 48)
    centers, _ = refine_centers(x, nearest_center(x, x[::40]), len(x[::40]), 1)
    empty = np.zeros(len(centers), bool)
    empty[::13] = True
    ranker = CenterRanker(centers, center_norms(centers), proj.mean, proj.components)
    q = np.vstack([fashion_mnist["queries"][:40, 300:348], centers[:3], np.zeros((1, 48), np.float32)])
    assert proj.n_components == q.shape[1]
    for probes in (1, 5, 30, len(centers) // 4 - 1):  # (the index ranks more probes by one product)
        full = probe_centers(q, centers, probes, empty=empty, center_sq=center_norms(centers))
        np.testing.assert_array_equal(ranker.rank(q, probes, empty), full, err_msg=f"probes={probes}")
    every = np.ones(len(centers), bool)
    every[5:9] = False  # fewer live centers than probes: the live ones first, then emptied ones by number
    got = ranker.rank(q[:4], 10, every)
    want = probe_centers(q[:4], centers, 4, empty=every, center_sq=center_norms(centers))
    np.testing.assert_array_equal(got[:, :4], want)
    assert (got[:, 4:] == [0, 1, 2, 3, 4, 9]).all()
