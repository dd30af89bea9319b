"""The classification benchmark's supervised systems on one dataset: vectree's k-NN classifier on each
embedder and probes setting, fastText, TF-IDF + logistic regression; one row per system and setting.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import peak_rss_mb  # noqa: E402
from vectree.apps.classify.classifier import DocumentClassifier  # noqa: E402
from vectree.apps.classify.evaluate import evaluate_probes, macro_f1  # noqa: E402
from vectree.embed import ConcatEmbedder, SentenceEncoder, StaticEmbedder, Word2VecEmbedder, tokenize  # noqa: E402

PROBES: list[int | str] = [1, 3, 5, 10, 20, "exact"]


# ---------------------------------------------------------------------------------------------- baselines
def fasttext_rows(ds: dict[str, Any], configs: list[tuple[str, dict[str, Any]]], workdir: str) -> list[dict]:
    import fasttext

    path = Path(workdir) / f"{ds['name']}-fasttext.txt"
    order = np.random.default_rng(0).permutation(len(ds["train_texts"]))  # fastText reads in file order: shuffle
    with open(path, "w") as f:
        for i in order:
            f.write(f"__label__{ds['train_labels'][i].replace(' ', '_')} {' '.join(tokenize(ds['train_texts'][i]))}\n")
    test = [" ".join(tokenize(t)) for t in ds["test_texts"]]
    rows = []
    for setting, params in configs:
        t0 = time.perf_counter()
        model = fasttext.train_supervised(str(path), thread=2, verbose=0, seed=1, **params)
        train_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        pred = [labs[0][len("__label__") :] for labs in model.predict(test)[0]]
        ms = 1000 * (time.perf_counter() - t0) / len(test)
        rows.append(result_row("fastText", setting, ds, pred, ms_per_doc=ms, train_s=train_s))
        print(f"   fastText {setting}: acc={rows[-1]['metrics']['accuracy']:.4f} train={train_s:.0f}s", flush=True)
    return rows


def tfidf_lr_row(ds: dict[str, Any]) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    t0 = time.perf_counter()
    vec = TfidfVectorizer(
        tokenizer=tokenize,
        token_pattern=None,
        lowercase=False,
        ngram_range=(1, 2),
        min_df=3,
        sublinear_tf=True,
        max_features=200_000,
    )
    x = vec.fit_transform(ds["train_texts"])
    model = LogisticRegression(C=10.0, max_iter=100).fit(x, ds["train_labels"])
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = model.predict(vec.transform(ds["test_texts"]))
    ms = 1000 * (time.perf_counter() - t0) / len(ds["test_texts"])
    row = result_row("tfidf+logreg", "uni+bigrams, C=10", ds, list(pred), ms_per_doc=ms, train_s=train_s)
    print(f"   tfidf+logreg: acc={row['metrics']['accuracy']:.4f} train={train_s:.0f}s", flush=True)
    return row


def result_row(system: str, setting: str, ds: dict, pred: list, **metrics: float) -> dict:
    y = np.asarray(ds["test_labels"], dtype=object)
    p = np.asarray(pred, dtype=object)
    return {
        "system": system,
        "setting": setting,
        "dataset": ds["name"],
        "metrics": {"accuracy": float(np.mean(p == y)), "macro_f1": macro_f1(y, p), **metrics},
    }


# ---------------------------------------------------------------------------------------------- vectree
def vectree_rows(
    ds: dict[str, Any],
    embedder: Any,
    label: str,
    workdir: str,
    *,
    n_neighbors: int,
    train_vectors: np.ndarray | None = None,
    test_vectors: np.ndarray | None = None,
    embed_s: float | None = None,
    fit_s: float = 0.0,
) -> list[dict]:
    """Fit a classifier (on texts, or on precomputed vectors) and score it at every probe setting."""
    url = str(Path(workdir) / f"{ds['name']}-{label}")
    clf = DocumentClassifier(
        embedder, collection=url, n_neighbors=n_neighbors, batch_size=2048, bucket_size=1000, head=None
    )
    t0 = time.perf_counter()
    if train_vectors is None:
        if isinstance(embedder, Word2VecEmbedder):
            embedder.fit(ds["train_texts"])
        train_vectors = embedder.encode(ds["train_texts"])
    clf.fit_embeddings(train_vectors, ds["train_labels"])
    train_s = time.perf_counter() - t0 + fit_s
    if test_vectors is None:
        t0 = time.perf_counter()
        test_vectors = embedder.encode(ds["test_texts"])
        embed_s = time.perf_counter() - t0
    evals = evaluate_probes(clf, test_vectors, ds["test_labels"], PROBES, embed_s=embed_s or 0.0)
    rows = []
    for e in evals:
        rows.append(
            {
                "system": f"vectree[{label}]",
                "setting": f"k={n_neighbors}, probes={e.probes}",
                "dataset": ds["name"],
                "metrics": {
                    "accuracy": e.accuracy,
                    "macro_f1": e.macro_f1,
                    "embed_ms_per_doc": e.embed_ms_per_doc,
                    "search_ms_per_doc": e.search_ms_per_doc,
                    "ms_per_doc": e.total_ms_per_doc,
                    "buckets": e.buckets,
                    "train_s": train_s,
                    "peak_rss_mb": peak_rss_mb(),
                },
            }
        )
        print(
            f"   vectree[{label}] probes={e.probes:>5}: acc={e.accuracy:.4f} f1={e.macro_f1:.4f} "
            f"embed={e.embed_ms_per_doc:.2f} search={e.search_ms_per_doc:.3f} ms/doc",
            flush=True,
        )
    return rows


def arxiv_minilm_rows(ds: dict[str, Any], quick: bool, workdir: str, k: int) -> list[dict]:
    """MiniLM on the precomputed vectors; the live encoder is timed on a sample of test texts."""
    minilm = SentenceEncoder()
    sample = ds["test_texts"][: 16 if quick else 64]
    minilm.encode(sample[:2])  # load the model outside the timing
    t0 = time.perf_counter()
    live = minilm.encode(sample)
    ds["minilm_embed_s"] = (time.perf_counter() - t0) * len(ds["test_texts"]) / len(sample)
    agree = float(np.mean(np.sum(live * ds["minilm_test"][: len(sample)], axis=1)))
    print(f"   live MiniLM vs precomputed vectors: mean cosine {agree:.4f} on {len(sample)} test texts", flush=True)
    return vectree_rows(
        ds,
        minilm,
        "minilm",
        workdir,
        n_neighbors=k,
        train_vectors=ds["minilm_train"],
        test_vectors=ds["minilm_test"],
        embed_s=ds["minilm_embed_s"],
    )


def arxiv_word2vec_rows(ds: dict[str, Any], quick: bool, workdir: str, k: int) -> list[dict]:
    """Skip-gram word2vec trained on the training months, alone and concatenated with MiniLM."""
    w2v = (
        Word2VecEmbedder(vector_size=50, sg=1, epochs=2) if quick else Word2VecEmbedder(vector_size=200, sg=1, epochs=5)
    )
    t0 = time.perf_counter()
    w2v.fit(ds["train_texts"])
    w2v_fit_s = time.perf_counter() - t0
    print(f"   word2vec skip-gram trained in {w2v_fit_s:.0f}s", flush=True)
    w_train = w2v.encode(ds["train_texts"])
    t0 = time.perf_counter()
    w_test = w2v.encode(ds["test_texts"])
    w2v_s = time.perf_counter() - t0
    rows = vectree_rows(
        ds,
        w2v,
        "word2vec-sg",
        workdir,
        n_neighbors=k,
        train_vectors=w_train,
        test_vectors=w_test,
        embed_s=w2v_s,
        fit_s=w2v_fit_s,
    )
    both = ConcatEmbedder([SentenceEncoder(), w2v])
    rows += vectree_rows(
        ds,
        both,
        "minilm+word2vec-sg",
        workdir,
        n_neighbors=k,
        train_vectors=both.combine([ds["minilm_train"], w_train]),
        test_vectors=both.combine([ds["minilm_test"], w_test]),
        embed_s=ds["minilm_embed_s"] + w2v_s,
        fit_s=w2v_fit_s,
    )
    return rows


# ---------------------------------------------------------------------------------------------- runs
def run_dataset(ds: dict[str, Any], quick: bool, workdir: str, save: Any = lambda rows: None) -> list[dict]:
    """Every system on one dataset; ``save(rows)`` is called after each system so partial runs leave results."""
    print(
        f"[classify] {ds['name']}: {len(ds['train_texts'])} train, {len(ds['test_texts'])} test ({ds['split']})",
        flush=True,
    )
    rows: list[dict] = []
    k = 20
    if ds["name"] == "arxiv":  # the precomputed MiniLM rows first: the headline numbers
        rows += arxiv_minilm_rows(ds, quick, workdir, k)
        save(rows)
    ft = [("defaults (epoch=5, lr=0.1)", {}), ("bigrams (wordNgrams=2)", {"wordNgrams": 2})]
    if not quick:
        ft.append(("bigrams, epoch=25, lr=0.5", {"wordNgrams": 2, "epoch": 25, "lr": 0.5}))
    for setting in ft:
        rows += fasttext_rows(ds, [setting], workdir)
        save(rows)
    rows += vectree_rows(ds, StaticEmbedder(), "static-64d", workdir, n_neighbors=k)
    save(rows)
    if ds["name"] == "arxiv":
        rows += arxiv_word2vec_rows(ds, quick, workdir, k)
        save(rows)
    else:
        w2v = Word2VecEmbedder(vector_size=50, epochs=2) if quick else Word2VecEmbedder(vector_size=200, epochs=5)
        rows += vectree_rows(ds, w2v, "word2vec-cbow", workdir, n_neighbors=k)
        save(rows)
    if ds["name"] == "movies" and not quick:  # short sentences: MiniLM encodes the whole set in a few minutes
        rows += vectree_rows(ds, SentenceEncoder(), "minilm", workdir, n_neighbors=k)
        save(rows)
    rows.append(tfidf_lr_row(ds))
    save(rows)
    return rows
