"""The blocking and asyncio clients return what the local library returns, over JSON and Arrow bodies."""

from __future__ import annotations

import asyncio
import uuid

import numpy as np

import vectree
from vectree.collection import SearchResult
from vectree.format.bucket import Rows
from vectree.service import connect_async
from vectree.service.calls import ARROW_ROWS, rows_call, search_call


def _load(col, s, n=1200):  # noqa: ANN001, ANN202
    meta = [{"title": t} for t in s["titles"][:n]]
    col.add(s["vectors"][:n], ids=s["ids"][:n], labels=s["categories"][:n], metadata=meta)
    col.build()
    return col


def test_remote_answers_equal_local_answers_over_arrow_and_json(service_server, arxiv_sample, tmp_path):
    s = arxiv_sample
    local = _load(vectree.create_collection(tmp_path / "c", dim=384, metric="cosine", bucket_size=100), s)
    assert (
        rows_call("/x", s["vectors"][:1200], s["ids"][:1200], None, None).content_type is not None
    )  # this add goes as Arrow
    with vectree.connect(service_server.url, api_key=service_server.keys["alice"]) as db:
        remote = _load(db.create_collection(f"cl-{uuid.uuid4().hex[:8]}", dim=384, metric="cosine", bucket_size=100), s)
        assert len(remote) == len(local) == 1200
        for queries in (s["vectors"][1200:1210], s["vectors"][1200 : 1200 + ARROW_ROWS + 10]):  # JSON, then Arrow
            as_arrow = search_call("/x", queries, 10, 4, False, False, None).content_type is not None
            assert as_arrow == (len(queries) > ARROW_ROWS)
            for kw in ({"exact": True}, {"probes": 4}):
                a, b = local.search(queries, k=10, **kw), remote.search(queries, k=10, **kw)
                assert isinstance(b, SearchResult) and b.ids.dtype == a.ids.dtype == object
                np.testing.assert_array_equal(b.ids, a.ids)
                np.testing.assert_array_equal(b.labels, a.labels)
                np.testing.assert_allclose(b.distances, a.distances, rtol=1e-6, atol=1e-6)
        where = {"label": {"$eq": s["categories"][5]}}  # filters travel too, with the library's meaning
        fa = local.search(s["vectors"][:5], k=5, probes=4, where=where, exclude_ids=[s["ids"][5]])
        fb = remote.search(s["vectors"][:5], k=5, probes=4, where=where, exclude_ids=[s["ids"][5]])
        np.testing.assert_array_equal(fb.ids, fa.ids)
        assert s["ids"][5] not in fb.ids.ravel().tolist()
        one = remote.search(s["vectors"][5], k=3, probes=2, include_metadata=True)
        assert one.ids[0, 0] == s["ids"][5] and one.metadata[0][0] == {"title": s["titles"][5]}
        rows = remote.get([s["ids"][9], s["ids"][2]])
        want = local.get([s["ids"][9], s["ids"][2]])
        assert isinstance(rows, Rows) and rows.ids.tolist() == want.ids.tolist() and rows.metadata == want.metadata
        np.testing.assert_allclose(rows.vectors, want.vectors, rtol=1e-6)
        assert remote.verify().ok and [v["operation"] for v in remote.versions()] == ["create", "add", "build"]


def test_fewer_rows_than_k_come_back_as_missing_like_locally(service_server, tmp_path):
    x = np.eye(3, dtype=np.float32)
    local = vectree.create_collection(tmp_path / "small", dim=3)
    local.add(x, labels=[1, 2, 3])
    with vectree.connect(service_server.url, api_key=service_server.keys["bob"]) as db:
        remote = db.create_collection(f"small-{uuid.uuid4().hex[:8]}", dim=3)
        remote.add(x, labels=[1, 2, 3])
        a, b = local.search(x[0], k=5), remote.search(x[0], k=5)
    np.testing.assert_array_equal(b.ids, a.ids)  # -1 past the three rows
    assert np.isinf(b.distances[0, 3:]).all() and b.ids.dtype == np.int64
    assert b.labels.dtype == a.labels.dtype and b.labels[0, :3].tolist() == a.labels[0, :3].tolist()


def test_the_asyncio_client_serves_concurrent_calls_from_one_event_loop(service_server, arxiv_sample):
    s = arxiv_sample

    async def main() -> tuple:
        async with connect_async(service_server.url, api_key=service_server.keys["alice"]) as db:
            col = await db.create_collection(f"aio-{uuid.uuid4().hex[:8]}", dim=384, metric="cosine")
            await col.add(s["vectors"][:500], ids=list(range(500)))
            await col.build()
            results = await asyncio.gather(*(col.search(s["vectors"][i], k=1, exact=True) for i in range(0, 500, 25)))
            await col.delete([0, 25])
            after = await col.search(s["vectors"][0], k=1, exact=True)
            again = await db.open_collection(col.name)
            return results, after, len(again), (await col.verify()).ok, await col.versions()

    results, after, n, ok, versions = asyncio.run(main())
    assert [r.ids[0, 0] for r in results] == list(range(0, 500, 25))
    assert after.ids[0, 0] != 0 and n == 498 and ok
    assert [v["operation"] for v in versions] == ["create", "add", "build", "delete"]
