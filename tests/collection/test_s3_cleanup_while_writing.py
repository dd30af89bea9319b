"""On S3: a writer commits in a loop (adds, deletes, compactions) while cleanup runs again and again.

Every version a cleanup keeps stays verify-clean, the writer never fails, and at the end every row
it added is there exactly once: the grace period protects the files a writer is about to commit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import vectree

REPO = Path(__file__).resolve().parents[2]
DIM = 8
ADDS = 120
GRACE_S = 3.0  # S3 Last-Modified has 1 s resolution; a commit here takes well under a second

_WRITER = """
import json, os, sys
import numpy as np
import vectree
url, n = sys.argv[1], int(sys.argv[2])
col = vectree.open_collection(url, storage_options=json.loads(os.environ["S3_OPTS"]))
for i in range(n):
    col.add(np.full((2, 8), float(i), np.float32), ids=[2 * i, 2 * i + 1])
    if i % 10 == 9:
        col.delete([2 * i + 1])           # a tombstone file
    if i % 30 == 29:
        col.compact()                     # new index, buckets and idmap; the old ones become garbage
print(json.dumps({"version": col.version}))
"""


def test_cleanup_running_repeatedly_beside_a_committing_writer(s3_server):
    url, opts = s3_server.new_url(), s3_server.storage_options()
    col = vectree.create_collection(url, dim=DIM, bucket_size=32, storage_options=opts)
    col.add(np.zeros((40, DIM), np.float32), ids=np.arange(10_000, 10_040))
    col.build()
    store = col.store
    store.put("segments/" + "0" * 64 + ".arrow", b"orphan of a writer that crashed")  # never referenced
    env = os.environ | {"S3_OPTS": json.dumps(opts), "PYTHONPATH": str(REPO)}
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, url, str(ADDS)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    rounds, deleted_versions, deleted_objects = 0, 0, 0
    while writer.poll() is None or rounds < 3:
        report = col.cleanup(older_than=0, keep_versions=2, grace=GRACE_S)
        rounds += 1
        deleted_versions += len(report.versions_deleted)
        deleted_objects += report.objects_deleted
        check = col.verify(all_versions=True)
        assert check.ok, check.problems[:5]
        time.sleep(0.5)
    out, err = writer.communicate(timeout=600)
    assert writer.returncode == 0, err.decode()[-3000:]
    time.sleep(GRACE_S + 1.5)
    final = col.cleanup(older_than=0, keep_versions=1, grace=GRACE_S)
    assert final.young_unreferenced == 0
    # (a fast writer may finish inside the grace period of the rounds beside it: count the last one too)
    deleted_versions += len(final.versions_deleted)
    deleted_objects += final.objects_deleted

    assert rounds >= 3 and deleted_versions > 0 and deleted_objects > 0
    assert not store.exists("segments/" + "0" * 64 + ".arrow")
    latest = vectree.open_collection(url, storage_options=opts)
    assert latest.version == json.loads(out)["version"]
    assert [v["version"] for v in latest.versions()] == [latest.version]
    assert latest.verify(all_versions=True).ok
    expected = sorted(set(range(10_000, 10_040)) | set(range(2 * ADDS)) - {2 * i + 1 for i in range(9, ADDS, 10)})
    ids = np.sort(np.concatenate([b["ids"] for b in latest.iter_batches(1000)]))
    missing = sorted(set(expected) - set(ids.tolist()))
    assert not missing, f"{len(missing)} rows lost: {missing[:40]}"
    np.testing.assert_array_equal(ids, expected)
    rows = latest.get(np.arange(0, 2 * ADDS, 2))
    np.testing.assert_array_equal(rows.vectors[:, 0], np.arange(ADDS, dtype=np.float32))
    # what is left is exactly what the one remaining version references
    from vectree.collection.lifecycle import DATA_PREFIXES, referenced_keys

    assert {k for k in store.list("") if k.startswith(DATA_PREFIXES)} == referenced_keys(store, [latest.version])
