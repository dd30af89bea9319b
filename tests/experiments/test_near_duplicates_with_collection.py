"""Near duplicates are found with a vectree collection: injected copies, and a real re-posted arXiv paper."""

import gzip
import itertools
import json

import numpy as np
import pandas as pd
import pytest

from vectree.experiments.data import (
    LeakageError,
    check_near_duplicate_leakage,
    drop_near_duplicates,
    near_duplicate_pairs,
    near_duplicates_between,
    random_split,
)


def _vectors(n=1500, dim=24, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim)).astype(np.float32)
    x[1000:1080] = x[:80] + rng.normal(scale=0.01, size=(80, dim))  # 80 near copies of the first rows
    x[1080:1085] = x[5]  # a cluster: row 5 and five exact copies
    return x


def test_injected_near_duplicates_are_dropped():
    x = _vectors()
    table = pd.DataFrame({"row": np.arange(len(x))})
    kept, kept_x, report = drop_near_duplicates(table, x, threshold=0.01, exact=True)
    removed = set(range(len(x))) - set(kept["row"])
    assert removed == set(range(1000, 1085))
    assert len(kept_x) == len(kept) == len(x) - 85
    step = report.steps[0]
    assert step.rows_removed == 85 and step.units_removed == 80  # 80 clusters (row 5's holds six rows)
    assert "1000~0" in report.to_markdown()
    approx = near_duplicate_pairs(x, threshold=0.01, probes=8)
    exact = near_duplicate_pairs(x, threshold=0.01, exact=True)
    found = set(zip(approx["i"], approx["j"])) & set(zip(exact["i"], exact["j"]))
    assert len(found) >= 0.95 * len(exact)


def test_near_duplicate_leakage_is_loud():
    x = _vectors()
    split = random_split(len(x), seed=0)
    with pytest.raises(LeakageError, match="near duplicates of training rows"):
        check_near_duplicate_leakage(split, x, threshold=0.01, exact=True)
    clean = np.random.default_rng(1).normal(size=(300, 24)).astype(np.float32)
    assert check_near_duplicate_leakage(random_split(300, seed=0), clean, threshold=0.01) == 0
    hits = near_duplicates_between(x[1000:1010], x[:500], threshold=0.01, exact=True)
    assert hits["base"].tolist() == list(range(10))


def test_real_reposted_arxiv_paper_is_found(shared_data):
    vec = np.load(shared_data / "arxiv-abstracts-minilm.npy", mmap_mode="r")
    x = np.asarray(vec[:2000], dtype=np.float32)
    pairs = near_duplicate_pairs(x, threshold=0.02, probes=8)
    assert len(pairs) >= 1
    with gzip.open(shared_data / "arxiv-abstracts.jsonl.gz", "rt") as f:
        rows = [json.loads(line) for line in itertools.islice(f, 2000)]
    for i, j in zip(pairs["i"], pairs["j"]):
        a, b = rows[i]["title"].lower(), rows[j]["title"].lower()
        assert rows[i]["id"] != rows[j]["id"] and a[:30] == b[:30]  # the same paper under two arXiv ids
