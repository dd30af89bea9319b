"""Transient S3 failures are retried with backoff; persistent ones end in a clear StorageError.

Runs against a SeaweedFS server of this module's own (stopped and restarted here) and a real TCP
proxy that injects 503s and lost responses (tests/storage/faultproxy.py).
"""

from __future__ import annotations

import threading

import pytest

from tests.storage.faultproxy import FaultProxy
from vectree.errors import NotFoundError, StorageError
from vectree.storage.retry import RetryPolicy

PATIENT = RetryPolicy(attempts=40, base_delay_s=0.05, max_delay_s=0.5, deadline_s=60)


@pytest.fixture
def proxy(s3_fault_server):
    p = FaultProxy(s3_fault_server.ports["s3.port"])
    yield p
    p.close()


def _via_proxy(server, proxy, **options):
    # a fresh connection per request, so a fault scheduled for the next connection hits the next request
    return server.open_store(endpoint_url=proxy.endpoint, client_options={"pool_max_idle_per_host": "0"}, **options)


def test_get_succeeds_when_the_server_comes_back_within_the_retry_window(s3_fault_server):
    store = s3_fault_server.open_store(retry=PATIENT)
    store.put("buckets/a", b"payload")
    s3_fault_server.stop(kill=True)
    restarter = threading.Timer(1.0, s3_fault_server.start)
    restarter.start()
    try:
        assert store.get("buckets/a") == b"payload"
    finally:
        restarter.join()
    assert store.retries > 0
    assert store.requests == store.retries + 2  # the put, then every attempt of the get


def test_a_server_that_stays_down_gives_a_storage_error_naming_url_and_key(s3_fault_server):
    store = s3_fault_server.open_store(retry=RetryPolicy(attempts=3, base_delay_s=0.01, max_delay_s=0.02))
    store.put("buckets/b", b"x")
    s3_fault_server.stop(kill=True)
    try:
        with pytest.raises(StorageError) as err:
            store.get("buckets/b")
        message = str(err.value)
        assert store.url in message and "buckets/b" in message and "3 attempt" in message
        assert s3_fault_server.endpoint in message
        with pytest.raises(StorageError, match="may or may not have been created"):
            store.put_if_absent("manifests/1", b"m")
    finally:
        s3_fault_server.start()
    assert store.get("buckets/b") == b"x"


def test_503_answers_are_retried(s3_fault_server, proxy):
    store = _via_proxy(s3_fault_server, proxy, retry=PATIENT)
    proxy.fail_next("503", times=3)
    store.put("k", b"v")
    assert proxy.faults_injected == 3
    assert store.retries == 3
    assert store.get("k") == b"v"


def test_not_found_is_not_retried(s3_fault_server):
    store = s3_fault_server.open_store(retry=PATIENT)
    with pytest.raises(NotFoundError):
        store.get("missing")
    assert store.retries == 0 and store.requests == 1


def test_a_won_conditional_put_whose_answer_was_lost_reports_success(s3_fault_server, proxy):
    store = _via_proxy(s3_fault_server, proxy, retry=PATIENT)
    proxy.fail_next("drop_response")
    assert store.put_if_absent("manifests/00000001.json", b"ours") is True
    assert store.retries >= 1
    assert store.get("manifests/00000001.json") == b"ours"


def test_a_lost_conditional_put_against_a_different_winner_reports_failure(s3_fault_server, proxy):
    store = _via_proxy(s3_fault_server, proxy, retry=PATIENT)
    other = s3_fault_server.open_store(store.url)
    # another writer wins the key; our first attempt then fails with a 503, so its outcome is uncertain
    assert other.put_if_absent("manifests/00000002.json", b"theirs") is True
    proxy.fail_next("503")
    assert store.put_if_absent("manifests/00000002.json", b"ours") is False
    assert store.get("manifests/00000002.json") == b"theirs"


def test_retry_policy_pauses_grow_and_are_bounded():
    policy = RetryPolicy(attempts=10, base_delay_s=0.1, max_delay_s=1.0)
    pauses = [policy.delay(i) for i in range(10)]
    assert 0.05 <= pauses[0] <= 0.1
    assert all(0.5 <= p <= 1.0 for p in pauses[4:])
    assert RetryPolicy.coerce({"attempts": 2}).attempts == 2 and RetryPolicy.coerce(3).attempts == 3
