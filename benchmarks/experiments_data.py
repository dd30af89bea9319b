"""The experiments benchmark's rows on real arXiv embeddings: near duplicates through a collection against
the exact scan, a random against a time split, and the learning curve.
"""

from __future__ import annotations

import gzip
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.experiments_stats import row  # noqa: E402
from vectree.experiments.data import learning_curve, near_duplicate_pairs, random_split, time_split  # noqa: E402


def read_arxiv(data: Path, n: int) -> tuple[np.ndarray, list[dict]]:
    vec = np.load(data / "arxiv-abstracts-minilm.npy", mmap_mode="r")
    with gzip.open(data / "arxiv-abstracts.jsonl.gz", "rt") as f:
        meta = [json.loads(line) for line in itertools.islice(f, n)]
    return np.asarray(vec[:n], dtype=np.float32), meta


def near_duplicates(x: np.ndarray, meta: list[dict], threshold: float) -> tuple[list[dict], list[dict]]:
    t = time.perf_counter()
    approx = near_duplicate_pairs(x, threshold=threshold, probes=8)
    t_approx = time.perf_counter() - t
    t = time.perf_counter()
    exact = near_duplicate_pairs(x, threshold=threshold, exact=True)
    t_exact = time.perf_counter() - t
    found = set(zip(approx["i"], approx["j"]))
    truth = set(zip(exact["i"], exact["j"]))
    recall = len(found & truth) / len(truth) if truth else 1.0
    ds = f"arxiv-minilm first {len(x):,}"
    rows = [
        row(
            f"near duplicates, cosine distance <= {threshold}, probes=8",
            ds,
            pairs=len(found),
            pair_recall=recall,
            time_s=t_approx,
        ),
        row(f"near duplicates, cosine distance <= {threshold}, exact scan", ds, pairs=len(truth), time_s=t_exact),
    ]
    examples = [
        {
            "a": meta[i]["id"],
            "b": meta[j]["id"],
            "distance": float(d),
            "title_a": meta[i]["title"][:70],
            "title_b": meta[j]["title"][:70],
        }
        for i, j, d in exact.head(5).itertuples(index=False)
    ]
    return rows, examples


def splits_and_curve(x: np.ndarray, meta: list[dict], sizes: list[int], quick: bool):
    from sklearn.linear_model import RidgeClassifier
    from sklearn.metrics import balanced_accuracy_score

    cats = np.array([m["primary_category"] for m in meta])
    uniq, counts = np.unique(cats, return_counts=True)
    keep = np.isin(cats, uniq[counts >= max(50, len(cats) // 150)])
    x, cats, dates = x[keep], cats[keep], np.array([m["date"] for m in meta])[keep]
    model = RidgeClassifier(alpha=1.0)  # linear, closed form: seconds where logistic regression takes minutes here
    rows = []
    split_rows = {}
    for name, split in (
        ("random", random_split(len(x), (0.8, 0.2, 0.0), seed=0)),
        ("time", time_split(dates, (0.8, 0.2, 0.0))),
    ):
        t = time.perf_counter()
        fitted = RidgeClassifier(alpha=1.0).fit(x[split.train], cats[split.train])
        pred = fitted.predict(x[split.validation])
        acc = float((pred == cats[split.validation]).mean())
        bal = float(balanced_accuracy_score(cats[split.validation], pred))
        split_rows[name] = {"accuracy": round(acc, 4), "balanced_accuracy": round(bal, 4)}
        rows.append(
            row(
                f"ridge classifier, {name} split 80/20",
                f"arxiv-minilm {len(x):,} rows, {len(set(cats))} classes",
                validation_accuracy=acc,
                validation_balanced_accuracy=bal,
                train_rows=int(len(split.train)),
                fit_s=time.perf_counter() - t,
            )
        )
    ts = time_split(dates, (0.8, 0.2, 0.0))
    t = time.perf_counter()
    lc = learning_curve(
        model,
        x[ts.train],
        cats[ts.train],
        validation=(x[ts.validation], cats[ts.validation]),
        train_sizes=[s for s in sizes if s <= len(ts.train)],
        repeats=1,
    )
    for r in lc.rows():
        rows.append(
            row(
                f"learning curve (time split), n_train={r['n_train']}",
                f"arxiv-minilm {len(x):,} rows",
                validation_accuracy=r["val_mean"],
                train_accuracy=r["train_mean"],
            )
        )
    return rows, lc, time.perf_counter() - t, split_rows
