"""S3 outages (issue 14, item 7): a missing bucket's error keeps the server's NoSuchBucket, and the
default retry budget rides out a real server restart; the budget is configurable.

Runs against a SeaweedFS server of this module's own, really stopped and restarted.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import vectree
from vectree.errors import StorageError
from vectree.storage.retry import RetryPolicy


def test_a_missing_bucket_says_no_such_bucket(s3_fault_server):
    url = "s3://no-such-bucket-14/col"
    opts = s3_fault_server.storage_options(retry=2)
    with pytest.raises(StorageError, match="NoSuchBucket") as err:
        vectree.open_collection(url, storage_options=opts)
    assert "no-such-bucket-14" in str(err.value) and "\n" not in str(err.value)
    store = s3_fault_server.open_store(url, retry=2)
    with pytest.raises(StorageError, match="bucket does not exist.*NoSuchBucket"):
        store.get("manifests/0000000000.json")


def test_the_default_budget_rides_out_a_server_restart(s3_fault_server):
    """No retry= given: a search and a write issued while the server restarts (5 s down) both succeed."""
    url = s3_fault_server.new_url()
    opts = s3_fault_server.storage_options()  # the default RetryPolicy
    col = vectree.create_collection(url, dim=4, storage_options=opts)
    col.add(np.eye(4, dtype=np.float32), ids=[1, 2, 3, 4])
    reader = vectree.open_collection(url, storage_options=opts)
    s3_fault_server.stop(kill=True)
    down_at = time.monotonic()
    restarter = threading.Timer(5.0, s3_fault_server.start)
    restarter.start()
    try:
        version = col.add(np.ones((1, 4), np.float32), ids=[5])
        res = reader.search(np.eye(4, dtype=np.float32)[:1], k=1)
    finally:
        restarter.join()
    assert time.monotonic() - down_at >= 5.0
    assert version == 2 and res.ids.tolist() == [[1]]
    assert len(vectree.open_collection(url, storage_options=opts)) == 5


def test_the_budget_is_configurable(monkeypatch):
    assert RetryPolicy().min_total_s >= 9.0  # the default: about twice a SeaweedFS restart
    assert RetryPolicy.riding_out(30).min_total_s >= 30
    monkeypatch.setenv("VECTREE_S3_RETRY_S", "45")
    assert RetryPolicy.coerce(None).min_total_s >= 45
    monkeypatch.setenv("VECTREE_S3_RETRY_S", "soon")
    with pytest.raises(Exception, match="number of seconds"):
        RetryPolicy.coerce(None)
