"""s3:// URLs open with the usual AWS conventions: explicit options, else environment variables."""

from __future__ import annotations

import pytest

from vectree.errors import InvalidInputError, StorageError
from vectree.storage import open_store
from vectree.storage.s3 import S3Store


def test_open_store_with_environment_variables(s3_server, monkeypatch):
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    url = s3_server.new_url()
    store = open_store(url)
    assert isinstance(store, S3Store) and store.url == url
    store.put("a", b"1")  # allow_http was derived from the http:// endpoint
    assert open_store(url).get("a") == b"1"


def test_service_specific_endpoint_variable_wins(s3_server, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint)
    assert S3Store.from_url("s3://b/p").endpoint_url == s3_server.endpoint


def test_explicit_options_override_the_environment(s3_server, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "wrong")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    store = open_store(s3_server.new_url(), **s3_server.storage_options())
    store.put("a", b"1")
    assert store.get("a") == b"1"
    assert S3Store.from_url("s3://b/p", endpoint_url="http://x:1").region == "eu-west-3"


def test_keys_are_relative_to_the_url_prefix(s3_server):
    outer = s3_server.open_store()
    inner = s3_server.open_store(outer.url + "/sub/col")
    inner.put("manifests/1.json", b"m")
    assert outer.list() == ["sub/col/manifests/1.json"]
    assert inner.list() == ["manifests/1.json"]


def test_wrong_credentials_give_a_storage_error_about_credentials(s3_server):
    store = s3_server.open_store(secret_access_key="not-the-secret")
    with pytest.raises(StorageError, match="credentials"):
        store.put("a", b"1")
    assert store.retries == 0


@pytest.mark.parametrize("url", ["s3://", "s3:///prefix", "http://bucket/x"])
def test_malformed_urls_are_rejected(url):
    with pytest.raises(InvalidInputError, match="s3://bucket"):
        S3Store.from_url(url)


def test_unknown_options_are_rejected():
    with pytest.raises(InvalidInputError, match="endpoint"):
        S3Store.from_url("s3://b/p", endpoint="http://x")


def test_an_s3_store_pickles_for_worker_processes(s3_server):
    import pickle

    store = s3_server.open_store()
    store.put("a", b"1")
    clone = pickle.loads(pickle.dumps(store))
    assert clone.url == store.url and clone.get("a") == b"1"
