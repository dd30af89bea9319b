"""One S3 client per endpoint, bucket, prefix, credentials and options, shared by every handle of the process.

Building an obstore client costs ~10-20 ms (its HTTP client, its TLS roots), as much as a whole cold
query's scan. A process that opens many handles on the same collection (a function invocation served
by a warm container, a service opening a handle per request) builds it once, as boto3 and obstore
users keep one client per process. The client holds only configuration and a pool of idle HTTP
connections: no object, index or bucket is cached in it, so a fresh handle on a shared client still
reads everything it needs from the store. Its idle connections are reused by the next handle (no new
TCP, or TLS, handshake); ``client_options={"pool_max_idle_per_host": "0"}`` keeps none.

Clients are kept in a small LRU (:data:`MAX_CLIENTS`); :func:`clear` drops them all (their connections
close once no handle uses them). A forked child starts with none (a client's runtime threads do not
survive a fork; obstore itself hangs in a forked child of a process that used it, shared client or
not: start worker processes with ``spawn``).

>>> a = shared_client("b", None, {"region": "r", "endpoint": "http://127.0.0.1:9"}, {"allow_http": True}, {})
>>> b = shared_client("b", None, {"region": "r", "endpoint": "http://127.0.0.1:9"}, {"allow_http": True}, {})
>>> a is b, a is shared_client("b", "other", {"region": "r", "endpoint": "http://127.0.0.1:9"}, {}, {})
(True, False)
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Any

from obstore.store import S3Store as _ObS3Store

MAX_CLIENTS = 64  # distinct (endpoint, bucket, prefix, credentials, options) kept; the least recently used goes

_CLIENTS: OrderedDict[tuple, _ObS3Store] = OrderedDict()
_LOCK = threading.Lock()
built = 0  # clients built since the process started (or :func:`clear`)


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return repr(value) if not isinstance(value, (str, int, float, bool, type(None))) else value


def shared_client(
    bucket: str,
    prefix: str | None,
    config: dict[str, Any],
    client_options: dict[str, Any],
    retry_config: dict[str, Any],
) -> _ObS3Store:
    """The process's client for these settings (built on first use; thread-safe)."""
    global built
    key = (bucket, prefix, _frozen(config), _frozen(client_options), _frozen(retry_config))
    with _LOCK:
        found = _CLIENTS.get(key)
        if found is not None:
            _CLIENTS.move_to_end(key)
            return found
        # built under the lock: threads opening the same collection at once wait for one build, not make many
        client = _ObS3Store(
            bucket, prefix=prefix, config=config, client_options=client_options, retry_config=retry_config
        )
        built += 1
        _CLIENTS[key] = client
        while len(_CLIENTS) > MAX_CLIENTS:
            _CLIENTS.popitem(last=False)
        return client


def clear() -> None:
    """Forget every shared client: the next handle builds a new one (with new connections)."""
    global built
    with _LOCK:
        _CLIENTS.clear()
        built = 0


def count() -> int:
    """Clients kept now."""
    with _LOCK:
        return len(_CLIENTS)


def _after_fork_in_child() -> None:
    global _LOCK, built
    _LOCK = threading.Lock()  # (another thread of the parent may have held it at the fork)
    _CLIENTS.clear()
    built = 0


os.register_at_fork(after_in_child=_after_fork_in_child)
