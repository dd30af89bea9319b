"""Every core collection operation works on s3:// exactly as on a local directory.

The same script of operations runs against a local path and against SeaweedFS; the answers must agree.
"""

from __future__ import annotations

import numpy as np
import pytest

import vectree
from vectree.errors import NotFoundError

DIM = 16


def _data(n: int = 1200, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=4.0, size=(12, DIM))
    return (centers[rng.integers(0, 12, n)] + rng.normal(size=(n, DIM))).astype(np.float32)


def _script(url: str, storage_options: dict | None) -> dict:
    """Run every operation; return what a user would observe."""
    x = _data()
    q = _data(20, seed=1)
    out: dict = {}
    col = vectree.create_collection(url, dim=DIM, metric="l2", bucket_size=100, private=True,
                                    storage_options=storage_options)  # fmt: skip
    labels = [f"c{i % 5}" for i in range(1000)]
    meta = [{"i": i} for i in range(1000)]
    col.add(x[:1000], ids=np.arange(1000), labels=labels, metadata=meta)
    col.build()
    out["built"] = col.search(q, k=10, probes=4).ids
    col.add(x[1000:], ids=np.arange(1000, 1200), labels=["tail"] * 200, metadata=[{"i": i} for i in range(1000, 1200)])
    col.delete([0, 1, 2, 1100])
    col.upsert(x[3:5] + 100.0, ids=[3, 4], labels=["moved", "moved"], metadata=[{"moved": 1}, {"moved": 1}])
    out["after_updates_exact"] = col.search(q, k=10, exact=True).ids
    out["after_updates"] = col.search(q, k=10, probes=6).ids
    col.put_attachment("model.bin", b"\x00weights\xff")
    col.compact()
    out["after_compact"] = col.search(q, k=10, probes=6).ids
    out["len"] = len(col)
    rows = col.get([3, 500])
    out["get_labels"] = list(rows.labels)
    out["get_vectors"] = rows.vectors
    out["batches_ids"] = np.sort(np.concatenate([b["ids"] for b in col.iter_batches(300)]))
    out["versions"] = [(v["version"], v["operation"], v["rows"]) for v in col.versions()]
    out["attachment"] = col.get_attachment("model.bin")
    report = col.verify(all_versions=True)
    out["verify_ok"] = report.ok
    reopened = vectree.open_collection(url, storage_options=storage_options)
    out["reopened"] = reopened.search(q, k=10, probes=6).ids
    out["private"] = reopened.private
    old = vectree.open_collection(url, version=2, storage_options=storage_options)
    out["old_len"] = len(old)
    out["old_search"] = old.search(q, k=10, probes=4).ids
    return out


def test_every_operation_agrees_between_local_disk_and_s3(s3_server, tmp_path):
    local = _script(str(tmp_path / "col"), None)
    remote = _script(s3_server.new_url(), s3_server.storage_options())
    assert local.keys() == remote.keys()
    for key, value in local.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, remote[key], err_msg=key)
        else:
            assert value == remote[key], key
    assert remote["verify_ok"] and remote["private"] is True
    assert remote["len"] == 1200 - 4
    assert remote["attachment"] == b"\x00weights\xff"
    assert [op for _, op, _ in remote["versions"]] == [
        "create",
        "add",
        "build",
        "add",
        "delete",
        "upsert",
        "attach",
        "compact",
    ]
    np.testing.assert_array_equal(remote["batches_ids"], np.setdiff1d(np.arange(1200), [0, 1, 2, 1100]))
    assert remote["old_len"] == 1000
    np.testing.assert_array_equal(remote["old_search"], remote["built"])


def test_a_reader_keeps_its_version_while_a_writer_commits(s3_server):
    url, opts = s3_server.new_url(), s3_server.storage_options()
    x = _data(300)
    writer = vectree.create_collection(url, dim=DIM, bucket_size=50, storage_options=opts)
    writer.add(x[:200], ids=np.arange(200))
    reader = vectree.open_collection(url, storage_options=opts)
    writer.add(x[200:], ids=np.arange(200, 300))
    writer.delete([0])
    assert len(reader) == 200 and reader.version == 1  # a snapshot: unchanged by the commits
    assert reader.search(x[250], k=1, exact=True).ids[0, 0] != 250
    reader.refresh()
    assert len(reader) == 299 and reader.version == 3
    assert reader.search(x[250], k=1, exact=True).ids[0, 0] == 250


def test_opening_a_missing_s3_collection_is_not_found(s3_server):
    with pytest.raises(NotFoundError, match="no collection"):
        vectree.open_collection(s3_server.new_url(), storage_options=s3_server.storage_options())
