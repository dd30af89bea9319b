"""The classification benchmark's zero-shot rows on arXiv: label propagation over the kNN graph of a
partly labelled collection, and class descriptions alone.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vectree.apps.classify.classifier import DocumentClassifier  # noqa: E402
from vectree.apps.classify.evaluate import macro_f1  # noqa: E402
from vectree.embed import SentenceEncoder  # noqa: E402

# ---------------------------------------------------------------------------------------------- zero-shot
ARXIV_NAMES = {  # arXiv's own category names (its public taxonomy), used as class descriptions
    "cs.CV": "Computer Vision and Pattern Recognition",
    "cs.CL": "Computation and Language (natural language processing)",
    "cs.AI": "Artificial Intelligence",
    "cs.LG": "Machine Learning",
    "cs.GR": "Computer Graphics",
    "cs.IT": "Information Theory",
    "cs.RO": "Robotics",
    "cs.GT": "Computer Science and Game Theory",
    "cs.CE": "Computational Engineering, Finance, and Science",
    "cs.HC": "Human-Computer Interaction",
    "cs.IR": "Information Retrieval",
    "cs.SD": "Sound and audio processing",
    "cs.CR": "Cryptography and Security",
    "cs.CY": "Computers and Society",
    "eess.IV": "Image and Video Processing",
    "eess.SY": "Systems and Control",
    "astro-ph.GA": "Astrophysics of Galaxies",
    "astro-ph.CO": "Cosmology and Nongalactic Astrophysics",
    "astro-ph.IM": "Instrumentation and Methods for Astrophysics",
    "astro-ph.HE": "High Energy Astrophysical Phenomena",
    "astro-ph.SR": "Solar and Stellar Astrophysics",
    "astro-ph.EP": "Earth and Planetary Astrophysics",
    "gr-qc": "General Relativity and Quantum Cosmology",
    "hep-ph": "High Energy Physics - Phenomenology",
    "hep-th": "High Energy Physics - Theory",
}


def run_zeroshot(ds: dict[str, Any], quick: bool) -> list[dict]:
    """Accuracy on the test month against the fraction of training rows labelled (MiniLM vectors)."""
    import vectree
    from vectree.apps.classify.zeroshot import ZeroShotClassifier, propagate_labels

    print(
        f"[classify] zero-shot on arxiv: {len(ds['train_labels'])} train rows, {len(ds['test_labels'])} test rows",
        flush=True,
    )
    x = np.concatenate([ds["minilm_train"], ds["minilm_test"]])
    n_train = len(ds["train_labels"])
    y_test = np.asarray(ds["test_labels"], dtype=object)
    rng = np.random.default_rng(0)
    rows = []
    for frac in (0.01, 0.05, 0.10):
        known = np.flatnonzero(rng.random(n_train) < frac)
        labels: list[Any] = [None] * len(x)
        for i in known:
            labels[i] = ds["train_labels"][i]
        t0 = time.perf_counter()
        col = vectree.create_collection(f"memory://zeroshot-{frac}", dim=x.shape[1], metric="cosine", bucket_size=1000)
        col.add(x, ids=np.arange(len(x)), labels=labels)
        col.build()
        res = propagate_labels(col, n_neighbors=20, probes=10)
        pred = res.labels[np.argsort(res.ids)][n_train:]
        secs = time.perf_counter() - t0
        rows.append(
            {
                "system": "vectree label propagation",
                "setting": f"{frac:.0%} labelled, k=20, probes=10",
                "dataset": "arxiv",
                "metrics": {
                    "fraction_labelled": frac,
                    "labelled_rows": int(len(known)),
                    "accuracy": float(np.mean(pred == y_test)),
                    "macro_f1": macro_f1(y_test, pred),
                    "seconds": secs,
                },
            }
        )
        t0 = time.perf_counter()
        clf = DocumentClassifier(None, n_neighbors=10, probes=10).fit_embeddings(x[known], [labels[i] for i in known])
        pred = clf.predict_embeddings(ds["minilm_test"])
        rows.append(
            {
                "system": "vectree kNN on labelled rows",
                "setting": f"{frac:.0%} labelled, k=10, probes=10",
                "dataset": "arxiv",
                "metrics": {
                    "fraction_labelled": frac,
                    "labelled_rows": int(len(known)),
                    "accuracy": float(np.mean(pred.astype(object) == y_test)),
                    "macro_f1": macro_f1(y_test, pred),
                    "seconds": time.perf_counter() - t0,
                },
            }
        )
        for r in rows[-2:]:
            print(f"   {r['system']} {r['setting']}: acc={r['metrics']['accuracy']:.4f}", flush=True)
    t0 = time.perf_counter()
    zs = ZeroShotClassifier(SentenceEncoder(), ARXIV_NAMES, template="An arXiv paper in {}.").fit()
    pred = zs.predict_embeddings(ds["minilm_test"])
    covered = float(np.mean([y in ARXIV_NAMES for y in y_test]))
    rows.append(
        {
            "system": "vectree zero-shot (class names)",
            "setting": f"{len(ARXIV_NAMES)} arXiv category names, no labels",
            "dataset": "arxiv",
            "metrics": {
                "fraction_labelled": 0.0,
                "labelled_rows": 0,
                "accuracy": float(np.mean(pred == y_test)),
                "macro_f1": macro_f1(y_test, pred),
                "test_rows_in_named_classes": covered,
                "seconds": time.perf_counter() - t0,
            },
        }
    )
    print(f"   zero-shot class names: acc={rows[-1]['metrics']['accuracy']:.4f}", flush=True)
    return rows
