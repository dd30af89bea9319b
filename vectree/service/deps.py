"""What every route needs: the service state, the caller, the collection it names, and its body."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from vectree.collection import Collection
from vectree.errors import InvalidInputError, NotFoundError
from vectree.service.config import ServiceConfig
from vectree.service.errors import ApiError
from vectree.service.limits import RateLimiter
from vectree.service.registry import Record, Registry
from vectree.service.tenants import KeyChecker, Principal
from vectree.service.wire import ARROW, arrow_to_rows

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


@dataclass
class Service:
    """The state of one worker process. Nothing here is shared with other workers: they meet in the store."""

    config: ServiceConfig
    registry: Registry
    keys: KeyChecker
    limiter: RateLimiter

    @classmethod
    def start(cls, config: ServiceConfig) -> Service:
        registry = Registry(config.root, config.storage_options, config.cache_bytes)
        registry.start_refreshing(config.refresh_s)
        rate = config.rate_per_s / max(1, config.workers)
        return cls(
            config,
            registry,
            KeyChecker(registry.store, config.key_cache_s),
            RateLimiter(rate, max(1.0, config.burst / max(1, config.workers))),
        )


def service(request: Request) -> Service:
    return request.app.state.service


def caller(request: Request) -> Principal:
    """The principal of the request's key (``Authorization: Bearer`` or ``X-API-Key``), rate-limited per tenant."""
    svc = service(request)
    key = request.headers.get("x-api-key") or ""
    auth = request.headers.get("authorization") or ""
    if not key and auth.lower().startswith("bearer "):
        key = auth[7:].strip()
    if not key:
        raise ApiError(
            401, "Unauthorized", "no API key: send 'Authorization: Bearer <key>' (keys come from `vectree keys create`)"
        )
    who = svc.keys.check(key)
    if who is None:
        raise ApiError(401, "Unauthorized", "the API key is not valid (unknown, malformed or revoked)")
    wait = svc.limiter.take(who.tenant)
    if wait:
        raise ApiError(
            429,
            "RateLimited",
            f"tenant {who.tenant!r} is past its rate of {svc.config.rate_per_s:g} requests/s; retry in {wait:g} s",
            {"retry_after_s": wait},
            headers={"Retry-After": str(max(1, round(wait + 0.5)))},
        )
    return who


def readable(svc: Service, who: Principal, name: str) -> Record:
    """The record of ``name`` if the caller may see it; 404 alike for absent and invisible collections."""
    try:
        record = svc.registry.record(name)
    except NotFoundError:
        record = None
    if record is None or not record.visible_to(who):
        raise NotFoundError("no such collection (or none this key may see)")
    return record


def writable(svc: Service, who: Principal, name: str) -> Record:
    record = readable(svc, who, name)
    if who.read_only:
        raise ApiError(403, "Forbidden", "this API key is read-only")
    if not record.writable_by(who):
        raise ApiError(
            403, "Forbidden", f"collection {name!r} belongs to tenant {record.owner!r}: only its owner may change it"
        )
    return record


async def read_body(request: Request) -> bytes:
    """The body, refused with 413 past ``max_body_bytes`` (before reading it when the length is declared)."""
    limit = service(request).config.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "PayloadTooLarge", f"the body is {declared} bytes; this server takes at most {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "PayloadTooLarge", f"the body is over {limit} bytes, this server's limit")
        chunks.append(chunk)
    return b"".join(chunks)


def is_arrow(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip().lower() == ARROW


def parse(model: type[M], data: bytes) -> M:
    """Validate a JSON body; 422 with the field that is wrong."""
    try:
        raw = json.loads(data) if data else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(422, "ValidationError", f"the body is not JSON: {exc}") from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        errors = [{"loc": list(map(str, e["loc"])), "msg": e["msg"]} for e in exc.errors()]
        first = errors[0]
        raise ApiError(422, "ValidationError", f"{'.'.join(first['loc']) or 'body'}: {first['msg']}", errors) from None


async def rows_body(request: Request, model: type[M]) -> dict[str, Any]:
    """The rows of an add/upsert/search body, from JSON or from an Arrow IPC stream."""
    data = await read_body(request)
    if is_arrow(request):
        return arrow_to_rows(data)
    body = parse(model, data).model_dump()
    try:
        body["vectors"] = np.asarray(body["vectors"], dtype=np.float32)
    except (ValueError, OverflowError):
        raise InvalidInputError("vectors must be a list of equally long lists of numbers (one per row)") from None
    return body


def check_batch(svc: Service, n: int, what: str) -> None:
    if n > svc.config.max_batch:
        raise InvalidInputError(
            f"{n} {what} in one request; this server takes at most {svc.config.max_batch} (split the batch)"
        )


async def batch_body(request: Request, model: type[M], field: str) -> M:
    """A route's JSON body, validated, refused past ``max_batch`` items in its list ``field``."""
    body = parse(model, await read_body(request))
    check_batch(service(request), len(getattr(body, field)), field)
    return body


async def on_collection(svc: Service, record: Record, fn: Callable[[Collection], T], version: int | None = None) -> T:
    """``fn`` of the collection ``record`` names (at ``version``), in a worker thread: opening it and what
    ``fn`` does read the store, which must not hold up the event loop."""
    return await run_in_threadpool(lambda: fn(svc.registry.collection(record, version)))


def check_search(svc: Service, k: Any, probes: Any) -> None:
    for name, v in (("k", k), ("probes", probes)):
        if isinstance(v, int) and v > svc.config.max_k:
            raise InvalidInputError(f"{name}={v} is past this server's limit of {svc.config.max_k}")


def openapi_body(model: type[BaseModel], arrow: bool = False) -> dict[str, Any]:
    """An OpenAPI requestBody for a route that reads its body itself (JSON, or an Arrow IPC stream)."""
    content: dict[str, Any] = {
        "application/json": {"schema": model.model_json_schema(ref_template="#/components/schemas/{model}")}
    }
    if arrow:
        content[ARROW] = {"schema": {"type": "string", "format": "binary"}}
    return {"requestBody": {"required": True, "content": content}}
