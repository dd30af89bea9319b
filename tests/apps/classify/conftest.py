"""Fixtures of the classifier tests, small real labelled text: 20 Newsgroups (4 groups), precomputed arXiv vectors."""

from __future__ import annotations

import gzip
import json
import random

import numpy as np
import pytest

GROUPS = ("comp.graphics", "rec.sport.hockey", "sci.space", "talk.religion.misc")
ARXIV_CLASSES = ("cs.CV", "cs.CL", "astro-ph.GA")


@pytest.fixture(scope="session")
def newsgroups(shared_data):
    """600 train and 200 test posts of four newsgroups (random, seeded), as {"train": [...], "test": [...]}."""
    with gzip.open(shared_data / "20newsgroups-bydate.jsonl.gz", "rt") as f:
        rows = [r for r in map(json.loads, f) if r["label"] in GROUPS]
    rng = random.Random(0)
    out = {}
    for split, n in (("train", 600), ("test", 200)):
        out[split] = rng.sample([r for r in rows if r["split"] == split], n)
    return out


@pytest.fixture(scope="session")
def arxiv_vectors(shared_data):
    """3000 precomputed MiniLM rows of three arXiv categories (1000 each, shuffled), their labels and texts."""
    recs, keep, count = [], [], dict.fromkeys(ARXIV_CLASSES, 0)
    with gzip.open(shared_data / "arxiv-abstracts.jsonl.gz", "rt") as f:
        for i, line in enumerate(f):
            r = json.loads(line)
            recs.append(r)
            if count.get(r["primary_category"], 1000) < 1000:
                count[r["primary_category"]] += 1
                keep.append(i)
            if min(count.values()) >= 1000:
                break
    keep = sorted(keep, key=lambda i: random.Random(i).random())
    vectors = np.load(shared_data / "arxiv-abstracts-minilm.npy", mmap_mode="r")
    return {
        "vectors": np.asarray(vectors[keep], dtype=np.float32),
        "labels": [recs[i]["primary_category"] for i in keep],
        "texts": [recs[i]["title"] + ". " + recs[i]["abstract"] for i in keep],
    }
