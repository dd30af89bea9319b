"""The `store` fixture: the same behaviour tests run against every ObjectStore backend."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from vectree.storage import LocalStore, MemoryStore, ObjectStore


@pytest.fixture(params=["local", "memory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[ObjectStore]:
    """An empty store of each backend (S3: a fresh prefix on the session's SeaweedFS server)."""
    if request.param == "local":
        s: ObjectStore = LocalStore(tmp_path / "store")
    elif request.param == "memory":
        s = MemoryStore(f"test-{uuid.uuid4().hex}")
    else:
        s = request.getfixturevalue("s3_server").open_store()
    yield s
    s.close()
