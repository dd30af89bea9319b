"""The keyword index grows by one small part per write and is searched as one index: the same BM25 ranking
and scores as a full rebuild; replaced and deleted rows never come back; build and compact merge the parts."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import vectree
from vectree.collection.keywords import ATTACHMENT, DELTA_PREFIX, build_keyword_index, keyword_search

N0, N = 1200, 1500
QUERIES = [
    "neural networks",
    "language models reasoning",
    "graph learning for molecules",
    "quantum",
    "reinforcement learning robot control",
    "diffusion image generation",
    "bayesian inference",
    "transformer attention",
]


def _deltas(col):
    return sorted(n for n in col.manifest.attachments if n.startswith(DELTA_PREFIX))


@pytest.fixture(scope="module")
def grown(tmp_path_factory, arxiv_sample):
    """1,200 demo papers indexed by title, then 300 more added in 6 writes (single rows and batches)."""
    x, titles, cats = arxiv_sample["vectors"], arxiv_sample["titles"], arxiv_sample["categories"]
    root = tmp_path_factory.mktemp("kwparts") / "c"
    col = vectree.create_collection(root, dim=384, metric="cosine", bucket_size=100)
    meta = [{"title": t} for t in titles[:N]]
    col.add(x[:N0], ids=np.arange(N0), labels=cats[:N0], metadata=meta[:N0])
    col.build()
    build_keyword_index(col, "title")
    for lo, hi in [
        (N0, N0 + 1),
        (N0 + 1, N0 + 2),
        (N0 + 2, N0 + 100),
        (N0 + 100, N0 + 101),
        (N0 + 101, 1400),
        (1400, N),
    ]:
        col.add(x[lo:hi], ids=np.arange(lo, hi), labels=cats[lo:hi], metadata=meta[lo:hi])
    return {"root": root, "titles": titles, "x": x}


def _rebuilt(src, dst):
    shutil.copytree(src, dst)
    col = vectree.open_collection(dst)
    build_keyword_index(col, "title")
    assert _deltas(col) == []
    return col


def _same_ranking(a_ids, a_sc, b_ids, b_sc):
    """The same scores in order, and the same rows for every score above each list's last (rows tied at the
    cut-off may be any of the tied ones: ties break by the order rows were indexed)."""
    np.testing.assert_allclose(a_sc, b_sc, rtol=1e-5)
    for ai, asc, bi, bsc in zip(a_ids, a_sc, b_ids, b_sc):
        above = asc > asc[-1] + 1e-4
        assert {(i, round(float(s), 3)) for i, s in zip(ai[above], asc[above])} == {
            (i, round(float(s), 3)) for i, s in zip(bi[above], bsc[above])
        }


def test_parts_answer_as_a_full_rebuild(grown, tmp_path):
    col = vectree.open_collection(grown["root"])
    assert len(_deltas(col)) == 6
    sizes = {n: len(col.get_attachment(n)) for n in col.manifest.attachments if n.startswith(ATTACHMENT)}
    assert max(v for n, v in sizes.items() if n != ATTACHMENT) < sizes[ATTACHMENT] / 2  # a write's part is small
    full = _rebuilt(grown["root"], tmp_path / "full")
    texts = QUERIES + [grown["titles"][i] for i in (5, N0, N0 + 50, 1450)]
    a_ids, a_sc = keyword_search(col, texts, k=20)
    b_ids, b_sc = keyword_search(full, texts, k=20)
    np.testing.assert_allclose(a_sc, b_sc, rtol=1e-5)  # BM25 statistics summed over every part
    np.testing.assert_array_equal(a_ids, b_ids)
    assert a_ids[-3:, 0].tolist() == [N0, N0 + 50, 1450]  # rows added after the index was built are found
    assert col.verify().ok


def test_upserted_and_deleted_rows_never_come_back_and_compact_merges(grown, tmp_path, arxiv_sample):
    shutil.copytree(grown["root"], tmp_path / "c")
    col = vectree.open_collection(tmp_path / "c")
    old_title = grown["titles"][N0 + 50]
    col.upsert(grown["x"][N0 + 50 : N0 + 51], ids=[N0 + 50], metadata=[{"title": "zebra migration patterns"}])
    col.delete([5, 1450])
    ids, _ = keyword_search(col, [old_title, "zebra migration", grown["titles"][5], grown["titles"][1450]], k=10)
    assert N0 + 50 not in ids[0].tolist()  # its old text is in an older part, superseded
    assert ids[1, 0] == N0 + 50 and (ids[1] == N0 + 50).sum() == 1
    assert 5 not in ids[2].tolist() and 1450 not in ids[3].tolist()
    assert (ids[[0, 2, 3]] != -1).all()  # the lists stay full: the ranking is read deeper
    col.compact()
    assert _deltas(col) == [] and ATTACHMENT in col.manifest.attachments  # merged in the same commit
    assert col.manifest.operation == "compact"
    after, after_sc = keyword_search(col, QUERIES + ["zebra migration"], k=10)
    full = _rebuilt(tmp_path / "c", tmp_path / "full")
    expect, expect_sc = keyword_search(full, QUERIES + ["zebra migration"], k=10)
    _same_ranking(after, after_sc, expect, expect_sc)  # merged: deleted rows left the statistics too
    col.add(grown["x"][:1] + 0.01, ids=[9999], metadata=[{"title": "zebra crossings"}])
    assert len(_deltas(col)) == 1 and keyword_search(col, "zebra crossings", k=1)[0][0, 0] == 9999
    col.build()
    assert _deltas(col) == [] and keyword_search(col, "zebra crossings", k=1)[0][0, 0] == 9999
    col.cleanup(older_than=0, keep_versions=1, grace=0)
    assert col.verify(all_versions=True).ok and keyword_search(col, "zebra", k=2)[0][0].tolist() == [9999, N0 + 50]


def test_a_failed_add_leaves_no_keyword_part(grown, tmp_path):
    shutil.copytree(grown["root"], tmp_path / "c")
    col = vectree.open_collection(tmp_path / "c")
    before = set(p.name for p in (tmp_path / "c" / "attachments").iterdir())
    with pytest.raises(vectree.InvalidInputError):
        col.add(grown["x"][:2], ids=[3, 3], metadata=[{"title": "dup"}] * 2)  # duplicate ids: refused
    with pytest.raises(vectree.InvalidInputError):
        col.add(grown["x"][:1], ids=[4], metadata=[{"title": "already stored"}])
    assert set(p.name for p in (tmp_path / "c" / "attachments").iterdir()) == before
