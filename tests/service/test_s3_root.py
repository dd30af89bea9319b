"""The service on an S3 root (the SeaweedFS server of the S3 tests): the same answers; 503 while the store is down."""

from __future__ import annotations

import uuid

import httpx
import numpy as np
import pytest

import vectree
from tests.serviceserver import ServiceServer, standard_keys
from vectree.errors import StorageError

QUICK_RETRY = {"attempts": 2, "base_delay_s": 0.02, "max_delay_s": 0.05}


@pytest.fixture(scope="module")
def s3_service(s3_fault_server, tmp_path_factory):
    root = f"s3://{s3_fault_server.bucket}/service-{uuid.uuid4().hex[:8]}"
    opts = s3_fault_server.storage_options(retry=QUICK_RETRY, timeout_s=5, connect_timeout_s=1)
    server = ServiceServer(
        root,
        storage_options=opts,
        args=["--rate", "100000", "--burst", "100000"],
        log=tmp_path_factory.mktemp("s3svc") / "service.log",
    )
    standard_keys(server)
    server.start()
    yield server, s3_fault_server
    server.stop()


def test_an_s3_root_serves_private_collections_and_answers_503_while_the_store_is_down(s3_service, arxiv_sample):
    server, s3 = s3_service
    x, ids = arxiv_sample["vectors"][:600], arxiv_sample["ids"][:600]
    with vectree.connect(server.url, api_key=server.keys["alice"], retries=1, backoff_s=0.05) as alice:
        col = alice.create_collection("papers", dim=384, metric="cosine", bucket_size=100, private=True)
        col.add(x, ids=ids)
        col.build()
        before = col.search(x[:5], k=3, exact=True)
        assert before.ids[:, 0].tolist() == ids[:5]
        h = {"authorization": f"Bearer {server.keys['bob']}"}
        assert httpx.get(server.url + "/collections/papers", headers=h).status_code == 404
        s3.stop()
        try:
            r = httpx.post(
                server.url + "/collections/papers/add",
                json={"vectors": [x[0].tolist()], "ids": ["new"]},
                headers={"authorization": f"Bearer {server.keys['alice']}"},
                timeout=60,
            )
            assert r.status_code == 503 and r.json()["error"]["type"] == "StorageError", r.text
            with pytest.raises(StorageError):
                col.upsert(x[:1], ids=["new"])
        finally:
            s3.start()
        col.add(x[:1] * 0.5 + x[1:2] * 0.5, ids=["new"])  # the same kind of call, once the store is back
        after = alice.open_collection("papers")
        assert len(after) == 601 and after.verify().ok
        np.testing.assert_array_equal(after.search(x[:5], k=3, exact=True).ids[:, 0], before.ids[:, 0])
