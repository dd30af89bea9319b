"""A deletion never applies to rows written after it: deleting and re-adding (or re-upserting) the
same rows keeps them, in search, get, len, compact and verify (issue 14's data loss)."""

import numpy as np

import vectree
from vectree.cli.main import app


def _col(tmp_path, **kw):
    return vectree.create_collection(tmp_path / "c", dim=4, **kw)


def _check_one(col, v, want):
    assert len(col) == 1
    assert col.search(v, k=1, exact=True).ids.tolist() == [[1]]
    np.testing.assert_allclose(col.get([1]).vectors, want)
    assert col.verify().ok


def test_delete_then_add_the_same_row_keeps_it(tmp_path):
    col = _col(tmp_path)
    v = np.ones((1, 4), np.float32)
    col.add(v, ids=[1])
    col.delete([1])
    col.add(v, ids=[1])
    _check_one(col, v, v)
    _check_one(vectree.open_collection(col.url), v, v)
    col.compact()
    _check_one(col, v, v)


def test_upsert_the_same_row_twice_keeps_it(tmp_path):
    col = _col(tmp_path)
    v = np.ones((1, 4), np.float32)
    col.add(v, ids=[1])
    col.upsert(2 * v, ids=[1])
    col.upsert(2 * v, ids=[1])
    _check_one(col, v, 2 * v)
    col.compact()
    _check_one(col, v, 2 * v)


def test_a_row_re_added_like_a_deleted_bucket_keeps_it(tmp_path):
    """A one-row bucket and a tail segment holding the same row must not share a tombstone."""
    col = _col(tmp_path, bucket_size=1)
    v = np.ones((1, 4), np.float32)
    col.add(v, ids=[1])
    col.build()
    col.delete([1])
    col.add(v, ids=[1])
    _check_one(col, v, v)
    col.compact()
    _check_one(col, v, v)


def test_cli_delete_all_then_add_the_same_file_keeps_them(tmp_path):
    from typer.testing import CliRunner

    rows = tmp_path / "f.jsonl"
    rows.write_text("".join(f'{{"id": {i}, "vector": [{i}, 1, 2, 3]}}\n' for i in range(5)))
    url = str(tmp_path / "c")
    run = CliRunner().invoke
    assert run(app, ["create", url, "--dim", "4"]).exit_code == 0
    assert run(app, ["add", url, str(rows)]).exit_code == 0
    assert run(app, ["delete", url, *map(str, range(5))]).exit_code == 0
    assert run(app, ["add", url, str(rows)]).exit_code == 0
    col = vectree.open_collection(url)
    assert len(col) == 5
    assert sorted(col.search(np.array([[2, 1, 2, 3]], np.float32), k=5, exact=True).ids[0].tolist()) == list(range(5))
    col.compact()
    assert len(col) == 5 and col.verify().ok


def test_manifests_without_write_ids_still_open(tmp_path):
    """Manifests written before segments recorded their write read as write="" (old collections open)."""
    import json

    col = _col(tmp_path)
    col.add(np.eye(4, dtype=np.float32), ids=[1, 2, 3, 4])
    path = tmp_path / "c" / "manifests" / f"{col.version:010d}.json"
    body = json.loads(path.read_text())
    for seg in body["segments"]:
        del seg["write"]
    body.pop("checksum", None)
    path.write_text(json.dumps(body))
    again = vectree.open_collection(col.url)
    assert len(again) == 4 and again.manifest.segments[0].write == ""
    assert again.search(np.eye(4, dtype=np.float32)[:1], k=1).ids.tolist() == [[1]]


def test_cleanup_keeps_the_key_lists_of_live_segments(tmp_path):
    """Segments record their write, and their key lists are .npz objects: cleanup must count them as used."""
    col = _col(tmp_path)
    v = np.ones((1, 4), np.float32)
    col.add(v, ids=[1])
    col.delete([1])
    col.add(v, ids=[1])
    col.add(2 * v, ids=[2])
    col.cleanup(older_than=0, grace=0)
    again = vectree.open_collection(col.url)
    assert len(again) == 2 and again.verify().ok
    assert sorted(again.get([1, 2]).ids.tolist()) == [1, 2]
    assert sorted(again.search(v, k=2, exact=True).ids[0].tolist()) == [1, 2]
