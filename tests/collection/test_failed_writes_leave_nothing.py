"""Validate first, write after, and clean up what a failed call wrote (issue 14, item 6): a refused or
failed add / add_batches / upsert leaves no file behind, and a build spills under the collection's own
``_tmp/`` (or ``workdir`` / ``$VECTREE_TMPDIR``), removed however it ends; a failing spill is a clear error."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import vectree
from vectree.errors import InvalidInputError, StorageError


def _files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs if f != "_latest")


@pytest.fixture()
def col(tmp_path, arxiv_sample):
    c = vectree.create_collection(tmp_path / "c", dim=384, metric="cosine", bucket_size=100)
    c.add(arxiv_sample["vectors"][:300], ids=np.arange(300))
    return c


def test_an_add_refused_for_a_stored_id_writes_nothing(col, tmp_path, arxiv_sample):
    before = _files(tmp_path / "c")
    with pytest.raises(InvalidInputError, match=r"already stored \(ids \[5\]\)"):
        col.add(arxiv_sample["vectors"][300:302], ids=[1000, 5])
    assert _files(tmp_path / "c") == before


def _batches(v, bad_at=None, error=None):
    for i in range(6):
        if i == bad_at:
            if error is not None:
                raise error
            yield v[:2, :10], [9000 + 2 * i, 9001 + 2 * i]  # wrong dimension
        yield v[2 * i : 2 * i + 2], [5000 + 2 * i, 5001 + 2 * i]


@pytest.mark.parametrize("case", ["bad batch", "duplicate across batches", "stored id in a later batch", "input fails"])
def test_a_failed_add_batches_removes_the_segments_it_wrote(col, tmp_path, arxiv_sample, case):
    v = arxiv_sample["vectors"][1000:1100]
    before = _files(tmp_path / "c")
    if case == "bad batch":
        stream, expect = _batches(v, bad_at=4), pytest.raises(InvalidInputError, match="dimension")
    elif case == "input fails":
        stream, expect = (
            _batches(v, bad_at=4, error=OSError("disk read error")),
            pytest.raises(OSError, match="disk read"),
        )
    elif case == "duplicate across batches":
        stream, expect = (
            [(v[:2], [5000, 5001]), (v[2:4], [7000, 7001]), (v[4:6], [7001, 7002])],
            pytest.raises(InvalidInputError, match=r"across the added batches \(ids \[7001\]"),
        )
    else:
        stream, expect = (
            [(v[:2], [5000, 5001]), (v[2:4], [7000, 7])],
            pytest.raises(InvalidInputError, match="already stored"),
        )
    with expect:
        col.add_batches(stream)
    assert _files(tmp_path / "c") == before
    assert len(vectree.open_collection(col.url)) == 300


def test_a_failed_upsert_removes_its_segment(col, tmp_path, arxiv_sample, monkeypatch):
    before = _files(tmp_path / "c")

    def store_goes_away(*args, **kwargs):  # the commit (a conditional put of the manifest) fails after the segment
        raise StorageError("the store went away")

    monkeypatch.setattr(col.store, "put_if_absent", store_goes_away)
    with pytest.raises(StorageError, match="went away"):
        col.upsert(arxiv_sample["vectors"][:1], ids=[3])
    left = sorted(set(_files(tmp_path / "c")) - set(before))
    # the segment and its key list are removed; the tombstone list the commit would have named is
    # content-addressed (another version may name the same bytes), so it is left for cleanup to collect
    assert all(k.startswith("tombstones/") for k in left), left
    assert len(vectree.open_collection(col.url)) == 300


def test_build_spills_under_the_collection_and_removes_it(col, tmp_path, monkeypatch):
    seen = []
    real = __import__("tempfile").mkdtemp

    def spy(*a, **k):
        path = real(*a, **k)
        seen.append(path)
        return path

    monkeypatch.setattr("vectree.index.build.tempfile.mkdtemp", spy)
    col.build()
    assert seen and all(p.startswith(str(tmp_path / "c" / "_tmp")) for p in seen)
    assert not os.listdir(tmp_path / "c" / "_tmp")
    assert "_tmp" not in {k.split("/")[0] for k in col.store.list("")}
    monkeypatch.setenv("VECTREE_TMPDIR", str(tmp_path / "spill"))
    col.add(np.ones((1, 384), np.float32), ids=[4000])
    col.build()
    assert seen[-1].startswith(str(tmp_path / "spill")) and not os.listdir(tmp_path / "spill")


def test_a_spill_that_cannot_be_written_is_a_clear_error_and_is_removed(tmp_path, arxiv_sample):
    """The spill's files are the build's largest (all rows of a partition): cap the file size below them."""
    root = tmp_path / "c"
    col = vectree.create_collection(root, dim=384, metric="cosine", bucket_size=50)
    col.add(arxiv_sample["vectors"][:3000], ids=np.arange(3000))
    script = textwrap.dedent(f"""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
        import vectree
        from vectree.errors import StorageError
        try:
            vectree.open_collection({str(root)!r}).build()
        except StorageError as exc:
            print("StorageError:", exc)
            sys.exit(3)
    """)
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert out.returncode == 3, out.stdout + out.stderr
    assert "building the index needs temporary space in" in out.stdout and "_tmp" in out.stdout
    assert "File too large" in out.stdout
    assert not os.listdir(root / "_tmp")
    assert vectree.open_collection(root).version == 1


def test_cleanup_removes_what_killed_writers_left_in_tmp(col, tmp_path):
    scratch = tmp_path / "c" / "_tmp"
    (scratch / "vectree-build-dead").mkdir(parents=True)
    (scratch / "vectree-build-dead" / "part-0.arrow").write_bytes(b"x" * 100)
    (scratch / ".tmp-abandoned").write_bytes(b"y")
    old = os.path.getmtime(scratch / ".tmp-abandoned") - 3600
    for p in (scratch / "vectree-build-dead", scratch / ".tmp-abandoned"):
        os.utime(p, (old, old))
    (scratch / ".tmp-in-flight").write_bytes(b"z")  # a write under way: younger than the grace period
    col.cleanup(grace="10m")
    assert sorted(os.listdir(scratch)) == [".tmp-in-flight"]
    assert len(vectree.open_collection(col.url)) == 300
