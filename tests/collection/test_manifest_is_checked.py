"""A manifest carries a checksum and verify cross-checks it against the files it names; a damaged or
missing newest manifest, or a ``_latest`` hint ahead of the manifests, leaves the collection readable
at its newest valid version, saying what was skipped (issue 14, items 1 and 2)."""

import json
import logging

import numpy as np
import pytest
from typer.testing import CliRunner

import vectree
from vectree.cli.main import app
from vectree.collection.manifest import Manifest, manifest_key
from vectree.errors import CorruptionError


@pytest.fixture()
def root(tmp_path, arxiv_sample):
    col = vectree.create_collection(tmp_path / "c", dim=384, metric="cosine", bucket_size=100)
    col.add(arxiv_sample["vectors"][:400], ids=np.arange(400))
    col.build()
    col.add(arxiv_sample["vectors"][400:450], ids=np.arange(400, 450))
    col.delete([3, 401])  # version 4: an index, a tail segment and tombstones
    return tmp_path / "c"


def _path(root, v):
    return root / manifest_key(v)


EDITS = [
    ("indexed_rows", lambda b: b.update(indexed_rows=b["indexed_rows"] + 10)),
    ("segment rows", lambda b: b["segments"][0].update(rows=b["segments"][0]["rows"] + 1)),
    ("tombstone_count", lambda b: b.update(tombstone_count=0)),
    ("metric name", lambda b: b["settings"].update(metric="dot")),
]


@pytest.mark.parametrize("name,edit", EDITS, ids=[e[0] for e in EDITS])
def test_an_edited_manifest_fails_its_checksum(root, name, edit):
    path = _path(root, 4)
    body = json.loads(path.read_text())
    edit(body)
    path.write_text(json.dumps(body, indent=1, sort_keys=True))
    with pytest.raises(CorruptionError, match="fails its checksum"):
        vectree.open_collection(root, version=4)
    col = vectree.open_collection(root)  # the newest valid version opens, and says what it skipped
    assert col.version == 3 and len(col) == 450
    report = col.verify()
    assert not report.ok and "version 4" in report.problems[0] and "checksum" in report.problems[0]
    result = CliRunner().invoke(app, ["verify", str(root)])
    assert result.exit_code == 1 and "checksum" in result.output


@pytest.mark.parametrize("name,edit", EDITS, ids=[e[0] for e in EDITS])
def test_verify_cross_checks_a_manifest_without_checksum(root, name, edit):
    """Older manifests have no checksum: verify compares what they say with the files they name."""
    path = _path(root, 4)
    body = json.loads(path.read_text())
    edit(body)
    body.pop("checksum")
    path.write_text(json.dumps(body, indent=1, sort_keys=True))
    report = vectree.open_collection(root).verify()
    assert not report.ok, f"an edited {name} was not noticed"
    result = CliRunner().invoke(app, ["verify", str(root)])
    assert result.exit_code == 1, result.output


def test_an_unknown_metric_is_a_corruption_error_not_a_key_error(root):
    path = _path(root, 4)
    body = json.loads(path.read_text())
    body["settings"]["metric"] = "l3"
    body.pop("checksum")
    path.write_text(json.dumps(body))
    with pytest.raises(CorruptionError, match="unknown metric 'l3'"):
        vectree.open_collection(root, version=4)


def test_an_intact_collection_verifies(root):
    report = vectree.open_collection(root).verify(all_versions=True)
    assert report.ok, report.problems
    assert report.versions == [0, 1, 2, 3, 4]


def test_all_versions_notices_a_deleted_intermediate_manifest(root):
    _path(root, 2).unlink()
    report = vectree.open_collection(root).verify(all_versions=True)
    assert any("version 2" in p and "missing" in p for p in report.problems), report.problems
    result = CliRunner().invoke(app, ["verify", str(root), "--all-versions"])
    assert result.exit_code == 1 and "missing" in result.output


def test_latest_ahead_of_the_manifests_opens_the_newest(root, caplog):
    (root / "_latest").write_text("9")
    with caplog.at_level(logging.WARNING):
        col = vectree.open_collection(root)
    assert col.version == 4 and len(col) == 448
    assert "_latest names version 9" in caplog.text
    assert col.add(np.ones((1, 384), np.float32), ids=[1000]) == 5  # and writes continue from it


def test_a_missing_newest_manifest_opens_the_version_before(root, caplog):
    _path(root, 4).unlink()
    with caplog.at_level(logging.WARNING):
        col = vectree.open_collection(root)
    assert col.version == 3 and len(col) == 450
    assert "version 4" in caplog.text


def test_a_damaged_newest_manifest_opens_the_version_before_and_refuses_writes(root, caplog):
    _path(root, 4).write_bytes(b"{ not json")
    with caplog.at_level(logging.WARNING):
        col = vectree.open_collection(root)
    assert col.version == 3 and "skipped version 4" in caplog.text
    assert col.search(np.ones(384, np.float32), k=3).ids.shape == (1, 3)
    with pytest.raises(CorruptionError, match="version 4"):
        col.add(np.ones((1, 384), np.float32), ids=[1000])


def test_manifest_round_trips_with_its_checksum():
    m = Manifest(version=3, settings={"dim": 2, "metric": "l2"})
    assert Manifest.from_bytes(m.to_bytes(), 3) == m
    assert b'"checksum"' in m.to_bytes()
