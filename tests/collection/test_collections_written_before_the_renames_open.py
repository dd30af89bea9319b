"""A collection written by the code before issue 15's renames (tests/data/collection-before-issue-15, made by
tests/data/make_collection_before_issue_15.py on that code) opens, answers as it did, and keeps working.

Its index stores the tree's node centers as ``centroid`` and its id map the bucket numbers as ``leaves``;
new files say ``node_centers`` and ``buckets``."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

import vectree
from vectree.index.idmap import KeyShard
from vectree.index.index import Index

DATA = Path(__file__).resolve().parents[1] / "data"
OLD = DATA / "collection-before-issue-15"


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "old"
    shutil.copytree(OLD, root)  # the shipped copy stays as written
    return root


def test_the_old_files_use_the_old_field_names():
    (index_file,) = (OLD / "index").iterdir()
    (shard_file,) = (OLD / "idmap").iterdir()
    assert "centroid" in np.load(index_file).files and "node_centers" not in np.load(index_file).files
    assert np.load(shard_file).files == ["keys", "leaves"]
    index = Index.from_bytes(index_file.read_bytes(), index_file.stem)
    assert index.tree.node_centers is not None and index.tree.node_centers.shape[1] == 16
    shard = KeyShard.from_bytes(shard_file.read_bytes(), shard_file.stem)
    assert len(shard.buckets) == len(shard.keys) == 600 and shard.buckets.max() < index.n_buckets


def test_an_old_collection_answers_as_it_did(tmp_path):
    expected = np.load(DATA / "collection-before-issue-15.expected.npz")
    col = vectree.open_collection(_copy(tmp_path))
    assert len(col) == 626 and col.verify().ok
    got = col.search(expected["queries"], k=5, probes=3)
    np.testing.assert_array_equal(np.asarray(got.ids).astype(str), expected["probe3_ids"])
    exact = col.search(expected["queries"], k=5, exact=True)
    np.testing.assert_array_equal(np.asarray(exact.ids).astype(str), expected["exact_ids"])
    # float32 sums in the order of this CPU's -march=native kernel, the file having been written on another one
    # (7.9e-6 relative seen on an AMD EPYC without AVX-512): float32 precision, not bit equality
    np.testing.assert_allclose(exact.distances, expected["exact_distances"], rtol=3e-5)
    assert col.get(["r5", "r600"]).labels.tolist() == [2, 0]
    assert col.get_attachment("note") == b"written before issue 15"


def test_an_old_collection_compacts_and_rebuilds_with_the_new_names(tmp_path):
    expected = np.load(DATA / "collection-before-issue-15.expected.npz")
    root = _copy(tmp_path)
    col = vectree.open_collection(root)
    col.compact()
    np.testing.assert_array_equal(
        np.asarray(col.search(expected["queries"], k=5, exact=True).ids).astype(str), expected["exact_ids"]
    )
    col.build()
    col = vectree.open_collection(root)
    assert col.verify().ok and len(col) == 626
    np.testing.assert_array_equal(
        np.asarray(col.search(expected["queries"], k=5, exact=True).ids).astype(str), expected["exact_ids"]
    )
    index_file = root / "index" / f"{col.manifest.index}.npz"
    assert "node_centers" in np.load(index_file).files and "centroid" not in np.load(index_file).files
    assert all(np.load(root / "idmap" / f"{fp}.npz").files == ["keys", "buckets"] for fp in col.manifest.idmap)
