"""The blocking client: ``vectree.connect(url, api_key=...)``, with the local library's methods and return types::

    import vectree
    db = vectree.connect("http://127.0.0.1:8080", api_key=KEY)
    col = db.create_collection("papers", dim=384, metric="cosine")
    col.add(vectors, ids=ids); col.build()
    col.search(queries, k=10, probes=8).ids                  # (n, k), as locally

What a reader sees: like a local :class:`vectree.Collection`, a remote collection reads the version it
opened (or last wrote) until :meth:`RemoteCollection.refresh`; other writers' commits do not change its
answers. Requests answered 429 or 503 are retried with exponential backoff (honouring Retry-After).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from vectree.collection import SearchResult, VerifyReport
from vectree.collection.plan import DEFAULT_PROBES
from vectree.errors import InvalidInputError
from vectree.format.bucket import Rows
from vectree.service.calls import (
    TRANSIENT,
    Call,
    NameTakenError,
    ServiceError,  # noqa: F401 - part of this module's public names (vectree.service re-exports it)
    create_call,
    name_of,
    outcome,
    q,
    rows_call,
    search_call,
)
from vectree.service.wire import json_to_report, json_to_result, json_to_rows


class CollectionCalls:
    """The requests of a remote collection and how their answers decode (shared by both clients)."""

    def __init__(self, base_url: str, info: dict[str, Any], pinned: bool) -> None:
        self._base = base_url
        self._info = info
        self._pinned = pinned

    # what the local Collection exposes as properties
    name = property(lambda self: self._info["name"])
    url = property(lambda self: f"{self._base}/collections/{self._info['name']}")
    version = property(lambda self: int(self._info["version"]))
    dim = property(lambda self: int(self._info["dim"]))
    metric = property(lambda self: str(self._info["metric"]))
    private = property(lambda self: bool(self._info["private"]))
    owner = property(lambda self: str(self._info["owner"]))
    info = property(lambda self: dict(self._info))

    def __len__(self) -> int:
        return int(self._info["rows"])

    def __repr__(self) -> str:
        return (
            f"RemoteCollection({self.url!r}, version={self.version}, rows={len(self)}, dim={self.dim}, "
            f"metric={self.metric!r})"
        )

    def _write(self, call: Call) -> tuple[Call, Callable[[Any], int]]:
        if self._pinned:
            raise InvalidInputError(
                f"this collection was opened at version {self.version}; open the latest version to write"
            )

        def done(body: dict[str, Any]) -> int:
            self._info.update(version=body["version"], rows=body["rows"])
            return int(body["version"])

        return call, done

    def _refresh(self) -> tuple[Call, Callable[[Any], Any]]:
        def done(body: dict[str, Any]) -> Any:
            self._info = body
            self._pinned = False
            return self

        return Call("GET", q(self.name)), done

    def _search(
        self,
        queries: Any,
        k: Any,
        probes: Any,
        exact: bool,
        include_metadata: bool,
        method: str = "auto",
        where: Any = None,
        exclude_ids: Any = None,
    ) -> tuple[Call, Callable]:
        call = search_call(
            q(self.name) + "/search",
            queries,
            k,
            probes,
            exact,
            include_metadata,
            self.version,
            method,
            where,
            exclude_ids,
        )
        return call, json_to_result

    def _get(self, ids: Any) -> tuple[Call, Callable]:
        from vectree.service.calls import _listify

        id_type = self._info.get("id_type")
        return Call(
            "POST", q(self.name) + "/get", json={"ids": _listify(ids), "version": self.version}
        ), lambda b: json_to_rows(b, id_type)

    def _add(self, vectors: Any, ids: Any, labels: Any, metadata: Any, upsert: bool) -> tuple[Call, Callable]:
        if upsert and ids is None:
            raise InvalidInputError("upsert needs ids= (it replaces rows by id)")
        return self._write(rows_call(q(self.name) + ("/upsert" if upsert else "/add"), vectors, ids, labels, metadata))

    def _delete(self, ids: Any, missing_ok: bool) -> tuple[Call, Callable]:
        from vectree.service.calls import _listify

        return self._write(
            Call("POST", q(self.name) + "/delete", json={"ids": _listify(ids), "missing_ok": bool(missing_ok)})
        )

    def _text(self, route: str, texts: Any, **settings: Any) -> Call:
        texts = [texts] if isinstance(texts, str) else list(texts)
        return Call("POST", q(self.name) + "/" + route, json={"texts": texts, **settings})


class Client:
    """A connection to a vectree service (see :func:`connect`)."""

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 60.0,
        retries: int = 5,
        backoff_s: float = 0.1,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.retries, self.backoff_s = int(retries), float(backoff_s)
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s, transport=transport)

    def request(self, call: Call) -> Any:
        """Send ``call``; retry 429/503 and refused connections with backoff; raise the library's errors."""
        for attempt in range(self.retries + 1):
            try:
                answer: httpx.Response | Exception = self._http.request(call.method, call.path, **call.request_kwargs())
            except TRANSIENT as exc:
                answer = exc
            wait, decoded = outcome(call, attempt, self.retries, self.backoff_s, self.url, answer)
            if wait is None:
                return decoded
            time.sleep(wait)
        raise AssertionError("unreachable")

    def _run(self, pair: tuple[Call, Callable[[Any], Any]]) -> Any:
        call, decode = pair
        return decode(self.request(call))

    def create_collection(
        self,
        name: str,
        dim: int,
        metric: str = "l2",
        bucket_size: int | None = None,
        *,
        vector_dtype: str = "float32",
        private: bool = False,
        exist_ok: bool = False,
    ) -> RemoteCollection:
        """Create an empty collection owned by the key's tenant (as :func:`vectree.create_collection`)."""
        try:
            info = self.request(create_call(name, dim, metric, bucket_size, vector_dtype, private))
        except NameTakenError:
            if exist_ok:
                return self.open_collection(name)
            raise
        return RemoteCollection(self, info, pinned=False)

    def open_collection(self, name: str, version: int | None = None) -> RemoteCollection:
        """The collection ``name`` (or a remote collection's url) at its newest version, or read-only at ``version``."""
        n = name_of(name)
        info = self.request(Call("GET", q(n) + "/info", params={"version": version} if version is not None else None))
        latest = info if version is None else self.request(Call("GET", q(n)))
        return RemoteCollection(self, info, pinned=version is not None and int(version) != int(latest["version"]))

    def list_collections(self) -> list[dict[str, Any]]:
        """The collections this key may see: name, owner, private, dim, metric, rows, version..."""
        return self.request(Call("GET", "/collections"))["collections"]

    def drop_collection(self, name: str) -> None:
        """Remove a collection and all its versions (owner or admin keys only)."""
        self.request(Call("DELETE", q(name_of(name))))

    def whoami(self) -> dict[str, Any]:
        return self.request(Call("GET", "/whoami"))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class RemoteCollection(CollectionCalls):
    """A collection behind a vectree service, with the methods and return types of :class:`vectree.Collection`."""

    def __init__(self, client: Client, info: dict[str, Any], pinned: bool) -> None:
        super().__init__(client.url, info, pinned)
        self._client = client

    def refresh(self) -> RemoteCollection:
        """Move to the newest committed version."""
        return self._client._run(self._refresh())

    def search(
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
        """The k nearest rows of each query (see :meth:`vectree.Collection.search`, filters included)."""
        return self._client._run(self._search(queries, k, probes, exact, include_metadata, method, where, exclude_ids))

    def get(self, ids: Any) -> Rows:
        """The stored rows with these ids, in that order."""
        return self._client._run(self._get(ids))

    def add(self, vectors: Any, ids: Any = None, labels: Any = None, metadata: Any = None) -> int:
        """Add rows (refuses stored ids); returns the new version."""
        return self._client._run(self._add(vectors, ids, labels, metadata, upsert=False))

    def upsert(self, vectors: Any, ids: Any, labels: Any = None, metadata: Any = None) -> int:
        """Insert rows, replacing stored rows with the same ids; returns the new version."""
        return self._client._run(self._add(vectors, ids, labels, metadata, upsert=True))

    def delete(self, ids: Any, missing_ok: bool = False) -> int:
        """Hide rows by id from every search; returns the new version."""
        return self._client._run(self._delete(ids, missing_ok))

    def build(self) -> int:
        """Fit the index on every live row; returns the new version."""
        return self._client._run(self._write(Call("POST", q(self.name) + "/build")))

    def compact(self) -> int:
        """Fold the tail into the tree and drop deletions; returns the new version."""
        return self._client._run(self._write(Call("POST", q(self.name) + "/compact")))

    def verify(self, all_versions: bool = False) -> VerifyReport:
        """Have the server re-read every object and check its fingerprint."""
        return json_to_report(
            self._client.request(Call("POST", q(self.name) + "/verify", json={"all_versions": bool(all_versions)}))
        )

    def versions(self) -> list[dict[str, Any]]:
        """Every committed version: number, time, operation and row count."""
        return self._client.request(Call("GET", q(self.name) + "/versions"))["versions"]

    def stats(self) -> dict[str, Any]:
        """Sizes, the tree's shape and the server's read cache counters, at this version."""
        return self._client.request(Call("GET", q(self.name) + "/stats", params={"version": self.version}))

    def embed(self, texts: Any) -> Any:
        """Texts embedded by the collection's stored embedder, (n, dim) float32."""
        import numpy as np

        return np.asarray(self._client.request(self._text("embed", texts))["vectors"], dtype=np.float32)

    def search_text(
        self,
        texts: Any,
        k: int = 10,
        probes: int = DEFAULT_PROBES,
        *,
        exact: bool = False,
        include_metadata: bool = False,
    ) -> SearchResult:
        """Search by text, embedded on the server with the collection's embedder."""
        return json_to_result(
            self._client.request(
                self._text("search_text", texts, k=k, probes=probes, exact=exact, include_metadata=include_metadata)
            )
        )

    def classify(self, texts: Any) -> dict[str, Any]:
        """The fitted classifier's labels, classes and probabilities for ``texts``."""
        return self._client.request(self._text("classify", texts))

    def recommend(self, users: Any, k: int = 10) -> Any:
        """Top-k item indices per user, (n, k) int64, from the collection's RankingFunnel."""
        import numpy as np

        body = {"users": [int(u) for u in np.atleast_1d(users)], "k": k}
        return np.asarray(
            self._client.request(Call("POST", q(self.name) + "/recommend", json=body))["items"], dtype=np.int64
        )


def connect(url: str, api_key: str | None = None, **options: Any) -> Client:
    """A client of the vectree service at ``url``; options: timeout_s, retries, backoff_s.

    >>> client = connect("http://127.0.0.1:9", api_key="vt_x", retries=0)
    >>> client.url
    'http://127.0.0.1:9'
    """
    return Client(url, api_key, **options)
