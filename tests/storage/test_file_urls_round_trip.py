"""A local collection reopens through its own ``url``, whatever characters its path holds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import vectree
from vectree.storage import open_store


@pytest.mark.parametrize("name", ["a+b", "with space", "per%cent", "ünï"])
def test_collection_reopens_through_its_url(tmp_path: Path, name: str) -> None:
    path = tmp_path / name / "col"
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((50, 8)).astype(np.float32)
    col = vectree.create_collection(str(path), dim=8)
    col.add(vectors)
    again = vectree.open_collection(col.url)
    assert again.url == col.url
    assert len(again) == 50
    assert again.search(vectors[:3], k=1, exact=True).ids[:, 0].tolist() == [0, 1, 2]
    assert open_store(col.url).url == col.url
