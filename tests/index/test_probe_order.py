"""Best-bin-first: a query's own bucket comes first, and box distances never exceed true distances."""

from vectree.index import box_distances, fit_pca, fit_tree, probe


def test_own_bucket_first_and_box_distance_is_a_lower_bound(fashion_mnist):
    x = fashion_mnist["train"]
    proj = fit_pca(x, 32)
    px = proj.project(x)
    tree = fit_tree(px, 500, rule="variance")
    lo, hi = tree.bucket_boxes(32)
    q = fashion_mnist["queries"][:50]
    pq = proj.project(q)
    order = probe(pq, lo, hi, 4)
    assert (order[:, 0] == tree.route(pq)).all()
    d_box = box_distances(pq, lo, hi)
    buckets = tree.route(px)
    true = ((q[:, None, :] - x[None, :2000, :]) ** 2).sum(-1)
    # for every (query, row) pair the box of the row's bucket is no farther than the row itself
    bound = d_box[:, buckets[:2000]]
    assert (bound <= true * (1 + 1e-4) + 1e-2).all()


def test_probing_every_bucket_lists_each_once(arxiv_sample):
    x = arxiv_sample["vectors"]
    proj = fit_pca(x, 8)
    tree = fit_tree(proj.project(x), 400, rule="variance")
    lo, hi = tree.bucket_boxes(8)
    order = probe(proj.project(x[:20]), lo, hi, 10_000)
    assert order.shape == (20, tree.n_buckets)
    assert all(sorted(r) == list(range(tree.n_buckets)) for r in order.tolist())
