"""Values that used to be stored wrongly or fail with raw errors (issue 14, items 3 and 4) are refused
with an InvalidInputError naming the problem, and nothing is written."""

import os

import numpy as np
import pytest

import vectree
from vectree.errors import InvalidInputError


@pytest.fixture()
def col(tmp_path):
    c = vectree.create_collection(tmp_path / "c", dim=4)
    c.add(np.eye(4, dtype=np.float32), ids=[10, 11, 12, 13])
    return c


def _files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


BAD = [
    ("id -1 (search's 'no result')", {"ids": [5, -1]}, "id -1 is reserved"),
    ("ints mixed with strings", {"ids": [5, "a"]}, "mix of int and str"),
    ("bools as ids", {"ids": [True, False]}, "ints or all be strings, got bool"),
    ("float ids", {"ids": [1.5, 2.5]}, "ints or all be strings, got float"),
    ("complex vectors", {"vectors": np.ones((2, 4)) * (1 + 2j)}, "complex"),
    ("a dict as metadata", {"metadata": {"a": 1}}, "metadata must be a list .* got a dict"),
    ("a string as metadata", {"metadata": "ab"}, "metadata must be a list .* got a str"),
    ("non-dict metadata rows", {"metadata": ["x", None]}, "metadata row 0 is a str"),
]


@pytest.mark.parametrize("name,change,message", BAD, ids=[b[0] for b in BAD])
def test_bad_values_are_refused_and_write_nothing(col, tmp_path, name, change, message):
    before = _files(tmp_path / "c")
    args = {"vectors": np.full((2, 4), 3, np.float32), "ids": [5, 6], **change}
    with pytest.raises(InvalidInputError, match=message):
        col.add(**args)
    with pytest.raises(InvalidInputError, match=message):
        col.upsert(**args)
    assert _files(tmp_path / "c") == before
    assert len(vectree.open_collection(col.url)) == 4


def test_str_collection_refuses_int_strings_mix(tmp_path):
    c = vectree.create_collection(tmp_path / "s", dim=2)
    c.add(np.ones((1, 2)), ids=["a"])
    with pytest.raises(InvalidInputError, match="mix of int and str"):
        c.add(np.ones((2, 2)), ids=["b", 3])


def test_version_strings_attachment_text_and_empty_delete(col):
    for bad in ("abc", -1, 1.5, True):
        with pytest.raises(InvalidInputError, match="version must be a non-negative integer"):
            vectree.open_collection(col.url, version=bad)
    with pytest.raises(InvalidInputError, match="bytes, got str .*encode"):
        col.put_attachment("s", "text")
    with pytest.raises(InvalidInputError, match="nothing to delete"):
        col.delete([])
    assert col.version == 1 and len(col) == 4


def test_huge_k_is_capped_at_the_row_count(col):
    for k in (10**9, 2**62, np.int64(2**62)):
        res = col.search(np.eye(4, dtype=np.float32)[:1], k=k)
        assert res.ids.shape == (1, 4) and res.ids[0, 0] == 10
