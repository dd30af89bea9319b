"""What the blocking and the asyncio clients share: how each method becomes a request, and back.

Each client method is a :class:`Call` (method, path, body) and a function that turns the JSON
answer into the library's own return type; the two clients differ only in how they send it.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlparse

import httpx
import numpy as np

from vectree.errors import ConflictError, InvalidInputError, NotFoundError, StorageError, VectreeError
from vectree.service.wire import ARROW, rows_to_arrow

ARROW_ROWS = 256  # batches of at least this many rows travel as Arrow IPC streams


class ServiceError(VectreeError):
    """A refusal with no library counterpart: 401 (no valid key), 403 (not allowed), 413, 429 after retries."""

    def __init__(self, status: int, type_: str, message: str, detail: Any = None) -> None:
        super().__init__(f"{status} {type_}: {message}")
        self.status, self.type, self.detail = status, type_, detail


class PayloadTooLargeError(ServiceError, InvalidInputError):
    """413: the body is past the server's limit (split the batch)."""


class NameTakenError(InvalidInputError):
    """409 on create: the name is taken (the local library raises InvalidInputError there too)."""


_RAISES = {400: InvalidInputError, 422: InvalidInputError, 404: NotFoundError, 409: ConflictError, 503: StorageError}
RETRY_STATUSES = (429, 503)
# failures of the connection itself: a GET is retried after any of them, a write only when it never connected
TRANSIENT = (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError)


def raise_for(status: int, body: bytes) -> None:
    """Raise the library's exception for an error answer (the same one the local library would raise)."""
    try:
        err = json.loads(body)["error"]
        type_, message, detail = err["type"], err["message"], err.get("detail")
    except (ValueError, KeyError, TypeError):
        type_, message, detail = "HTTPError", body[:200].decode(errors="replace"), None
    if type_ == "NameTaken":
        raise NameTakenError(f"{message}; open it with open_collection, or pass exist_ok=True")
    if status == 413:
        raise PayloadTooLargeError(status, type_, message, detail)
    cls = _RAISES.get(status)
    if cls is not None:
        raise cls(message)
    raise ServiceError(status, type_, message, detail)


