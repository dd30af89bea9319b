"""Collections: create, list, info, drop, and their maintenance (build, compact, verify, versions)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from vectree.collection import Collection
from vectree.service import models as m
from vectree.service.deps import (
    Service,
    caller,
    on_collection,
    openapi_body,
    parse,
    read_body,
    readable,
    service,
    writable,
)
from vectree.service.errors import ERROR_RESPONSES, ApiError
from vectree.service.registry import NameTaken, Record
from vectree.service.tenants import Principal
from vectree.service.wire import report_to_json

router = APIRouter(tags=["collections"], responses=ERROR_RESPONSES)


def apps_of(col: Collection) -> list[str]:
    """The applications a collection carries, from its attachments."""
    from vectree.apps.classify.classifier import CONFIG_ATTACHMENT
    from vectree.apps.recommend.store import FUNNEL_ATTACHMENT
    from vectree.embed.attach import ATTACHMENT

    att = col.manifest.attachments
    out = ["embed", "search_text"] if ATTACHMENT in att else []
    if CONFIG_ATTACHMENT in att and ATTACHMENT in att:
        out.append("classify")
    if FUNNEL_ATTACHMENT in att:
        out.append("recommend")
    return out


def info(record: Record, col: Collection) -> dict[str, Any]:
    s = col.settings
    return {
        "name": record.name,
        "owner": record.owner,
        "private": record.private,
        "dim": col.dim,
        "metric": col.metric,
        "rows": len(col),
        "version": col.version,
        "vector_dtype": s["index"].get("vector_dtype", "float32"),
        "bucket_size": int(s["index"]["bucket_size"]),
        "id_type": s.get("id_type"),
        "label_type": s.get("label_type"),
        "has_metadata": bool(s.get("has_metadata")),
        "apps": apps_of(col),
    }


@router.get("/collections", response_model=m.CollectionList, summary="The collections the caller may see")
def list_collections(svc: Service = Depends(service), who: Principal = Depends(caller)) -> dict[str, Any]:
    out = []
    for record in sorted(svc.registry.records(), key=lambda r: r.name):
        if record.visible_to(who):
            try:
                out.append(info(record, svc.registry.collection(record)))
            except Exception:  # noqa: BLE001 - created or dropped this instant: leave it out
                continue
    return {"collections": out}


@router.post(
    "/collections",
    response_model=m.CollectionInfo,
    status_code=201,
    summary="Create an empty collection",
    openapi_extra=openapi_body(m.CreateCollection),
)
async def create(request: Request, svc: Service = Depends(service), who: Principal = Depends(caller)) -> dict[str, Any]:
    body = parse(m.CreateCollection, await read_body(request))
    if who.read_only:
        raise ApiError(403, "Forbidden", "this API key is read-only")

    def go() -> dict[str, Any]:
        try:
            record, col = svc.registry.create(
                body.name,
                who.tenant,
                private=body.private,
                dim=body.dim,
                metric=body.metric,
                vector_dtype=body.vector_dtype,
                bucket_size=body.bucket_size,
            )
        except NameTaken as exc:
            raise ApiError(409, "NameTaken", str(exc)) from None
        return info(record, col)

    return await run_in_threadpool(go)


@router.get("/collections/{name}", response_model=m.CollectionInfo, summary="A collection's settings, size and version")
def get_info(name: str, svc: Service = Depends(service), who: Principal = Depends(caller)) -> dict[str, Any]:
    record = readable(svc, who, name)
    return info(record, svc.registry.collection(record))


@router.delete("/collections/{name}", response_model=m.Dropped, summary="Drop a collection and every version of it")
def drop(name: str, svc: Service = Depends(service), who: Principal = Depends(caller)) -> dict[str, Any]:
    record = writable(svc, who, name)
    svc.registry.drop(record)
    return {"dropped": name}


@router.get("/collections/{name}/versions", response_model=m.VersionList, summary="Every committed version")
def versions(name: str, svc: Service = Depends(service), who: Principal = Depends(caller)) -> dict[str, Any]:
    return {"versions": svc.registry.collection(readable(svc, who, name)).versions()}


@router.post("/collections/{name}/build", response_model=m.VersionOut, summary="Fit the index on every live row")
def build(name: str, svc: Service = Depends(service), who: Principal = Depends(caller)) -> dict[str, Any]:
    col = svc.registry.collection(writable(svc, who, name))
    return {"version": col.build(), "rows": len(col)}


@router.post(
    "/collections/{name}/compact", response_model=m.VersionOut, summary="Fold the tail into the tree, drop deletions"
)
def compact(name: str, svc: Service = Depends(service), who: Principal = Depends(caller)) -> dict[str, Any]:
    col = svc.registry.collection(writable(svc, who, name))
    return {"version": col.compact(), "rows": len(col)}


@router.get(
    "/collections/{name}/stats",
    response_model=dict[str, Any],
    summary="Sizes, the tree's shape, the read cache's counters",
)
def stats(
    name: str, version: int | None = None, svc: Service = Depends(service), who: Principal = Depends(caller)
) -> dict[str, Any]:
    record = readable(svc, who, name)
    return svc.registry.collection(record, version).stats() | {"url": record.name}


@router.get(
    "/collections/{name}/info", response_model=m.CollectionInfo, summary="A collection's settings at one version"
)
def info_at(
    name: str, version: int | None = None, svc: Service = Depends(service), who: Principal = Depends(caller)
) -> dict[str, Any]:
    record = readable(svc, who, name)
    return info(record, svc.registry.collection(record, version))


@router.post(
    "/collections/{name}/verify",
    response_model=m.VerifyOut,
    summary="Re-read every object and check its fingerprint",
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": m.VerifyBody.model_json_schema()}},
        }
    },
)
async def verify(
    name: str, request: Request, svc: Service = Depends(service), who: Principal = Depends(caller)
) -> dict[str, Any]:
    body = parse(m.VerifyBody, await read_body(request))
    record = readable(svc, who, name)
    return await on_collection(svc, record, lambda col: report_to_json(col.verify(all_versions=body.all_versions)))


@router.get("/whoami", response_model=m.WhoAmI, tags=["keys"], summary="The tenant and rights of the caller's key")
def whoami(who: Principal = Depends(caller)) -> dict[str, Any]:
    return {"tenant": who.tenant, "key_id": who.key_id, "admin": who.admin, "read_only": who.read_only}
