"""Keyword, vector and hybrid text search on a known-item task: an arXiv title -> its own abstract.

    python benchmarks/hybrid.py            # 72,000 abstracts, 2,000 sampled titles as queries
    python benchmarks/hybrid.py --quick    # 2,000 abstracts, 100 titles, about a minute

Relevance: each query (a paper's title) has exactly one relevant row, its own paper. MRR@10 and
recall@10 (= hit rate at 10) against that row. Documents are the abstracts: the keyword index holds
the abstract only (the title is not in it). The vectors are the precomputed all-MiniLM-L6-v2
embeddings of the shared data, which embed *title + ". " + abstract*: the vector side has seen
the title, so it is favoured (re-embedding 72k abstracts alone costs ~1 h here). The queries are
embedded here with the same model (a bounded sample of titles, as embedding all 72k takes ~1 h).

Part 1 compares the two BM25 libraries on the same documents and queries (single thread):
bm25s (sparse matrices, PyStemmer) and tantivy (Rust engine, en_stem). Part 2 runs vectree's
search_text in each mode over one collection (keyword index = tantivy, stored with the collection).
Writes benchmarks/results/hybrid[-quick].{json,md}.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import vectree  # noqa: E402
from benchmarks.common import arguments, named, write_results  # noqa: E402
from benchmarks.datasets import SHARED  # noqa: E402
from vectree.collection.keywords import build_keyword_index  # noqa: E402
from vectree.embed import SentenceEncoder, attach_embedder, search_text  # noqa: E402


def load(n: int) -> tuple[list[dict], np.ndarray]:
    rows = []
    with gzip.open(SHARED / "arxiv-abstracts.jsonl.gz", "rt") as f:
        for _, line in zip(range(n), f):
            rows.append(json.loads(line))
    vectors = np.load(SHARED / "arxiv-abstracts-minilm.npy", mmap_mode="r")[:n].astype(np.float32)
    return rows, vectors


def quality(found: list, truth: np.ndarray) -> dict:
    rr, hit = [], []
    for row, t in zip(found, truth):
        row = list(row)[:10]
        rank = row.index(t) + 1 if t in row else 0
        rr.append(1.0 / rank if rank else 0.0)
        hit.append(bool(rank))
    return {"mrr_at_10": round(float(np.mean(rr)), 4), "recall_at_10": round(float(np.mean(hit)), 4)}


def bm25s_row(docs: list[str], queries: list[str], truth: np.ndarray) -> dict:
    import bm25s
    import Stemmer

    stem = Stemmer.Stemmer("english")
    t = time.perf_counter()
    index = bm25s.BM25()
    index.index(bm25s.tokenize(docs, stopwords="en", stemmer=stem, show_progress=False), show_progress=False)
    build = time.perf_counter() - t
    t = time.perf_counter()
    found, _ = index.retrieve(
        bm25s.tokenize(queries, stopwords="en", stemmer=stem, show_progress=False),
        k=10,
        show_progress=False,
        n_threads=1,
    )
    qs = time.perf_counter() - t
    return {
        "system": "bm25s",
        "setting": "BM25, en stopwords + Snowball stemmer",
        "metrics": {**quality(found.tolist(), truth), "build_s": round(build, 2), "qps": round(len(queries) / qs, 1)},
    }


def tantivy_row(docs: list[str], queries: list[str], truth: np.ndarray) -> dict:
    import re

    import tantivy

    sb = tantivy.SchemaBuilder()
    sb.add_text_field("body", stored=False, tokenizer_name="en_stem")
    sb.add_integer_field("row", stored=True, indexed=False, fast=True)
    tmp = tempfile.mkdtemp(prefix="bench-tantivy-")
    try:
        t = time.perf_counter()
        index = tantivy.Index(sb.build(), path=tmp)
        writer = index.writer(heap_size=128 << 20, num_threads=1)
        for i, d in enumerate(docs):
            writer.add_document(tantivy.Document(body=d, row=i))
        writer.commit()
        writer.wait_merging_threads()
        index.reload()
        build = time.perf_counter() - t
        searcher = index.searcher()
        t = time.perf_counter()
        found = []
        for q in queries:
            hits = searcher.search(index.parse_query(re.sub(r"[^\w]+", " ", q).strip(), ["body"]), 10).hits
            found.append([searcher.doc(a)["row"][0] for _, a in hits])
        qs = time.perf_counter() - t
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "system": "tantivy",
        "setting": "BM25, en_stem tokenizer",
        "metrics": {**quality(found, truth), "build_s": round(build, 2), "qps": round(len(queries) / qs, 1)},
    }


def vectree_rows(
    rows: list[dict], vectors: np.ndarray, queries: list[str], truth: np.ndarray, root: Path
) -> tuple[list[dict], dict]:
    t = time.perf_counter()
    col = vectree.create_collection(root / "c", dim=vectors.shape[1], metric="cosine")
    col.add(
        vectors,
        ids=np.arange(len(rows)),
        labels=[r["primary_category"] for r in rows],
        metadata=[{"abstract": r["abstract"]} for r in rows],
    )
    col.build()
    build_vec = time.perf_counter() - t
    encoder = SentenceEncoder()
    attach_embedder(col, encoder)
    t = time.perf_counter()
    build_keyword_index(col, "abstract")
    build_kw = time.perf_counter() - t
    t = time.perf_counter()
    qv = encoder.encode(queries)
    embed_s = time.perf_counter() - t
    info = {
        "rows": len(rows),
        "queries": len(queries),
        "vector_build_s": round(build_vec, 1),
        "keyword_build_s": round(build_kw, 1),
        "query_embed_ms_per_query": round(1000 * embed_s / len(queries), 2),
        "keyword_index_mib": round(len(col.get_attachment("keyword_index")) / 2**20, 1),
    }
    # the stored-embedder path gives the same answers as passing the embedded queries
    few = search_text(col, queries[:20], k=10, mode="vector")
    same = search_text(col, queries[:20], k=10, mode="vector", vectors=qv[:20])
    info["stored_embedder_matches"] = bool((few.ids == same.ids).all())
    settings = [
        ("keyword", {}),
        ("vector", {"probes": 8}),
        ("vector", {"probes": 32}),
        ("hybrid", {"fusion": "rrf", "probes": 8}),
        ("hybrid", {"fusion": "rrf", "probes": 32}),
        ("hybrid", {"fusion": "rrf", "weight": 0.3, "probes": 32}),
        ("hybrid", {"fusion": "rrf", "weight": 0.7, "probes": 32}),
        ("hybrid", {"fusion": "linear", "weight": 0.5, "probes": 32}),
        ("hybrid", {"fusion": "linear", "weight": 0.7, "probes": 32}),
    ]
    out = []
    for mode, kw in settings:
        search_text(col, queries[:10], k=10, mode=mode, vectors=qv[:10], **kw)  # warm the cache
        t = time.perf_counter()
        res = search_text(col, queries, k=10, mode=mode, vectors=qv, **kw)
        qs = time.perf_counter() - t
        name = mode + "".join(f" {k}={v}" for k, v in kw.items())
        out.append(
            {
                "system": "vectree search_text",
                "setting": name,
                "dataset": "arxiv-title-to-abstract",
                "metrics": {**quality(res.ids.tolist(), truth), "qps": round(len(queries) / qs, 1)},
            }
        )
        print(f"{name:>40}: {out[-1]['metrics']}", file=sys.stderr, flush=True)
    return out, info


def write_markdown(path: Path, command: str, libs: list[dict], rows: list[dict], info: dict) -> None:
    lines = [
        f"# Hybrid search: arXiv title -> its own abstract ({info['rows']:,} abstracts, {info['queries']:,} sampled "
        "titles)",
        "",
        f"`{command}`",
        "",
        "One relevant row per query (the paper itself). The keyword index holds the abstract only; the vectors are the",
        "shared all-MiniLM-L6-v2 embeddings of title + abstract, so the vector side has seen the title (it is "
        "favoured).",
        f"Queries embedded here with the same model: {info['query_embed_ms_per_query']} ms per title (not in the "
        "QPS below).",
        "",
        "## BM25 libraries, same documents and queries, one thread",
        "",
        "| library | MRR@10 | recall@10 | build s | QPS |",
        "|---|---|---|---|---|",
    ]
    for r in libs:
        m = r["metrics"]
        lines.append(
            f"| {r['system']} ({r['setting']}) | {m['mrr_at_10']:.4f} | {m['recall_at_10']:.4f} | {m['build_s']} | "
            f"{m['qps']} |"
        )
    if len(libs) == 2:
        a, b = libs[1]["metrics"], libs[0]["metrics"]
        lines += [
            "",
            f"tantivy / bm25s: build {b['build_s'] / a['build_s']:.2f}x faster, QPS {a['qps'] / b['qps']:.2f}x, "
            f"MRR@10 {a['mrr_at_10'] - b['mrr_at_10']:+.4f}.",
        ]
    lines += [
        "",
        "## vectree search_text (keyword index: tantivy, stored with the collection)",
        "",
        "| mode | MRR@10 | recall@10 | QPS | MRR vs keyword |",
        "|---|---|---|---|---|",
    ]
    kw = next(r["metrics"]["mrr_at_10"] for r in rows if r["setting"] == "keyword")
    for r in rows:
        m = r["metrics"]
        lines.append(
            f"| {r['setting']} | {m['mrr_at_10']:.4f} | {m['recall_at_10']:.4f} | {m['qps']} | "
            f"{m['mrr_at_10'] / kw:.3f} |"
        )
    lines += [
        "",
        f"Collection build {info['vector_build_s']} s, keyword index build {info['keyword_build_s']} s "
        f"({info['keyword_index_mib']} MiB attachment). Stored-embedder path matches: "
        f"{info['stored_embedder_matches']}.",
        "",
    ]
    path.write_text("\n".join(lines))


def main() -> None:
    p = arguments(__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=None)
    p.add_argument("--queries", type=int, default=None)
    args = p.parse_args()
    n = args.rows or (2000 if args.quick else 72_000)
    nq = args.queries or (100 if args.quick else 2000)
    rows, vectors = load(n)
    truth = np.random.default_rng(0).choice(len(rows), nq, replace=False)
    queries = [rows[i]["title"] for i in truth]
    docs = [r["abstract"] for r in rows]
    libs = [bm25s_row(docs, queries, truth), tantivy_row(docs, queries, truth)]
    for r in libs:
        r["dataset"] = "arxiv-title-to-abstract"
        print(r, file=sys.stderr, flush=True)
    root = Path(tempfile.mkdtemp(prefix="vectree-hybrid-"))
    try:
        out, info = vectree_rows(rows, vectors, queries, truth, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    name, command = named("hybrid", args.quick)
    write_results(name, command, 1, libs + out, {"info": info}, args.out)
    write_markdown(args.out / f"{name}.md", command, libs, out, info)
    print(f"wrote {args.out / name}.{{json,md}}", file=sys.stderr)


if __name__ == "__main__":
    main()
