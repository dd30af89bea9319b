"""Every change commits a version; older versions stay readable exactly as they were.

The tests taking ``db`` run against the local library and through the HTTP service (``vectree.connect``).
"""

import numpy as np
import pytest

import vectree
from vectree.errors import InvalidInputError


def test_old_versions_read_as_they_were(db, arxiv_sample):
    x, ids = arxiv_sample["vectors"], arxiv_sample["ids"]
    col = db.create_collection("c", dim=384, metric="cosine", bucket_size=250)
    v1 = col.add(x[:1000], ids=ids[:1000])
    v2 = col.build()
    v3 = col.add(x[1000:1500], ids=ids[1000:1500])
    v4 = col.delete(ids[:100])
    v5 = col.compact()
    assert [v["version"] for v in col.versions()] == [0, v1, v2, v3, v4, v5]
    assert [v["operation"] for v in col.versions()] == ["create", "add", "build", "add", "delete", "compact"]
    old = db.open_collection(col.url, version=v2)
    assert len(old) == 1000
    res = old.search(x[:5], k=1, exact=True)
    assert res.ids[:, 0].tolist() == ids[:5]  # deleted later, still there in version 2
    now = db.open_collection(col.url)
    assert now.version == v5 and len(now) == 1400
    assert ids[0] not in now.search(x[:5], k=3, exact=True).ids.ravel().tolist()
    assert now.verify(all_versions=True).ok


def test_an_old_version_is_read_only(db, arxiv_sample):
    col = db.create_collection("c", dim=384, metric="cosine")
    col.add(arxiv_sample["vectors"][:10])
    col.add(arxiv_sample["vectors"][10:20])
    old = db.open_collection(col.url, version=1)
    with pytest.raises(InvalidInputError, match="opened at version 1"):
        old.add(arxiv_sample["vectors"][20:21])


def test_a_reader_keeps_its_snapshot_while_a_writer_commits(db, arxiv_sample):
    writer = db.create_collection("c", dim=384, metric="cosine")
    writer.add(arxiv_sample["vectors"][:100])
    reader = db.open_collection(writer.url)
    writer.add(arxiv_sample["vectors"][100:200])
    assert len(reader) == 100 and reader.search(arxiv_sample["vectors"][150], k=1).ids[0, 0] != 150
    assert len(reader.refresh()) == 200 and reader.search(arxiv_sample["vectors"][150], k=1).ids[0, 0] == 150


def test_attachments_are_versioned_and_checked(tmp_path):
    col = vectree.create_collection(tmp_path / "c", dim=2)
    v = col.put_attachment("embedder", b"params-1")
    col.put_attachment("embedder", b"params-2")
    assert col.get_attachment("embedder") == b"params-2"
    assert vectree.open_collection(col.url, version=v).get_attachment("embedder") == b"params-1"
    assert np.isscalar(v)
