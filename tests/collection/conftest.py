"""Fixtures shared by the collection tests."""

import numpy as np
import pytest

import vectree


@pytest.fixture()
def arxiv_root(tmp_path, arxiv_sample):
    """A built cosine collection of 3,000 real arXiv vectors (ids 0, 7, 14...) in about 40 buckets; its path."""
    col = vectree.create_collection(tmp_path / "c", dim=384, metric="cosine", bucket_size=100)
    col.add(arxiv_sample["vectors"][:3000], ids=np.arange(3000) * 7)
    col.build()
    return tmp_path / "c"
