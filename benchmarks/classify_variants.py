"""Issue 20's variants around the kNN vote: TF-IDF (LSA) vectors, combined encoders, a linear head mixed
with the vote, and zero-shot from class names.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.classify_systems import result_row  # noqa: E402
from vectree.apps.classify.classifier import DocumentClassifier  # noqa: E402

# ---------------------------------------------------------------------------------------------- variants
MOVIE_NAMES = {
    "0": ["a negative movie review", "the film was bad, boring and disappointing"],
    "1": ["a positive movie review", "the film was good, moving and enjoyable"],
}


def _variant(
    ds: dict,
    system: str,
    setting: str,
    clf: DocumentClassifier,
    train: np.ndarray,
    test: np.ndarray,
    fit_extra_s: float = 0.0,
) -> list[dict]:
    """Fit ``clf`` on vectors and score it (with its linear head, if any, at its chosen weight and at 0 and 1)."""
    t0 = time.perf_counter()
    clf.fit(train, ds["train_labels"])
    train_s = time.perf_counter() - t0 + fit_extra_s
    blends = [clf.blend_] if clf.head is None else sorted({0.0, clf.blend_, 1.0})
    rows = []
    chosen = clf.blend_
    for b in blends:
        clf.blend_ = b
        pred = clf.predict(test)
        tag = (
            ""
            if clf.head is None
            else (f", head weight {b:.2f}" + (" (chosen on held-out rows)" if b == chosen else ""))
        )
        rows.append(
            result_row(
                system,
                setting + tag,
                ds,
                list(pred),
                search_ms_per_doc=1000 * clf.timings_.search_s / len(test),
                train_s=train_s,
            )
        )
        print(f"   {system} {setting}{tag}: acc={rows[-1]['metrics']['accuracy']:.4f}", flush=True)
    clf.blend_ = chosen
    return rows


def run_variants(ds: dict[str, Any], quick: bool) -> list[dict]:
    """Issue 20's variants around the kNN: TF-IDF (LSA) document vectors, combined encoders, a linear head
    mixed with the vote; zero-shot from class names. Vectors only (the embedding costs are in the main rows)."""
    from vectree.embed import TfidfEmbedder

    rows: list[dict] = []
    k, probes = 20, 10
    if "minilm_train" in ds:  # the headline first: MiniLM with the linear head
        rows += _variant(
            ds,
            "vectree[minilm]",
            f"k={k}, probes={probes} + linear head",
            DocumentClassifier(n_neighbors=k, probes=probes, bucket_size=1000, head="logistic"),
            ds["minilm_train"],
            ds["minilm_test"],
        )
        if not quick:  # TF-IDF + SVD over 65k abstracts does not fit the shared CPU budget of this run
            return rows
    t0 = time.perf_counter()
    tfidf = TfidfEmbedder(dim=64 if quick else 256).fit(ds["train_texts"])
    tf_train, tf_test = tfidf.encode(ds["train_texts"]), tfidf.encode(ds["test_texts"])
    tf_s = time.perf_counter() - t0
    print(f"   TF-IDF-LSA fitted and encoded in {tf_s:.0f}s", flush=True)
    name = f"vectree[tfidf-lsa-{tfidf.dim}]"
    rows += _variant(
        ds,
        name,
        f"k={k}, probes={probes}",
        DocumentClassifier(n_neighbors=k, probes=probes, bucket_size=1000, head=None),
        tf_train,
        tf_test,
        tf_s,
    )
    rows += _variant(
        ds,
        name,
        f"k={k}, probes={probes} + linear head",
        DocumentClassifier(n_neighbors=k, probes=probes, bucket_size=1000, head="logistic"),
        tf_train,
        tf_test,
        tf_s,
    )
    if "minilm_train" in ds:
        m_train, m_test = ds["minilm_train"], ds["minilm_test"]
        both_train = np.hstack([m_train, tf_train]) / np.sqrt(2)
        both_test = np.hstack([m_test, tf_test]) / np.sqrt(2)
        rows += _variant(
            ds,
            f"vectree[minilm+tfidf-lsa-{tfidf.dim}]",
            f"k={k}, probes={probes} + linear head",
            DocumentClassifier(n_neighbors=k, probes=probes, bucket_size=1000, head="logistic"),
            both_train,
            both_test,
            tf_s,
        )
    return rows


def run_zeroshot_names(
    ds: dict[str, Any],
    names: dict[str, Any],
    template: str,
    encoder: Any,
    enc_name: str,
    test_vectors: np.ndarray | None = None,
) -> dict:
    """Zero-shot accuracy from class names/descriptions alone on a dataset's test split."""
    from vectree.apps.classify.zeroshot import ZeroShotClassifier

    t0 = time.perf_counter()
    zs = ZeroShotClassifier(encoder, names, template=template).fit()
    vecs = encoder.encode(ds["test_texts"]) if test_vectors is None else test_vectors
    pred = zs.predict_embeddings(vecs)
    row = result_row(
        f"vectree zero-shot [{enc_name}]",
        f"class descriptions, template {template!r}, no labels",
        ds,
        list(pred),
        seconds=time.perf_counter() - t0,
    )
    print(f"   zero-shot {enc_name} {ds['name']}: acc={row['metrics']['accuracy']:.4f}", flush=True)
    return row
