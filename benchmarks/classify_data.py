"""The classification benchmark's datasets: arXiv (time split, precomputed MiniLM vectors), 20 Newsgroups
and movie-review polarity (their standard splits), from ../shared/data (or $VECTREE_SHARED_DATA).
"""

from __future__ import annotations

import gzip
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


DATA = Path(os.environ.get("VECTREE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


# ---------------------------------------------------------------------------------------------- data
def load_arxiv(quick: bool) -> dict[str, Any]:
    with gzip.open(DATA / "arxiv-abstracts.jsonl.gz", "rt") as f:
        recs = [json.loads(line) for line in f]
    test_month = max(r["date"][:7] for r in recs)
    test = np.array([r["date"][:7] == test_month for r in recs])
    idx_tr, idx_te = np.flatnonzero(~test), np.flatnonzero(test)
    if quick:
        idx_tr, idx_te = idx_tr[-2000:], idx_te[:400]
    texts = [r["title"] + ". " + r["abstract"] for r in recs]
    labels = [r["primary_category"] for r in recs]
    minilm = np.load(DATA / "arxiv-abstracts-minilm.npy", mmap_mode="r")
    return {
        "name": "arxiv",
        "train_texts": [texts[i] for i in idx_tr],
        "train_labels": [labels[i] for i in idx_tr],
        "test_texts": [texts[i] for i in idx_te],
        "test_labels": [labels[i] for i in idx_te],
        "minilm_train": np.asarray(minilm[idx_tr], np.float32),
        "minilm_test": np.asarray(minilm[idx_te], np.float32),
        "split": f"train {recs[idx_tr[0]]['date']}..{recs[idx_tr[-1]]['date']}, test {test_month}",
    }


def load_split_file(name: str, file: str, quick: bool) -> dict[str, Any]:
    with gzip.open(DATA / file, "rt") as f:
        recs = [json.loads(line) for line in f]
    tr = [r for r in recs if r["split"] == "train"]
    te = [r for r in recs if r["split"] == "test"]
    if quick:
        rng = np.random.default_rng(0)
        tr = [tr[i] for i in rng.choice(len(tr), min(len(tr), 1000), replace=False)]
        te = [te[i] for i in rng.choice(len(te), min(len(te), 300), replace=False)]
    return {
        "name": name,
        "train_texts": [r["text"] for r in tr],
        "train_labels": [str(r["label"]) for r in tr],
        "test_texts": [r["text"] for r in te],
        "test_labels": [str(r["label"]) for r in te],
        "split": "standard",
    }


# ---------------------------------------------------------------------------------------------- cached vectors
CACHE = Path(os.environ.get("VECTREE_BENCH_CACHE", Path.home() / ".cache" / "vectree-bench"))


def minilm_vectors(ds: dict[str, Any], quick: bool = False) -> dict[str, Any]:
    """Add ``minilm_train``/``minilm_test`` to a 20ng/movies dataset: all-MiniLM-L6-v2 vectors of its full
    splits, computed once and cached outside the repo (``~/.cache/vectree-bench``); quick slices are encoded."""
    if "minilm_train" in ds:
        return ds
    from vectree.embed import SentenceEncoder

    for split in ("train", "test"):
        path = CACHE / f"classify-{ds['name']}-minilm-{split}.npy"
        texts = ds[f"{split}_texts"]
        if not quick and path.exists():
            vecs = np.load(path)
        else:
            print(f"   encoding {len(texts)} {ds['name']} {split} texts with MiniLM", flush=True)
            vecs = SentenceEncoder().encode(texts, show_progress=False)
            if not quick:
                CACHE.mkdir(parents=True, exist_ok=True)
                np.save(path, vecs.astype(np.float16))
        if len(vecs) != len(texts):
            raise SystemExit(f"{path} has {len(vecs)} rows for {len(texts)} texts: delete it")
        ds[f"minilm_{split}"] = np.asarray(vecs, np.float32)
    return ds
