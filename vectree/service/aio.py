"""The asyncio client: ``vectree.service.connect_async(url, api_key=...)``, the same methods as :mod:`client`, awaited::

async def main():
    async with connect_async("http://127.0.0.1:8080", api_key=KEY) as db:
        col = await db.open_collection("papers")
        return (await col.search(queries, k=10)).ids
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from vectree.collection import SearchResult, VerifyReport
from vectree.collection.plan import DEFAULT_PROBES
from vectree.format.bucket import Rows
from vectree.service.calls import TRANSIENT, Call, NameTakenError, create_call, name_of, outcome, q
from vectree.service.client import CollectionCalls
from vectree.service.wire import json_to_report, json_to_result


class AsyncClient:
    """An asyncio connection to a vectree service (see :func:`connect_async`)."""

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 60.0,
        retries: int = 5,
        backoff_s: float = 0.1,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.retries, self.backoff_s = int(retries), float(backoff_s)
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.AsyncClient(base_url=self.url, headers=headers, timeout=timeout_s, transport=transport)

    async def request(self, call: Call) -> Any:
        """Send ``call``; retry 429/503 and refused connections with backoff; raise the library's errors."""
        for attempt in range(self.retries + 1):
            try:
                answer: httpx.Response | Exception = await self._http.request(
                    call.method, call.path, **call.request_kwargs()
                )
            except TRANSIENT as exc:
                answer = exc
            wait, decoded = outcome(call, attempt, self.retries, self.backoff_s, self.url, answer)
            if wait is None:
                return decoded
            await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    async def _run(self, pair: tuple[Call, Callable[[Any], Any]]) -> Any:
        call, decode = pair
        return decode(await self.request(call))

    async def create_collection(
        self,
        name: str,
        dim: int,
        metric: str = "l2",
        bucket_size: int | None = None,
        *,
        vector_dtype: str = "float32",
        private: bool = False,
        exist_ok: bool = False,
    ) -> AsyncRemoteCollection:
        """Create an empty collection owned by the key's tenant."""
        try:
            info = await self.request(create_call(name, dim, metric, bucket_size, vector_dtype, private))
        except NameTakenError:
            if exist_ok:
                return await self.open_collection(name)
            raise
        return AsyncRemoteCollection(self, info, pinned=False)

    async def open_collection(self, name: str, version: int | None = None) -> AsyncRemoteCollection:
        """The collection ``name`` at its newest version, or read-only at ``version``."""
        n = name_of(name)
        info = await self.request(
            Call("GET", q(n) + "/info", params={"version": version} if version is not None else None)
        )
        latest = info if version is None else await self.request(Call("GET", q(n)))
        return AsyncRemoteCollection(self, info, pinned=version is not None and int(version) != int(latest["version"]))

    async def list_collections(self) -> list[dict[str, Any]]:
        return (await self.request(Call("GET", "/collections")))["collections"]

    async def drop_collection(self, name: str) -> None:
        await self.request(Call("DELETE", q(name_of(name))))

    async def whoami(self) -> dict[str, Any]:
        return await self.request(Call("GET", "/whoami"))

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


class AsyncRemoteCollection(CollectionCalls):
    """A remote collection for asyncio code: the methods of :class:`~vectree.service.client.RemoteCollection`,
    awaited."""

    def __init__(self, client: AsyncClient, info: dict[str, Any], pinned: bool) -> None:
        super().__init__(client.url, info, pinned)
        self._client = client

    async def refresh(self) -> AsyncRemoteCollection:
        return await self._client._run(self._refresh())

    async def search(
        self,
        queries: Any,
        k: int = 10,
        probes: int = DEFAULT_PROBES,
        *,
        exact: bool = False,
        include_metadata: bool = False,
        method: str = "auto",
        where: dict[str, Any] | None = None,
        exclude_ids: Any = None,
    ) -> SearchResult:
        return await self._client._run(
            self._search(queries, k, probes, exact, include_metadata, method, where, exclude_ids)
        )

    async def get(self, ids: Any) -> Rows:
        return await self._client._run(self._get(ids))

    async def add(self, vectors: Any, ids: Any = None, labels: Any = None, metadata: Any = None) -> int:
        return await self._client._run(self._add(vectors, ids, labels, metadata, upsert=False))

    async def upsert(self, vectors: Any, ids: Any, labels: Any = None, metadata: Any = None) -> int:
        return await self._client._run(self._add(vectors, ids, labels, metadata, upsert=True))

    async def delete(self, ids: Any, missing_ok: bool = False) -> int:
        return await self._client._run(self._delete(ids, missing_ok))

    async def build(self) -> int:
        return await self._client._run(self._write(Call("POST", q(self.name) + "/build")))

    async def compact(self) -> int:
        return await self._client._run(self._write(Call("POST", q(self.name) + "/compact")))

    async def verify(self, all_versions: bool = False) -> VerifyReport:
        return json_to_report(
            await self._client.request(
                Call("POST", q(self.name) + "/verify", json={"all_versions": bool(all_versions)})
            )
        )

    async def versions(self) -> list[dict[str, Any]]:
        return (await self._client.request(Call("GET", q(self.name) + "/versions")))["versions"]

    async def stats(self) -> dict[str, Any]:
        return await self._client.request(Call("GET", q(self.name) + "/stats", params={"version": self.version}))

    async def search_text(
        self,
        texts: Any,
        k: int = 10,
        probes: int = DEFAULT_PROBES,
        *,
        exact: bool = False,
        include_metadata: bool = False,
    ) -> SearchResult:
        return json_to_result(
            await self._client.request(
                self._text("search_text", texts, k=k, probes=probes, exact=exact, include_metadata=include_metadata)
            )
        )

    async def classify(self, texts: Any) -> dict[str, Any]:
        return await self._client.request(self._text("classify", texts))


def connect_async(url: str, api_key: str | None = None, **options: Any) -> AsyncClient:
    """An asyncio client of the vectree service at ``url`` (use ``async with`` or ``await client.close()``).

    >>> connect_async("http://127.0.0.1:9", api_key="vt_x").url
    'http://127.0.0.1:9'
    """
    return AsyncClient(url, api_key, **options)
