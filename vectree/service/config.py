"""The service's settings: one dataclass, passed to every worker process as JSON in the environment."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

ENV = "VECTREE_SERVICE_CONFIG"


@dataclass
class ServiceConfig:
    """Where the collections live and the limits every request is held to.

    root: a local path or ``s3://bucket/prefix`` holding the keys, the collection records and the collections.
    workers: processes serving ``root`` (the per-tenant rate is split between them, see ``rate_per_s``).
    rate_per_s, burst: each tenant's sustained request rate and the burst it may spend at once, for the
        whole service; every worker enforces its share (``rate_per_s / workers``) with a token bucket.
    max_body_bytes: request bodies past this get 413. max_batch: rows per write or queries per search.
    max_k: the largest k (and probes) a search may ask for. key_cache_s: how long a worker trusts a key it
        checked (a revoked key stops working within this time on every worker).
    refresh_s: how often a worker moves the collections it has open to their newest versions, preparing
        each new version off the requests (0: never in the background; a request that names a version
        newer than the worker's is still caught up to at once).

    >>> ServiceConfig(root="/tmp/x").max_k
    1000
    """

    root: str
    storage_options: dict[str, Any] = field(default_factory=dict)
    workers: int = 1
    rate_per_s: float = 200.0
    burst: float = 400.0
    max_body_bytes: int = 64 << 20
    max_batch: int = 10_000
    max_k: int = 1000
    key_cache_s: float = 2.0
    cache_bytes: int = 256 << 20
    refresh_s: float = 1.0

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServiceConfig:
        """The configuration ``vectree serve`` put in the environment of its worker processes."""
        raw = os.environ.get(ENV)
        if not raw:
            raise RuntimeError(f"{ENV} is not set: start the service with `vectree serve ROOT`")
        return cls(**json.loads(raw))
