"""Rows: add, upsert, delete and get by id. Bodies are JSON or Arrow IPC streams (by content type)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from vectree.collection import Collection
from vectree.service import models as m
from vectree.service.deps import (
    Service,
    batch_body,
    caller,
    check_batch,
    on_collection,
    openapi_body,
    readable,
    rows_body,
    service,
    writable,
)
from vectree.service.errors import ERROR_RESPONSES
from vectree.service.tenants import Principal
from vectree.service.wire import rows_to_json

router = APIRouter(tags=["rows"], responses=ERROR_RESPONSES)


async def _write(request: Request, name: str, svc: Service, who: Principal, upsert: bool) -> dict[str, Any]:
    rows = await rows_body(request, m.RowsBody)
    check_batch(svc, len(rows["vectors"]), "rows")
    record = writable(svc, who, name)

    def go(col: Collection) -> dict[str, Any]:
        args = (rows["vectors"], rows["ids"], rows["labels"], rows["metadata"])
        version = col.upsert(*args) if upsert else col.add(*args)
        return {"version": version, "rows": len(col)}

    return await on_collection(svc, record, go)


@router.post(
    "/collections/{name}/add",
    response_model=m.VersionOut,
    summary="Add rows (refuses ids already stored)",
    openapi_extra=openapi_body(m.RowsBody, arrow=True),
)
async def add(
    name: str, request: Request, svc: Service = Depends(service), who: Principal = Depends(caller)
) -> dict[str, Any]:
    return await _write(request, name, svc, who, upsert=False)


@router.post(
    "/collections/{name}/upsert",
    response_model=m.VersionOut,
    summary="Insert rows, replacing rows with the same ids",
    openapi_extra=openapi_body(m.RowsBody, arrow=True),
)
async def upsert(
    name: str, request: Request, svc: Service = Depends(service), who: Principal = Depends(caller)
) -> dict[str, Any]:
    return await _write(request, name, svc, who, upsert=True)


@router.post(
    "/collections/{name}/delete",
    response_model=m.VersionOut,
    summary="Delete rows by id",
    openapi_extra=openapi_body(m.DeleteBody),
)
async def delete(
    name: str, request: Request, svc: Service = Depends(service), who: Principal = Depends(caller)
) -> dict[str, Any]:
    body = await batch_body(request, m.DeleteBody, "ids")
    record = writable(svc, who, name)

    def go(col: Collection) -> dict[str, Any]:
        version = col.delete(body.ids, missing_ok=body.missing_ok)
        return {"version": version, "rows": len(col)}

    return await on_collection(svc, record, go)


@router.post(
    "/collections/{name}/get",
    response_model=m.RowsOut,
    summary="The stored rows with these ids, in that order",
    openapi_extra=openapi_body(m.IdsBody),
)
async def get(
    name: str, request: Request, svc: Service = Depends(service), who: Principal = Depends(caller)
) -> dict[str, Any]:
    body = await batch_body(request, m.IdsBody, "ids")
    record = readable(svc, who, name)
    return await on_collection(svc, record, lambda col: rows_to_json(col.get(body.ids)), body.version)
