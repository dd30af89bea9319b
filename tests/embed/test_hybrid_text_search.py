"""search_text: keyword (BM25, stored as a versioned attachment), vector (the stored embedder) and hybrid (fused)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import vectree
from vectree.collection.keywords import ATTACHMENT, build_keyword_index, keyword_search
from vectree.embed import StaticEmbedder, attach_embedder, search_text
from vectree.errors import InvalidInputError, NotFoundError

N = 2000


@pytest.fixture(scope="module")
def titled(tmp_path_factory, arxiv_sample):
    """2,000 real arXiv titles embedded with the static encoder, which is stored with the collection."""
    titles = arxiv_sample["titles"][:N]
    emb = StaticEmbedder()
    root = tmp_path_factory.mktemp("hybrid") / "c"
    col = vectree.create_collection(root, dim=emb.dim, metric="cosine", bucket_size=100)
    col.add(
        emb.encode(titles),
        ids=np.arange(N),
        labels=arxiv_sample["categories"][:N],
        metadata=[{"title": t} for t in titles],
    )
    col.build()
    attach_embedder(col, emb)
    build_keyword_index(col, "title")
    return {"root": root, "titles": titles, "embedder": emb}


def _top1(result):
    return result.ids[:, 0]


def test_each_mode_finds_a_row_by_its_own_title(titled):
    col = vectree.open_collection(titled["root"])
    queries = list(range(0, N, 40))
    texts = [titled["titles"][i] for i in queries]
    for mode in ("keyword", "vector", "hybrid"):
        res = search_text(col, texts, k=10, mode=mode)
        assert res.ids.shape == (len(texts), 10) and res.mode == mode
        assert np.all(np.diff(res.scores, axis=1) <= 1e-6)  # best first
        hit = np.mean(_top1(res) == np.array(queries))
        assert hit >= 0.9, (mode, hit)


def test_hybrid_weights_reduce_to_either_ranking(titled):
    col = vectree.open_collection(titled["root"])
    texts = [
        "graph neural networks for molecules",
        "large language model reasoning benchmark",
        "quantum error correction",
    ]
    vec = search_text(col, texts, k=10, mode="vector", probes=200)
    kw = search_text(col, texts, k=10, mode="keyword")
    only_vec = search_text(col, texts, k=10, mode="hybrid", weight=1.0, probes=200)
    only_kw = search_text(col, texts, k=10, mode="hybrid", weight=0.0, probes=200)
    np.testing.assert_array_equal(only_vec.ids, vec.ids)
    np.testing.assert_array_equal(only_kw.ids, kw.ids)
    both = search_text(col, texts, k=10, mode="hybrid", probes=200)
    for q in range(len(texts)):  # RRF: a row both lists rank first is first
        if vec.ids[q, 0] == kw.ids[q, 0]:
            assert both.ids[q, 0] == vec.ids[q, 0]
        assert set(both.ids[q]) <= set(search_text(col, texts[q], k=50, mode="vector", probes=200).ids[0]) | set(
            keyword_search(col, texts[q], k=50)[0][0]
        )
    linear = search_text(col, texts, k=10, mode="hybrid", fusion="linear", weight=0.3, probes=200)
    assert linear.ids.shape == (3, 10) and np.all(linear.scores[:, 0] <= 1.0 + 1e-6)


def test_keyword_index_is_a_versioned_attachment_that_skips_deleted_rows(titled, tmp_path, caplog):
    col = vectree.open_collection(titled["root"])
    word_query = titled["titles"][7]
    first = keyword_search(col, word_query, k=5)[0][0]
    assert first[0] == 7
    assert ATTACHMENT in col.manifest.attachments and col.verify().ok
    # a copy to change: delete the best hit; it is never returned, and the list stays full
    import shutil

    shutil.copytree(titled["root"], tmp_path / "c")
    copy = vectree.open_collection(tmp_path / "c")
    copy.delete([7])
    ids, _ = keyword_search(copy, word_query, k=5)
    assert 7 not in ids[0] and (ids[0] != -1).all()
    copy.add(titled["embedder"].encode(["a brand new title"]), ids=[N], metadata=[{"title": "a brand new title"}])
    with caplog.at_level(logging.WARNING):  # the add wrote the keyword index's part for its row
        assert keyword_search(copy, "brand new title", k=1)[0][0, 0] == N
    assert not caplog.text and any(n.startswith(ATTACHMENT + "+") for n in copy.manifest.attachments)
    build_keyword_index(copy, "title")
    assert keyword_search(copy, "brand new title", k=1)[0][0, 0] == N
    # an old version keeps its own index
    old = vectree.open_collection(tmp_path / "c", version=col.version)
    assert keyword_search(old, word_query, k=1)[0][0, 0] == 7


def test_bad_text_search_input_is_refused(titled, arxiv_sample):
    col = vectree.open_collection(titled["root"])
    for kwargs, message in [
        ({"mode": "fuzzy"}, "mode must be one of"),
        ({"fusion": "max"}, "fusion must be"),
        ({"weight": 2}, "weight must be"),
        ({"k": 0}, "k must be"),
        ({"depth": 3}, "depth must be"),
    ]:
        with pytest.raises(InvalidInputError, match=message):
            search_text(col, "x", **kwargs)
    with pytest.raises(InvalidInputError, match="vectors must be"):
        search_text(col, ["a", "b"], mode="vector", vectors=np.zeros((1, 64)))
    bare = vectree.create_collection("memory://no-text", dim=2)
    bare.add([[1.0, 0.0]], ids=[1])
    with pytest.raises(InvalidInputError, match="has no metadata"):
        build_keyword_index(bare, "text")
    with pytest.raises(NotFoundError, match="no keyword index"):
        search_text(bare, "x", mode="keyword")
    with pytest.raises(NotFoundError, match="no stored embedder"):
        search_text(bare, "x", mode="vector")
