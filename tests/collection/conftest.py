"""Fixtures shared by the collection tests."""

import numpy as np
import pytest

import vectree


@pytest.fixture()
def arxiv_root(tmp_path, arxiv_sample):
    """A built cosine collection of 3,000 real arXiv vectors (ids 0, 7, 14...) in about 40 buckets; its path."""
    col = vectree.create_collection(tmp_path / "c", dim=384, metric="cosine", bucket_size=100)
    col.add(arxiv_sample["vectors"][:3000], ids=np.arange(3000) * 7)
    col.build()
    return tmp_path / "c"


class _LocalDB:
    """The local library, addressed like a service: collections by name under one folder."""

    kind = "local"

    def __init__(self, root):  # noqa: ANN001
        self.root = root

    def create_collection(self, name, dim, metric="l2", bucket_size=None, **kw):  # noqa: ANN001, ANN003, ANN201
        return vectree.create_collection(self.root / name, dim=dim, metric=metric, bucket_size=bucket_size, **kw)

    def open_collection(self, url, version=None):  # noqa: ANN001, ANN201
        return vectree.open_collection(url, version=version)


class _RemoteDB:
    """The same calls through ``vectree.connect`` to the real service (names made unique per test)."""

    kind = "remote"

    def __init__(self, client, prefix):  # noqa: ANN001
        self.client, self.prefix = client, prefix

    def create_collection(self, name, dim, metric="l2", bucket_size=None, **kw):  # noqa: ANN001, ANN003, ANN201
        return self.client.create_collection(
            f"{self.prefix}-{name}", dim=dim, metric=metric, bucket_size=bucket_size, **kw
        )

    def open_collection(self, url, version=None):  # noqa: ANN001, ANN201
        return self.client.open_collection(url, version=version)


@pytest.fixture(params=["local", "remote"])
def db(request, tmp_path):
    """The collection API, local or through the HTTP service: tests using it run against both, so they cannot drift."""
    if request.param == "local":
        yield _LocalDB(tmp_path)
        return
    import uuid

    server = request.getfixturevalue("service_server")
    with vectree.connect(server.url, api_key=server.keys["alice"]) as client:
        yield _RemoteDB(client, uuid.uuid4().hex[:10])
