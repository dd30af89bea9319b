"""Two processes adding to one S3 collection: every batch lands exactly once, the history is a line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import vectree
from vectree.collection.manifest import read_manifest

REPO = Path(__file__).resolve().parents[2]
DIM = 8
ROWS_PER_BATCH = 3
BATCHES_PER_WRITER = 100

_WRITER = """
import json, os, sys, time
import numpy as np
import vectree
url, go, writer, n, per = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
opts = json.loads(os.environ["S3_OPTS"])
col = vectree.open_collection(url, storage_options=opts)
while not os.path.exists(go):
    time.sleep(0.001)
versions = []
for b in range(n):
    batch = writer * n + b
    ids = np.arange(batch * per, (batch + 1) * per)
    vectors = np.full((per, 8), float(batch), np.float32)
    versions.append(col.add(vectors, ids=ids, labels=[batch] * per))
print(json.dumps(versions))
"""


def test_two_processes_adding_100_batches_each(s3_server, tmp_path):
    url, opts = s3_server.new_url(), s3_server.storage_options()
    vectree.create_collection(url, dim=DIM, bucket_size=64, storage_options=opts)
    go = tmp_path / "go"
    env = os.environ | {"S3_OPTS": json.dumps(opts), "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, url, str(go), str(w), str(BATCHES_PER_WRITER), str(ROWS_PER_BATCH)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        for w in (0, 1)
    ]
    time.sleep(2.0)  # both writers imported and opened
    go.touch()
    committed = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()[-3000:]
        committed.append(json.loads(out))

    # each add returned its own version; together they are versions 1..200, each used once
    assert sorted(committed[0] + committed[1]) == list(range(1, 2 * BATCHES_PER_WRITER + 1))
    assert committed[0] == sorted(committed[0]) and committed[1] == sorted(committed[1])

    col = vectree.open_collection(url, storage_options=opts)
    n_batches = 2 * BATCHES_PER_WRITER
    assert col.version == n_batches
    assert len(col) == n_batches * ROWS_PER_BATCH
    ids = np.concatenate([b["ids"] for b in col.iter_batches(1000)])
    np.testing.assert_array_equal(np.sort(ids), np.arange(n_batches * ROWS_PER_BATCH))  # each row exactly once
    rows = col.get(np.arange(n_batches * ROWS_PER_BATCH))
    np.testing.assert_array_equal(rows.vectors[:, 0], np.repeat(np.arange(n_batches), ROWS_PER_BATCH))

    # linear history: every version's parent is the one before, and extends its tail by one segment
    history = [v["version"] for v in col.versions()]
    assert history == list(range(0, n_batches + 1))
    store = col.store
    previous = read_manifest(store, 0)
    for v in range(1, n_batches + 1):
        m = read_manifest(store, v)
        assert m.parent == v - 1 and m.operation == "add"
        assert (
            m.segments[: len(previous.segments)] == previous.segments and len(m.segments) == len(previous.segments) + 1
        )
        previous = m
