"""A server that goes away in the middle of a build or a commit: a clear error, the previous version
stays readable, and the same call succeeds once the server is back.

Uses a SeaweedFS server of this module's own (really stopped and restarted) and a real TCP proxy
that makes the server unreachable after exactly n more requests (tests/storage/faultproxy.py).
"""

from __future__ import annotations

import numpy as np
import pytest

import vectree
from tests.storage.faultproxy import FaultProxy
from vectree.errors import StorageError

DIM = 8
QUICK_RETRY = {"attempts": 3, "base_delay_s": 0.02, "max_delay_s": 0.05}


def _data(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)


def test_server_stopped_during_build(s3_fault_server):
    server = s3_fault_server
    url, opts = server.new_url(), server.storage_options(retry=QUICK_RETRY)
    x = _data(2000)
    col = vectree.create_collection(url, dim=DIM, bucket_size=100, storage_options=opts)
    col.add(x, ids=np.arange(2000))
    before = col.version
    expected = col.search(x[:5], k=3, exact=True).ids

    def stop_on_first_write(stage: str, done: int, total: int) -> None:
        if stage == "write" and server.running:
            server.stop(kill=True)

    try:
        with pytest.raises(StorageError, match=r"failed after 3 attempt.*server is up"):
            col.build(progress=stop_on_first_write)
    finally:
        server.start()
    reader = vectree.open_collection(url, storage_options=opts)
    assert reader.version == before and reader.stats()["buckets"] == 0
    np.testing.assert_array_equal(reader.search(x[:5], k=3, exact=True).ids, expected)

    version = col.build()  # the same call, now that the server is back
    assert version == before + 1
    built = vectree.open_collection(url, storage_options=opts)
    assert built.stats()["buckets"] > 1 and built.verify().ok
    np.testing.assert_array_equal(built.search(x[:5], k=3, exact=True).ids, expected)


def test_server_lost_at_every_request_of_a_commit(s3_fault_server):
    """Cut the connection after 0, 1, 2, ... requests of an add: never a half-committed version."""
    server = s3_fault_server
    proxy = FaultProxy(server.ports["s3.port"])
    try:
        opts = server.storage_options(
            endpoint_url=proxy.endpoint, retry=QUICK_RETRY, client_options={"pool_max_idle_per_host": "0"}
        )
        url = server.new_url()
        col = vectree.create_collection(url, dim=DIM, bucket_size=50, storage_options=opts)
        col.add(_data(100), ids=np.arange(100))
        col.build()
        base_version, base_len = col.version, len(col)

        outcomes = []  # per cut: "failed", "committed despite a fault", "clean"
        writer = vectree.open_collection(url, storage_options=opts)  # one writer: a warm cache, a steady request count
        for cut in range(40):
            before = writer.refresh().version
            new = _data(5, seed=cut)
            ids = np.arange(1000 + 10 * cut, 1005 + 10 * cut)
            refused_before = proxy.refused
            proxy.go_down_after(cut)
            try:
                writer.add(new, ids=ids)
                outcome = "clean" if proxy.refused == refused_before else "committed despite a fault"
            except StorageError as exc:
                outcome = "failed"
                assert url in str(exc)
            finally:
                proxy.come_up()
            outcomes.append(outcome)
            reader = vectree.open_collection(url, storage_options=opts)
            assert reader.verify().ok
            if outcome == "failed" and reader.version == before:
                writer.add(new, ids=ids)  # the same call succeeds now that the server is back
                reader.refresh()
            assert reader.version == before + 1  # exactly one new version, never a partial one
            np.testing.assert_array_equal(reader.get(ids).vectors, new)
            assert len(reader) == len(vectree.open_collection(url, version=before, storage_options=opts)) + 5
            if outcome == "clean":
                break
        assert outcomes[-1] == "clean" and outcomes.count("failed") >= 3, outcomes
        # the last request of a commit is the _latest hint: losing it leaves the commit in place
        assert "committed despite a fault" in outcomes, outcomes
        final = vectree.open_collection(url, storage_options=opts)
        assert len(final) == base_len + 5 * len(outcomes)
        assert [v["version"] for v in final.versions()] == list(range(final.version + 1))
        assert final.version == base_version + len(outcomes)
    finally:
        proxy.close()
