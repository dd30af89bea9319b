"""Adds after a build are searchable at once, deletes hide rows at once, upserts replace, compact keeps answers.

The tests taking ``col`` or ``db`` run against the local library and through the HTTP service.
"""

import numpy as np
import pytest

import vectree
from vectree.errors import InvalidInputError, NotFoundError


@pytest.fixture()
def col(db, arxiv_sample):
    c = db.create_collection("c", dim=384, metric="cosine", bucket_size=200)
    c.add(arxiv_sample["vectors"][:2000], ids=arxiv_sample["ids"][:2000], labels=arxiv_sample["categories"][:2000])
    c.build()
    return c


def test_rows_added_after_build_are_found_before_compaction(col, arxiv_sample):
    new = arxiv_sample["vectors"][2000:2100]
    col.add(new, ids=arxiv_sample["ids"][2000:2100], labels=arxiv_sample["categories"][2000:2100])
    assert col.stats()["tail_rows"] == 100
    res = col.search(new, k=1, probes=1)
    assert res.ids[:, 0].tolist() == arxiv_sample["ids"][2000:2100]
    assert len(col) == 2100


def test_deleted_rows_vanish_from_every_search(col, arxiv_sample):
    gone = arxiv_sample["ids"][:50]
    col.delete(gone)
    for kwargs in ({"probes": 2}, {"exact": True}):
        res = col.search(arxiv_sample["vectors"][:50], k=5, **kwargs)
        assert not set(res.ids.ravel().tolist()) & set(gone)
    assert len(col) == 1950
    with pytest.raises(NotFoundError, match="not in the collection"):
        col.delete(gone[:1])


def test_upsert_replaces_vector_label_and_keeps_one_copy(col, arxiv_sample):
    target = arxiv_sample["ids"][7]
    far = arxiv_sample["vectors"][3000]
    col.upsert(far[None, :], ids=[target], labels=["moved"])
    res = col.search(far, k=3, exact=True)
    assert res.ids[0, 0] == target and res.labels[0, 0] == "moved"
    old = col.search(arxiv_sample["vectors"][7], k=10, exact=True)
    assert old.ids[0].tolist().count(target) <= 1
    assert len(col) == 2000
    row = col.get([target])
    np.testing.assert_allclose(row.vectors[0], far / np.linalg.norm(far), atol=1e-6)


@pytest.mark.parametrize("tree_rule", ["kmeans", "variance"])
def test_compact_folds_tail_drops_tombstones_and_keeps_answers(tmp_path, arxiv_sample, tree_rule):
    col = vectree.create_collection(
        tmp_path / "c", dim=384, metric="cosine", bucket_size=200, tree_rule=tree_rule
    )  # tree_rule: local only
    col.add(arxiv_sample["vectors"][:2000], ids=arxiv_sample["ids"][:2000])
    col.build()
    col.add(arxiv_sample["vectors"][2000:3500], ids=arxiv_sample["ids"][2000:3500])
    col.delete(arxiv_sample["ids"][100:400])
    before = col.search(arxiv_sample["vectors"][3500:3600], k=10, exact=True)
    col.compact()
    s = col.stats()
    assert s["tail_rows"] == 0 and s["deleted_rows"] == 0 and s["rows"] == 3200
    # tree routing splits oversized buckets; routing by centers lets them grow to twice, then splits them
    assert s["bucket_rows_max"] <= (200 if tree_rule == "variance" else 400)
    after = col.search(arxiv_sample["vectors"][3500:3600], k=10, exact=True)
    np.testing.assert_array_equal(after.ids, before.ids)
    assert col.verify().ok


def test_compact_rewrites_only_the_buckets_it_touches(tmp_path, arxiv_sample):
    col = _local(tmp_path, arxiv_sample)  # looks at the snapshot's bucket fingerprints: local only
    rng = np.random.default_rng(0)
    near = arxiv_sample["vectors"][0] + 0.01 * rng.normal(size=(20, 384)).astype(np.float32)
    col.add(near, ids=[f"near-{i}" for i in range(20)])
    old = set(col.index.bucket_fingerprints)
    col.compact()
    new = set(col.index.bucket_fingerprints)
    assert len(old - new) <= 2 and len(old & new) >= len(old) - 2
    assert col.search(near, k=1, probes=1).ids[:, 0].tolist() == [f"near-{i}" for i in range(20)]


def test_add_refuses_stored_ids_and_changes_nothing(col, arxiv_sample):
    version = col.version
    with pytest.raises(InvalidInputError, match="already stored"):
        col.add(arxiv_sample["vectors"][:3], ids=arxiv_sample["ids"][:3])
    assert col.refresh().version == version and len(col) == 2000


def test_get_returns_rows_in_the_requested_order(col, arxiv_sample):
    ids = [arxiv_sample["ids"][i] for i in (5, 1, 1500)]
    rows = col.get(ids)
    assert rows.ids.tolist() == ids
    assert rows.labels.tolist() == [arxiv_sample["categories"][i] for i in (5, 1, 1500)]


def test_iter_batches_yields_every_live_row_once(tmp_path, arxiv_sample):
    col = _local(tmp_path, arxiv_sample)  # iter_batches is not served
    col.delete(arxiv_sample["ids"][:10])
    col.add(arxiv_sample["vectors"][2000:2005], ids=arxiv_sample["ids"][2000:2005])
    seen = [i for batch in col.iter_batches(batch_size=333) for i in batch["ids"].tolist()]
    assert sorted(seen) == sorted(arxiv_sample["ids"][10:2005])


def _local(tmp_path, arxiv_sample):  # noqa: ANN001, ANN202
    c = vectree.create_collection(tmp_path / "c", dim=384, metric="cosine", bucket_size=200)
    c.add(arxiv_sample["vectors"][:2000], ids=arxiv_sample["ids"][:2000], labels=arxiv_sample["categories"][:2000])
    c.build()
    return c


def test_auto_ids_continue_after_explicit_ones(tmp_path):
    c = vectree.create_collection(tmp_path / "auto", dim=2)
    c.add(np.zeros((2, 2)) + [[0, 1], [1, 0]])
    c.add(np.ones((1, 2)), ids=[10])
    c.add(np.ones((2, 2)) * 2)
    assert sorted(b for batch in c.iter_batches() for b in batch["ids"].tolist()) == [0, 1, 10, 11, 12]
