"""Cleanup deletes old versions and unreferenced objects (old enough), not what a kept version needs; tags pin
versions."""

import os
import time

import numpy as np
import pytest

import vectree
from vectree.collection.manifest import list_versions
from vectree.collection.rows import write_segments
from vectree.errors import InvalidInputError, NotFoundError
from vectree.format.bucket import Rows


def _data_objects(store):
    return [k for k in store.list("") if not k.startswith(("manifests/", "tags/", "_latest", "_expired"))]


def _age_everything(root, seconds):
    """Pretend every file under ``root`` was written ``seconds`` ago (the store's clock is the file mtime)."""
    past = time.time() - seconds
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            os.utime(os.path.join(dirpath, name), (past, past))


def _history(tmp_path, x, ids):
    col = vectree.create_collection(tmp_path / "c", dim=384, metric="cosine", bucket_size=100)
    col.add(x[:600], ids=ids[:600])  # 1
    col.build()  # 2
    col.add(x[600:700], ids=ids[600:700])  # 3
    col.delete(ids[:50])  # 4
    col.compact()  # 5: rewrites the touched buckets
    col.add(x[700:800], ids=ids[700:800])  # 6
    return col


def test_cleanup_keeps_the_newest_and_tagged_versions_and_what_they_reference(tmp_path, arxiv_sample):
    x, ids = arxiv_sample["vectors"], arxiv_sample["ids"]
    col = _history(tmp_path, x, ids)
    col.tag("v2", 2)
    before_v2 = vectree.open_collection(col.url, tag="v2").search(x[:20], k=5, exact=True)
    before_now = col.search(x[:20], k=5, probes=6)
    objects_before = set(_data_objects(col.store))
    _age_everything(tmp_path / "c", 3600)

    report = col.cleanup(older_than="30m", keep_versions=1, grace="10m")
    assert report.versions_deleted == [0, 1, 3, 4, 5]
    assert report.versions_kept == [2, 6] == list_versions(col.store)
    assert report.objects_deleted > 0 and report.bytes_deleted > 0
    objects_after = set(_data_objects(col.store))
    assert len(objects_before) - len(objects_after) == report.objects_deleted
    # the kept versions are whole and answer exactly as before
    assert col.verify(all_versions=True).ok
    after_v2 = vectree.open_collection(col.url, tag="v2").search(x[:20], k=5, exact=True)
    np.testing.assert_array_equal(after_v2.ids, before_v2.ids)
    np.testing.assert_array_equal(vectree.open_collection(col.url).search(x[:20], k=5, probes=6).ids, before_now.ids)
    with pytest.raises(NotFoundError, match="version 4"):
        vectree.open_collection(col.url, version=4)
    # nothing left to do: a second cleanup deletes nothing
    again = col.cleanup(older_than=0, grace=0)
    assert again.versions_deleted == [] and again.objects_deleted == 0
    # the collection still takes writes after the cleanup
    v = col.add(x[800:810], ids=ids[800:810])
    assert v == 7 and len(vectree.open_collection(col.url)) == 760


def test_keep_versions_and_older_than_bound_what_goes(tmp_path, arxiv_sample):
    x, ids = arxiv_sample["vectors"], arxiv_sample["ids"]
    col = _history(tmp_path, x, ids)
    _age_everything(tmp_path / "c", 3600)
    assert col.cleanup(older_than="2h", grace=0).versions_deleted == []  # nothing is 2 h old
    report = col.cleanup(older_than="30m", keep_versions=3, grace=0)
    assert report.versions_kept == [4, 5, 6]
    assert col.verify(all_versions=True).ok


