"""Small real text for the embedder tests: the first arXiv abstracts of the shared data."""

from __future__ import annotations

import gzip
import json

import pytest


@pytest.fixture(scope="session")
def arxiv_rows(shared_data):
    """The first 400 arXiv records (title, abstract, primary_category...)."""
    with gzip.open(shared_data / "arxiv-abstracts.jsonl.gz", "rt") as f:
        return [json.loads(line) for _, line in zip(range(400), f)]


@pytest.fixture(scope="session")
def arxiv_texts(arxiv_rows):
    return [r["title"] + ". " + r["abstract"] for r in arxiv_rows]
