"""A batch larger than PIECE_BYTES is validated and written in pieces: every row lands, in one commit, and a
bad row in a later piece is refused with its place named, leaving nothing stored."""

import numpy as np
import pytest

import vectree
from vectree.collection.validate import PIECE_BYTES
from vectree.errors import InvalidInputError

DIM = 96


def _files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_a_large_batch_lands_whole_in_one_version(tmp_path):
    n = PIECE_BYTES // (DIM * 4) * 2 + 123  # three pieces
    x = np.random.default_rng(0).normal(size=(n, DIM)).astype(np.float32)
    col = vectree.create_collection(str(tmp_path / "c"), dim=DIM)
    v = col.add(x, ids=np.arange(n) * 3, labels=[f"l{i % 5}" for i in range(n)])
    assert v == 1 and len(col) == n
    assert len(col.manifest.segments) >= 3
    got = col.search(x[[0, n // 2, n - 1]], k=1, exact=True)
    assert got.ids[:, 0].tolist() == [0, (n // 2) * 3, (n - 1) * 3]
    assert got.labels[:, 0].tolist() == ["l0", f"l{(n // 2) % 5}", f"l{(n - 1) % 5}"]


def test_a_bad_row_in_a_later_piece_is_named_and_nothing_is_stored(tmp_path):
    step = PIECE_BYTES // (DIM * 4)
    n = step * 2 + 10
    x = np.random.default_rng(1).normal(size=(n, DIM)).astype(np.float32)
    col = vectree.create_collection(str(tmp_path / "c"), dim=DIM)
    col.add(x[:5], ids=np.arange(5) + 10 * n)
    before = _files(tmp_path / "c")
    bad = x.copy()
    bad[step + 7, 3] = np.nan
    with pytest.raises(InvalidInputError, match=f"counted from row {step} of the batch"):
        col.add(bad, ids=np.arange(n))
    assert len(col) == 5 and col.manifest.version == 1
    assert _files(tmp_path / "c") == before  # the pieces written before the bad one are removed
    dup = np.arange(n)
    dup[-1] = 0  # a duplicate id across pieces
    with pytest.raises(InvalidInputError, match="duplicate ids"):
        col.add(x, ids=dup)
    assert len(col) == 5 and _files(tmp_path / "c") == before