def test_orphans_of_a_crashed_writer_go_once_older_than_the_grace_period(tmp_path, arxiv_sample):
    x = arxiv_sample["vectors"]
    col = vectree.create_collection(tmp_path / "c", dim=384, metric="cosine")
    col.add(x[:10], ids=np.arange(10))
    # a writer that wrote its segment and keys, then died before committing
    orphan = write_segments(col.store, Rows(ids=np.arange(10, 20), vectors=x[10:20], labels=None, metadata=None), None)
    orphan_keys = set(orphan[0].objects)  # the segment and its key list
    assert orphan_keys <= set(col.store.list(""))
    young = col.cleanup(older_than=0, grace="1h")
    assert young.objects_deleted == 0 and young.young_unreferenced == 2  # might be about to be committed
    _age_everything(tmp_path / "c", 7200)
    old = col.cleanup(older_than=0, grace="1h")
    assert old.objects_deleted == 2 and not orphan_keys & set(col.store.list(""))
    assert len(vectree.open_collection(col.url)) == 10 and col.verify().ok


def test_dry_run_reports_and_deletes_nothing(tmp_path, arxiv_sample):
    x, ids = arxiv_sample["vectors"], arxiv_sample["ids"]
    col = _history(tmp_path, x, ids)
    _age_everything(tmp_path / "c", 3600)
    keys = col.store.list("")
    report = col.cleanup(older_than=0, grace=0, dry_run=True)
    assert report.dry_run and report.versions_deleted == [0, 1, 2, 3, 4, 5] and report.objects_deleted > 0
    assert col.store.list("") == keys


def test_a_store_that_cannot_tell_ages_deletes_nothing(arxiv_sample):
    col = vectree.create_collection("memory://cleanup-ages", dim=384, metric="cosine")
    col.add(arxiv_sample["vectors"][:5], ids=np.arange(5))
    col.add(arxiv_sample["vectors"][5:10], ids=np.arange(5, 10))
    report = col.cleanup(older_than=0, grace=0)  # memory:// knows its write times
    assert report.versions_deleted == [0, 1]
    col.add(arxiv_sample["vectors"][10:15], ids=np.arange(10, 15))
    col.store.list_info = lambda prefix="": [
        type(i)(i.key, i.size, None) for i in type(col.store).list_info(col.store, prefix)
    ]
    assert col.cleanup(older_than=0, grace=0).versions_deleted == []


def test_tags(tmp_path, arxiv_sample):
    x = arxiv_sample["vectors"]
    col = vectree.create_collection(tmp_path / "c", dim=384, metric="cosine")
    col.add(x[:5], ids=np.arange(5))
    col.add(x[5:10], ids=np.arange(5, 10))
    assert col.tag("prod", 1) == 1 and col.tag("latest-good") == 2
    assert col.tags() == {"prod": 1, "latest-good": 2}
    prod = vectree.open_collection(col.url, tag="prod")
    assert prod.version == 1 and len(prod) == 5
    with pytest.raises(InvalidInputError, match="opened at version 1"):
        prod.add(x[10:11], ids=[10])
    col.tag("prod", 2)  # moving a tag
    assert vectree.open_collection(col.url, tag="prod").version == 2
    col.untag("latest-good")
    assert col.tags() == {"prod": 2}
    with pytest.raises(NotFoundError, match="no tag 'nope'.*'prod'"):
        vectree.open_collection(col.url, tag="nope")
    with pytest.raises(NotFoundError, match="version 9"):
        col.tag("future", 9)
    for bad in ["", "a/b", "../x", "-x", "x" * 101]:
        with pytest.raises(InvalidInputError, match="tag names"):
            col.tag(bad, 1)
    with pytest.raises(InvalidInputError, match="version= or tag="):
        vectree.open_collection(col.url, version=1, tag="prod")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"keep_versions": 0}, "keep_versions"),
        ({"older_than": "soon"}, "older_than"),
        ({"grace": -1}, "grace"),
        ({"older_than": True}, "older_than"),
    ],
)
def test_bad_cleanup_arguments_are_refused_before_anything_is_deleted(tmp_path, arxiv_sample, kwargs, message):
    col = vectree.create_collection(tmp_path / "c", dim=384, metric="cosine")
    col.add(arxiv_sample["vectors"][:5], ids=np.arange(5))
    keys = col.store.list("")
    with pytest.raises(InvalidInputError, match=message):
        col.cleanup(**{"older_than": 0, "grace": 0, **kwargs})
    assert col.store.list("") == keys