def backoff(attempt: int, retry_after: str | None, base_s: float) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): the server's Retry-After, else exponential with jitter.

    >>> backoff(0, "2", 0.1)
    2.0
    >>> 0.0 <= backoff(3, None, 0.1) <= 0.8
    True
    """
    if retry_after:
        try:
            return min(30.0, float(retry_after))
        except ValueError:
            pass
    return random.uniform(0, base_s * 2**attempt)


def outcome(
    call: Call, attempt: int, retries: int, backoff_s: float, url: str, answer: httpx.Response | Exception
) -> tuple[float | None, Any]:
    """What one attempt at ``call`` came to, for both clients: ``(seconds, None)`` to wait and try again, or
    ``(None, json)``, the decoded answer; a refusal raises the library's exception (:func:`raise_for`).

    ``answer`` is the response, or the :data:`TRANSIENT` error the attempt raised.

    >>> call = Call("GET", "/whoami")
    >>> outcome(call, 0, 5, 0.1, "http://h", httpx.Response(200, json={"tenant": "t"}))
    (None, {'tenant': 't'})
    >>> outcome(call, 0, 5, 0.1, "http://h", httpx.Response(429, headers={"retry-after": "2"}))
    (2.0, None)
    >>> outcome(call, 5, 5, 0.1, "http://h", httpx.Response(404, json={"error": {"type": "NotFound", "message": "no"}}))
    Traceback (most recent call last):
    ...
    vectree.errors.NotFoundError: no
    """
    if isinstance(answer, Exception):
        if attempt == retries or call.method != "GET" and not isinstance(answer, httpx.ConnectError):
            raise ServiceError(503, "Unreachable", f"{url}: {answer}") from answer
        return backoff(attempt, None, backoff_s), None
    if answer.status_code in RETRY_STATUSES and attempt < retries:
        return backoff(attempt, answer.headers.get("retry-after"), backoff_s), None
    if answer.status_code >= 400:
        raise_for(answer.status_code, answer.content)
    return None, answer.json()


@dataclass
class Call:
    method: str
    path: str
    json: Any = None
    content: bytes | None = None
    content_type: str | None = None
    params: dict[str, Any] | None = None

    def request_kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"params": self.params}
        if self.content is not None:
            kw["content"] = self.content
            kw["headers"] = {"content-type": self.content_type or "application/octet-stream"}
        elif self.json is not None:
            kw["content"] = json.dumps(self.json, allow_nan=True).encode()
            kw["headers"] = {"content-type": "application/json"}
        return kw


def name_of(name_or_url: str) -> str:
    """A collection name from a name or from a remote collection's url (``http://host/collections/NAME``).

    >>> name_of("http://127.0.0.1:8080/collections/papers"), name_of("papers")
    ('papers', 'papers')
    """
    s = str(name_or_url)
    if "://" in s:
        path = urlparse(s).path.rstrip("/")
        if "/collections/" not in path:
            raise InvalidInputError(f"{s!r} is not a remote collection url (http://host:port/collections/NAME)")
        return path.rsplit("/", 1)[1]
    return s


def _listify(x: Any) -> Any:
    if x is None:
        return None
    if isinstance(x, np.ndarray):
        return [v.item() if isinstance(v, np.generic) else v for v in x.tolist()] if x.ndim == 1 else x.tolist()
    if isinstance(x, (str, bytes, int, np.integer)):
        return [x.item() if isinstance(x, np.generic) else x]
    return [v.item() if isinstance(v, np.generic) else v for v in x]


def _vectors(vectors: Any) -> Any:
    """Vectors as lists for JSON (one vector stays one row); odd inputs go as they are, for the server to name."""
    try:
        arr = np.asarray(vectors, dtype=np.float64)
    except (ValueError, TypeError):
        return vectors
    return arr.tolist() if arr.ndim != 1 else [arr.tolist()]


def create_call(name: str, dim: int, metric: str, bucket_size: int | None, vector_dtype: str, private: bool) -> Call:
    """The request that creates an empty collection owned by the key's tenant.

    >>> create_call("papers", 384, "cosine", None, "float32", False).json["dim"]
    384
    """
    body = {
        "name": name_of(name),
        "dim": dim,
        "metric": metric,
        "private": private,
        "vector_dtype": vector_dtype,
        "bucket_size": bucket_size,
    }
    return Call("POST", "/collections", json=body)


def rows_call(path: str, vectors: Any, ids: Any, labels: Any, metadata: Any) -> Call:
    """An add/upsert body: Arrow IPC for large float batches, JSON otherwise."""
    try:
        arr = np.asarray(vectors)
        big = arr.ndim == 2 and len(arr) >= ARROW_ROWS and arr.dtype.kind == "f" and bool(np.isfinite(arr).all())
    except (ValueError, TypeError):
        big = False
    ids_l, labels_l = _listify(ids), _listify(labels)
    if (
        big
        and (ids_l is None or len({type(i) for i in ids_l}) == 1)
        and (labels_l is None or len({type(v) for v in labels_l if v is not None}) <= 1)
    ):
        try:
            return Call(
                "POST",
                path,
                content=rows_to_arrow(arr, ids_l, labels_l, None if metadata is None else list(metadata)),
                content_type=ARROW,
            )
        except Exception:  # noqa: BLE001 - anything Arrow cannot hold goes as JSON, and the server names the problem
            pass
    return Call(
        "POST",
        path,
        json={
            "vectors": _vectors(vectors),
            "ids": ids_l,
            "labels": labels_l,
            "metadata": None if metadata is None else list(metadata),
        },
    )


def search_call(
    path: str,
    queries: Any,
    k: Any,
    probes: Any,
    exact: bool,
    include_metadata: bool,
    version: int | None,
    method: str = "auto",
    where: Any = None,
    exclude_ids: Any = None,
) -> Call:
    settings = {
        "k": k,
        "probes": probes,
        "exact": bool(exact),
        "include_metadata": bool(include_metadata),
        "version": version,
        "method": method,
    }
    if where is not None or exclude_ids is not None:  # filters travel in JSON bodies
        return Call(
            "POST",
            path,
            json={
                "vectors": _vectors(queries),
                "where": where,
                "exclude_ids": _listify(exclude_ids),
                **{k_: (v.item() if isinstance(v, np.generic) else v) for k_, v in settings.items()},
            },
        )
    try:
        arr = np.asarray(queries)
        big = arr.ndim == 2 and len(arr) >= ARROW_ROWS and arr.dtype.kind == "f" and bool(np.isfinite(arr).all())
    except (ValueError, TypeError):
        big = False
    if big and all(isinstance(v, (int, np.integer)) for v in (k, probes)):
        params = {
            key: (str(v).lower() if isinstance(v, bool) else v if key == "method" else int(v))
            for key, v in settings.items()
            if v is not None
        }
        return Call("POST", path, content=rows_to_arrow(arr), content_type=ARROW, params=params)
    return Call(
        "POST",
        path,
        json={
            "vectors": _vectors(queries),
            **{k_: (v.item() if isinstance(v, np.generic) else v) for k_, v in settings.items()},
        },
    )


def q(name: str) -> str:
    return "/collections/" + quote(name, safe="")
