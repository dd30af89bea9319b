"""Where each id lives, through the tail's key table (carried from version to version as single rows are
added): the same answer as looking in every segment, across adds, upserts and deletes."""

from __future__ import annotations

import numpy as np

import vectree
from vectree.format.id_keys import id_keys


def _by_every_segment(snap, keys):
    """The lookup as it was: each segment in turn (the last holding a key wins), then tombstones."""
    where = np.full(len(keys), "", dtype="U64")
    for seg in snap.manifest.segments:
        where[np.isin(keys, snap.segment_keys(seg))] = seg.fingerprint
    for fp, dead in snap.tombstones.items():
        where[(where == fp) & np.isin(keys, dead)] = ""
    return where


def test_tail_lookup_matches_every_segment(tmp_path, arxiv_sample):
    x = arxiv_sample["vectors"][:80]
    col = vectree.create_collection(tmp_path / "c", dim=384, metric="cosine")
    keys = id_keys(np.arange(-2, 90))
    rng = np.random.default_rng(0)
    for step in range(60):
        i = int(rng.integers(0, 80))
        if step % 7 == 3:
            col.upsert(x[i : i + 1] + 0.01, ids=[i])  # the row moves to a newer segment
        elif step % 11 == 5 and len(col):
            col.delete([int(col.iter_batches(10).__next__()["ids"][0])])
        elif not (col._snap.locate(id_keys(np.array([i]))) != "").any():
            col.add(x[i : i + 1], ids=[i])
        carried = col._snap.locate(keys)
        fresh = vectree.open_collection(tmp_path / "c")._snap  # a new cache: the table made from scratch
        np.testing.assert_array_equal(carried, _by_every_segment(col._snap, keys))
        np.testing.assert_array_equal(fresh.locate(keys), carried)
    assert len(col._snap.manifest.segments) > 30 and col._snap.tombstones
