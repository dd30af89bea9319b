"""A prefix in an S3-compatible bucket as an object store (AWS S3, SeaweedFS, MinIO...), over obstore.

Connection settings follow the AWS conventions: explicit options win, then environment variables
(``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_SESSION_TOKEN``, ``AWS_REGION`` / ``AWS_DEFAULT_REGION``). A plain ``http://`` endpoint
turns on ``allow_http``.

Failures: a missing key raises :class:`~vectree.errors.NotFoundError`; transient failures
(refused or reset connections, timeouts, HTTP 5xx/429/408) are retried with backoff
(:class:`~vectree.storage.retry.RetryPolicy`) and then raise :class:`~vectree.errors.StorageError`
naming the URL and key. ``put_if_absent`` uses ``If-None-Match: *``; if an attempt's outcome was
lost (the connection dropped after sending), the retry that then finds the object reads it back
and reports success only if the stored bytes are exactly ours.

Every HTTP request is counted in :attr:`S3Store.requests`; :attr:`S3Store.round_trips` is their
dependency depth (:mod:`vectree.storage.trace`): requests a caller waited for one after the other.
A :meth:`S3Store.get_many` or :meth:`S3Store.get_ranges` batch is one round trip however many
objects it reads, and a request sent with :meth:`S3Store.submit` overlaps whatever the caller does
meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlparse

import obstore
import obstore.exceptions as obx
from obstore.store import S3Store as _ObS3Store

from vectree.errors import InvalidInputError, NotFoundError, StorageError
from vectree.storage.base import ObjectInfo, ObjectStore
from vectree.storage.retry import GaveUp, RetryPolicy, call_with_retry
from vectree.storage.s3_clients import shared_client
from vectree.storage.s3_errors import is_transient, translate
from vectree.storage.trace import Pending, RequestDepth

T = TypeVar("T")

_OPTIONS = {
    "endpoint_url", "region", "access_key_id", "secret_access_key", "session_token", "allow_http",
    "retry", "timeout_s", "connect_timeout_s", "max_workers", "client_options", "share_client",
}  # fmt: skip


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


class S3Store(ObjectStore):
    """Objects under ``s3://bucket/prefix/``; keys are relative to the prefix.

    Parameters
    ----------
    bucket, prefix:
        Where the objects live.
    endpoint_url:
        An S3-compatible endpoint such as ``http://127.0.0.1:8333`` (None: AWS itself).
    region, access_key_id, secret_access_key, session_token:
        Credentials and region; None falls back to the environment (and then to obstore's chain).
    allow_http:
        Permit a plain-http endpoint; by default true exactly when the endpoint is ``http://``.
    retry:
        A :class:`RetryPolicy`, a dict of its fields or a number of attempts.
    timeout_s, connect_timeout_s:
        Per-request timeouts; a timeout is a transient failure.
    max_workers:
        Parallel requests in :meth:`get_many` / :meth:`put_many`.
    client_options:
        Extra obstore HTTP client options (e.g. ``{"pool_max_idle_per_host": "0"}``).
    share_client:
        Use the process's client for these settings (:mod:`vectree.storage.s3_clients`): a new handle
        then costs no client build and reuses its idle connections; it caches no data. False: a client
        (and connections) of its own.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        allow_http: bool | None = None,
        retry: RetryPolicy | dict[str, Any] | int | None = None,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 5.0,
        max_workers: int = 16,
        client_options: dict[str, Any] | None = None,
        share_client: bool = True,
    ) -> None:
        if not bucket:
            raise InvalidInputError("S3Store needs a bucket name, e.g. s3://my-bucket/collections/name")
        self._init_args = (bucket, prefix, dict(
            endpoint_url=endpoint_url, region=region, access_key_id=access_key_id, secret_access_key=secret_access_key,
            session_token=session_token, allow_http=allow_http, retry=retry, timeout_s=timeout_s,
            connect_timeout_s=connect_timeout_s, max_workers=max_workers, client_options=client_options,
            share_client=share_client,
        ))  # fmt: skip
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self.endpoint_url = endpoint_url or _env("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
        self.region = region or _env("AWS_REGION", "AWS_DEFAULT_REGION") or "us-east-1"
        if allow_http is None:
            allow_http = bool(self.endpoint_url and self.endpoint_url.lower().startswith("http://"))
        self.retry = RetryPolicy.coerce(retry)
        self.max_workers = int(max_workers)
        config: dict[str, Any] = {"region": self.region}
        if self.endpoint_url:
            config["endpoint"] = self.endpoint_url
        access_key_id = access_key_id or _env("AWS_ACCESS_KEY_ID")
        secret_access_key = secret_access_key or _env("AWS_SECRET_ACCESS_KEY")
        session_token = session_token or _env("AWS_SESSION_TOKEN")
        if access_key_id and secret_access_key:
            config["access_key_id"] = access_key_id
            config["secret_access_key"] = secret_access_key
            if session_token:
                config["token"] = session_token
        options = {
            "allow_http": bool(allow_http),
            "timeout": timedelta(seconds=timeout_s),
            "connect_timeout": timedelta(seconds=connect_timeout_s),
        } | dict(client_options or {})
        retry_config = {"max_retries": 0, "retry_timeout": timedelta(seconds=timeout_s)}
        try:
            if share_client:
                self._store = shared_client(bucket, self.prefix or None, config, options, retry_config)
            else:
                self._store = _ObS3Store(
                    bucket, prefix=self.prefix or None, config=config, client_options=options, retry_config=retry_config
                )
        except obx.BaseError as exc:
            raise InvalidInputError(f"cannot configure S3 store {self.url}: {exc}") from exc
        self._lock = threading.Lock()
        self.trace = RequestDepth()
        self.retries = 0
        self.bytes_read = 0
        self.bytes_written = 0

    @classmethod
    def from_url(cls, url: str, **options: Any) -> S3Store:
        """Open ``s3://bucket/prefix`` with the constructor's keyword options.

        >>> S3Store.from_url("s3://my-bucket/a/b", endpoint_url="http://127.0.0.1:9").url
        's3://my-bucket/a/b'
        """
        parsed = urlparse(str(url))
        if parsed.scheme.lower() != "s3" or not parsed.netloc:
            raise InvalidInputError(f"expected an s3://bucket/prefix URL, got {url!r}")
        unknown = set(options) - _OPTIONS
        if unknown:
            raise InvalidInputError(f"unknown S3 option(s) {sorted(unknown)}; known: {sorted(_OPTIONS)}")
        return cls(parsed.netloc, parsed.path, **options)

    # -- bookkeeping -------------------------------------------------------------------------

    ranged_reads = True  # a GET of a part of an object costs what a GET of a small one does

    @property
    def requests(self) -> int:
        """HTTP requests since creation (or :meth:`reset_stats`), retries included."""
        return self.trace.requests

    @property
    def round_trips(self) -> int:
        """The dependency depth of those requests: how many the slowest flow waited for in sequence."""
        return self.trace.deepest

    def stats(self) -> dict[str, int]:
        """Requests, round trips, retries and bytes moved since creation (or :meth:`reset_stats`)."""
        with self._lock:
            return {
                "requests": self.requests,
                "round_trips": self.round_trips,
                "retries": self.retries,
                "bytes_read": self.bytes_read,
                "bytes_written": self.bytes_written,
            }

    def reset_stats(self) -> None:
        """Zero the counters."""
        with self._lock:
            self.retries = self.bytes_read = self.bytes_written = 0
        self.trace.reset()

    def _count(self, read: int = 0, written: int = 0) -> None:
        with self._lock:
            self.bytes_read += read
            self.bytes_written += written

    def _on_retry(self, _attempt: int, _exc: BaseException) -> None:
        with self._lock:
            self.retries += 1

    @staticmethod
    def _check_key(key: str) -> str:
        if not key or key.startswith("/") or ".." in key.split("/") or "//" in key:
            raise StorageError(f"invalid object key {key!r}: keys are relative paths without '..' or '//'")
        return key

    def _call(self, what: str, key: str, fn: Callable[[], T]) -> T:
        """Run one request with retries, translating errors; each attempt is counted (:attr:`trace`)."""

        def attempt() -> T:
            return self.trace.request(fn)

        try:
            return call_with_retry(attempt, self.retry, is_transient, on_retry=self._on_retry, what=f"{what} {key}")
        except (obx.AlreadyExistsError, obx.PreconditionError):
            raise
        except (GaveUp, FileNotFoundError, obx.BaseError) as exc:
            raise translate(exc, what, key, self.url, self.endpoint_url) from (
                exc.last if isinstance(exc, GaveUp) else None if isinstance(exc, FileNotFoundError) else exc
            )

    # -- the ObjectStore interface -------------------------------------------------------------

    def _get(self, key: str) -> bytes:
        self._check_key(key)

        def fetch() -> bytes:
            data = obstore.get(self._store, key).bytes().to_bytes()
            self._count(read=len(data))
            return data

        return self._call("get", key, fetch)

    def get(self, key: str) -> bytes:
        return self._get(key)

    def get_range(self, key: str, start: int, end: int) -> bytes:
        return bytes(self._get_range(key, start, end))

    def _get_range(self, key: str, start: int, end: int) -> bytes | memoryview:
        """``get_range`` as the client's own buffer (read-only, no copy)."""
        self._check_key(key)
        if end <= start:
            return b""

        def fetch() -> bytes | memoryview:
            try:
                data = memoryview(obstore.get_range(self._store, key, start=start, end=end))
            except obx.BaseError as exc:
                if "416" in str(exc) or "not satisfiable" in str(exc).lower():
                    return b""  # start past the end, as a file read would return
                raise
            self._count(read=len(data))
            return data

        return self._call("get_range", key, fetch)

    def get_many(self, keys: Sequence[str], max_workers: int | None = None) -> list[bytes]:
        """Fetch ``keys`` concurrently: one round trip of latency for the whole batch."""
        keys = list(keys)
        if len(keys) <= 1:
            return [self.get(k) for k in keys]
        return self.trace.map(self._get, keys, self.max_workers)

    def get_ranges(
        self, items: Sequence[tuple[str, int, int | None]], then: Callable[[int, Any], Any] | None = None
    ) -> list[Any]:
        """Bytes ``[start, end)`` of each ``(key, start, end)`` (``end=None``: the whole object), one request
        each, all in parallel; ranges come as read-only buffers of the client (no copy). ``then(i, data)``
        runs on each answer on the thread that received it (see :meth:`ObjectStore.get_ranges`)."""

        def one(i: int) -> Any:
            key, start, end = items[i]
            data = self._get(key) if end is None else self._get_range(key, start, end)
            return data if then is None else then(i, data)

        items = list(items)
        if len(items) <= 1:
            return [one(i) for i in range(len(items))]
        return self.trace.map(one, range(len(items)), self.max_workers)

    def submit(self, fn: Callable[[], T]) -> Pending[T]:
        """Run ``fn`` (which makes requests to this store) in the background; its round trips overlap
        the caller's until the caller waits for :meth:`Pending.result`."""
        return self.trace.submit(fn, self.max_workers)

    def _put(self, key: str, data: bytes) -> None:
        self._check_key(key)
        data = bytes(data)

        def send() -> None:
            obstore.put(self._store, key, data, use_multipart=len(data) > 256 * 1024 * 1024)
            self._count(written=len(data))

        self._call("put", key, send)

    def put(self, key: str, data: bytes) -> None:
        self._put(key, data)

    def put_many(self, items: Iterable[tuple[str, bytes]], max_workers: int | None = None) -> None:
        items = list(items)
        if len(items) <= 1:
            for k, d in items:
                self.put(k, d)
            return
        self.trace.map(lambda kd: self._put(kd[0], kd[1]), items, self.max_workers)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        self._check_key(key)
        data = bytes(data)
        uncertain = False  # an earlier attempt failed in a way that may have written the object

        def send() -> bool:
            nonlocal uncertain
            try:
                obstore.put(self._store, key, data, mode="create", use_multipart=False)
            except (obx.AlreadyExistsError, obx.PreconditionError):
                if not uncertain:
                    return False
                return self.stored_bytes_equal(key, data)
            except Exception as exc:
                if is_transient(exc):
                    uncertain = True
                raise
            self._count(written=len(data))
            return True

        try:
            return self._call("put_if_absent", key, send)
        except StorageError as exc:
            if uncertain:
                raise StorageError(
                    f"{exc} The object may or may not have been created: read {key!r} back to find out."
                ) from exc.__cause__
            raise

    def stored_bytes_equal(self, key: str, data: bytes) -> bool:
        """After an attempt whose answer was lost: did it store exactly ``data``?"""
        self.trace.step()
        stored = obstore.get(self._store, key).bytes().to_bytes()
        self._count(read=len(stored))
        return stored == data

    def exists(self, key: str) -> bool:
        self._check_key(key)
        try:
            self._call("head", key, lambda: obstore.head(self._store, key))
        except NotFoundError:
            return False
        return True

    def list(self, prefix: str = "") -> list[str]:
        return [info.key for info in self.list_info(prefix)]

    def list_info(self, prefix: str = "") -> list[ObjectInfo]:
        # obstore lists whole path segments; list the directory part and filter the rest
        head = prefix.rsplit("/", 1)[0] if "/" in prefix else ""

        def fetch() -> list[ObjectInfo]:
            out: list[ObjectInfo] = []
            for i, chunk in enumerate(obstore.list(self._store, prefix=head or None, chunk_size=1000)):
                if i:  # the first page is already counted; each further one is another request
                    self.trace.step()
                for meta in chunk:
                    modified = meta.get("last_modified")
                    out.append(
                        ObjectInfo(
                            meta["path"],
                            int(meta.get("size") or 0),
                            modified.timestamp() if modified is not None else None,
                        )
                    )
            return out

        infos = self._call("list", prefix or "/", fetch)
        return sorted((i for i in infos if i.key.startswith(prefix)), key=lambda i: i.key)

    def delete(self, key: str) -> None:
        self._check_key(key)
        with contextlib.suppress(NotFoundError):
            self._call("delete", key, lambda: obstore.delete(self._store, key))

    def close(self) -> None:
        """Nothing to release: connections belong to the client, threads to the process's io pool."""

    def __reduce__(self):  # noqa: ANN204 - picklable for worker processes: reconnect on unpickling
        bucket, prefix, kwargs = self._init_args
        return (_reopen, (bucket, prefix, kwargs))

    def __repr__(self) -> str:
        return f"S3Store({self.url!r}, endpoint={self.endpoint_url!r})"


def _reopen(bucket: str, prefix: str, kwargs: dict[str, Any]) -> S3Store:
    return S3Store(bucket, prefix, **kwargs)
