"""A bucket file truncated under a live reader (issue 14, item 7): the reader gets a CorruptionError
for what it must re-read, never a SIGBUS; what it already holds stays right (it was checked)."""

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

import vectree
from vectree.storage.local import LocalStore

REPO = Path(__file__).resolve().parents[2]


def test_a_truncated_bucket_is_a_corruption_error_not_a_signal(tmp_path, arxiv_sample):
    root = tmp_path / "c"
    col = vectree.create_collection(root, dim=384, metric="cosine", bucket_size=100)
    col.add(arxiv_sample["vectors"][:1000], ids=np.arange(1000))
    col.build()
    np.save(tmp_path / "q.npy", arxiv_sample["vectors"][:20])
    script = textwrap.dedent(f"""
        import os, sys, numpy as np, vectree
        from vectree.errors import CorruptionError, StorageError
        q = np.load({str(tmp_path / "q.npy")!r})
        col = vectree.open_collection({str(root)!r})
        first = col.search(q, k=5, exact=True).ids
        for name in os.listdir({str(root / "buckets")!r}):  # damage every bucket under the live reader
            path = os.path.join({str(root / "buckets")!r}, name)
            with open(path, "r+b") as f:
                f.truncate(os.path.getsize(path) // 3)
        again = col.search(q, k=5, exact=True).ids  # from the blocks it holds: still right
        assert (again == first).all(), "cached answers changed"
        col.clear_cache()  # now it must re-read the files
        try:
            col.search(q, k=5, exact=True)
        except (CorruptionError, StorageError) as exc:
            print("refused:", type(exc).__name__, exc)
            sys.exit(0)
        sys.exit("a truncated bucket was read without an error")
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode != -signal.SIGBUS, "the reader was killed by SIGBUS"
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "refused: CorruptionError" in proc.stdout


def test_small_files_are_private_copies_large_ones_mapped(tmp_path):
    store = LocalStore(tmp_path, copy_below=4096)
    store.put("small", b"s" * 4096)
    store.put("large", b"l" * 4097)
    small, large = store.read_many(["small", "large"])
    assert small.readonly and large.readonly and bytes(small) == b"s" * 4096 and bytes(large) == b"l" * 4097
    with open(tmp_path / "small", "r+b") as f:
        f.truncate(10)
    assert bytes(small) == b"s" * 4096  # a private copy: the truncation does not reach it


def test_a_write_cut_short_leaves_its_temporary_file_in_tmp_only(tmp_path, monkeypatch):
    """Killed between writing and renaming, a put leaves a stray file in ``_tmp/``, never among the objects."""
    store = LocalStore(tmp_path)
    store.put("buckets/a", b"a")

    def killed(*args):
        raise OSError("killed before the rename")

    monkeypatch.setattr(os, "replace", killed)
    with contextlib.suppress(Exception):
        store.put("buckets/b", b"b")
    stray = [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob(".tmp-*")]
    assert len(stray) == 1 and stray[0].startswith("_tmp/")
    assert store.list("") == ["buckets/a"]
