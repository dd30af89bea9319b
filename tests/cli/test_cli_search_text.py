"""`vectree keyword-index` and `vectree search-text` (vector, keyword, hybrid; --where), run as a user runs them,
on a collection of the shipped demo sample's titles."""

from __future__ import annotations

import json

import numpy as np
import pytest

import vectree
from tests.cli.test_cli_end_to_end import vt
from vectree.collection.keywords import keyword_search
from vectree.embed import StaticEmbedder, attach_embedder

N = 1500


@pytest.fixture(scope="module")
def demo(tmp_path_factory, arxiv_sample):
    """The demo sample's first 1,500 papers: titles embedded with the static encoder (stored with the collection)."""
    root = tmp_path_factory.mktemp("text") / "col"
    titles, cats, ids = arxiv_sample["titles"][:N], arxiv_sample["categories"][:N], arxiv_sample["ids"][:N]
    emb = StaticEmbedder()
    col = vectree.create_collection(root, dim=emb.dim, metric="cosine", bucket_size=100)
    col.add(emb.encode(titles), ids=ids, labels=cats, metadata=[{"title": t} for t in titles])
    col.build()
    attach_embedder(col, emb)
    assert "keyword index over title" in vt("keyword-index", root, "--field", "title").stdout
    return {"root": root, "titles": titles, "cats": dict(zip(ids, cats)), "ids": ids, "emb": emb}


def _results(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("mode", ["keyword", "vector", "hybrid"])
def test_each_mode_finds_papers_by_their_titles(demo, tmp_path, mode):
    picks = [10, 400, 1234]
    out = tmp_path / "r.jsonl"
    args = [demo["titles"][i] for i in picks]
    vt("search-text", demo["root"], *args, "--mode", mode, "--k", 5, "--output", out)
    rows = _results(out)
    assert [r["text"] for r in rows] == args and all(r["mode"] == mode for r in rows)
    assert [r["ids"][0] for r in rows] == [demo["ids"][i] for i in picks]
    assert all(len(r["ids"]) == 5 and r["scores"] == sorted(r["scores"], reverse=True) for r in rows)


def test_where_keeps_only_matching_rows_and_is_the_exact_filtered_ranking(demo, tmp_path):
    label = demo["cats"][demo["ids"][0]]
    texts = tmp_path / "q.txt"
    texts.write_text("neural networks\nlanguage models for reasoning\n")
    for mode in ("keyword", "vector", "hybrid"):
        out = tmp_path / f"{mode}.jsonl"
        where = json.dumps({"label": label})
        vt("search-text", demo["root"], "--texts-file", texts, "--mode", mode, "--where", where, "--output", out)
        rows = _results(out)
        assert len(rows) == 2 and all(r["ids"] for r in rows)
        assert all(demo["cats"][i] == label for r in rows for i in r["ids"]), mode
    # keyword + where: the unfiltered BM25 ranking, read to the end, restricted to the label's rows
    col = vectree.open_collection(demo["root"])
    for r in _results(tmp_path / "keyword.jsonl"):
        every, scores = keyword_search(col, r["text"], k=N)
        expected = [i for i in every[0] if i is not None and demo["cats"][i] == label][:10]
        assert r["ids"] == expected


def test_query_vectors_and_the_table_and_bad_input(demo, tmp_path):
    np.save(tmp_path / "v.npy", demo["emb"].encode([demo["titles"][7]]))
    out = tmp_path / "v.jsonl"
    vt(
        "search-text",
        demo["root"],
        demo["titles"][7],
        "--mode",
        "vector",
        "--vectors",
        tmp_path / "v.npy",
        "--output",
        out,
    )
    assert _results(out)[0]["ids"][0] == demo["ids"][7]
    table = vt("search-text", demo["root"], "graph neural networks", "--mode", "keyword", "--k", 3).stdout
    assert "score (keyword)" in table and table.count("\n") > 4
    bad = vt("search-text", demo["root"], "x", "--mode", "fuzzy", check=False)
    assert bad.returncode == 2 and "mode must be one of" in bad.stderr
    bad = vt("search-text", demo["root"], "x", "--where", "{label:", check=False)
    assert bad.returncode == 2 and "--where is not valid JSON" in bad.stderr
    bad = vt("search-text", demo["root"], "x", "--where", '{"nope": 1}', check=False)
    assert bad.returncode == 2 and "unknown filter field" in bad.stderr
    none = vt("search-text", demo["root"], check=False)
    assert none.returncode == 2 and "one or more query texts" in none.stderr
