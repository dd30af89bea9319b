"""Every kind of bad input is refused with a message naming the problem, and the collection is unchanged."""

import numpy as np
import pytest

import vectree
from vectree.errors import InvalidInputError, NotFoundError


@pytest.fixture()
def col(tmp_path, arxiv_sample):
    c = vectree.create_collection(tmp_path / "c", dim=384, metric="cosine", bucket_size=300)
    c.add(arxiv_sample["vectors"][:600], ids=arxiv_sample["ids"][:600], labels=arxiv_sample["categories"][:600])
    c.build()
    return c


def _nan_rows(v):
    v = v.copy()
    v[3, 7] = np.nan
    return v


BAD_ADDS = [
    ("wrong dimension", lambda v: {"vectors": v[:, :100], "ids": ["a", "b"]}, "dimension 100 .* dim is 384"),
    ("NaN", lambda v: {"vectors": _nan_rows(v), "ids": list("abcd")}, "NaN or inf .* row 3"),
    ("inf", lambda v: {"vectors": np.full((2, 384), np.inf), "ids": ["a", "b"]}, "NaN or inf"),
    ("empty", lambda v: {"vectors": v[:0], "ids": []}, "empty"),
    ("1-d", lambda v: {"vectors": v[0], "ids": ["a"]}, r"shape \(n, 384\)"),
    ("duplicate ids in batch", lambda v: {"vectors": v[:2], "ids": ["x", "x"]}, "duplicate ids within the batch"),
    ("ids of the wrong type", lambda v: {"vectors": v[:2], "ids": [1, 2]}, "ids are strs"),
    ("too few ids", lambda v: {"vectors": v[:3], "ids": ["a"]}, "1 ids for 3 vectors"),
    ("too few labels", lambda v: {"vectors": v[:2], "ids": ["a", "b"], "labels": ["x"]}, "1 labels for 2"),
    ("mixed label types", lambda v: {"vectors": v[:2], "ids": ["a", "b"], "labels": ["x", 3]}, "labels must all be"),
    (
        "int labels into str labels",
        lambda v: {"vectors": v[:2], "ids": ["a", "b"], "labels": [1, 2]},
        "labels are strs",
    ),
    ("unserialisable metadata", lambda v: {"vectors": v[:1], "ids": ["a"], "metadata": [{"f": object()}]}, "not JSON"),
    ("zero vector under cosine", lambda v: {"vectors": np.zeros((1, 384)), "ids": ["a"]}, "all zeros"),
    ("text instead of numbers", lambda v: {"vectors": [["a"] * 384], "ids": ["a"]}, "numeric"),
]


@pytest.mark.parametrize("name,make,message", BAD_ADDS, ids=[b[0] for b in BAD_ADDS])
def test_bad_add_is_refused_and_changes_nothing(col, arxiv_sample, name, make, message):
    version, rows = col.version, len(col)
    with pytest.raises(InvalidInputError, match=message):
        col.add(**make(arxiv_sample["vectors"][1000:1004]))
    again = vectree.open_collection(col.url)
    assert again.version == version and len(again) == rows
    assert again.verify().ok


def test_duplicate_against_stored_ids_is_refused(col, arxiv_sample):
    with pytest.raises(InvalidInputError, match="already stored"):
        col.add(arxiv_sample["vectors"][1000:1002], ids=["fresh-id", arxiv_sample["ids"][5]])
    assert len(vectree.open_collection(col.url)) == 600


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"k": 0}, "k must be a positive integer"),
        ({"k": -3}, "k must be a positive integer"),
        ({"k": 2.5}, "k must be a positive integer"),
        ({"probes": 0}, "probes must be a positive integer"),
    ],
)
def test_bad_search_parameters_are_refused(col, arxiv_sample, kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        col.search(arxiv_sample["vectors"][:2], **kwargs)


def test_bad_queries_are_refused(col):
    with pytest.raises(InvalidInputError, match="dimension 3"):
        col.search(np.ones((2, 3)))
    with pytest.raises(InvalidInputError, match="NaN"):
        col.search(np.full((1, 384), np.nan))


def test_unknown_metric_and_bad_settings_are_refused(tmp_path):
    with pytest.raises(InvalidInputError, match="unknown metric 'hamming'"):
        vectree.create_collection(tmp_path / "m", dim=4, metric="hamming")
    with pytest.raises(InvalidInputError, match="dim must be a positive integer"):
        vectree.create_collection(tmp_path / "d", dim=0)
    with pytest.raises(InvalidInputError, match="bucket_size must be >= 1"):
        vectree.create_collection(tmp_path / "b", dim=4, bucket_size=0)
    with pytest.raises(InvalidInputError, match="unknown tree_rule"):
        vectree.create_collection(tmp_path / "t", dim=4, tree_rule="random")
    assert not (tmp_path / "m").exists()


def test_creating_over_an_existing_collection_is_refused(col):
    with pytest.raises(InvalidInputError, match="already exists"):
        vectree.create_collection(col.url.removeprefix("file://"), dim=384)


def test_opening_nothing_or_a_missing_version_is_a_clear_error(tmp_path, col):
    with pytest.raises(NotFoundError, match="no collection at"):
        vectree.open_collection(tmp_path / "nowhere")
    with pytest.raises(NotFoundError, match="version 99"):
        vectree.open_collection(col.url, version=99)


def test_building_an_empty_collection_is_refused(tmp_path):
    c = vectree.create_collection(tmp_path / "empty", dim=4)
    with pytest.raises(InvalidInputError, match="empty collection"):
        c.build()
