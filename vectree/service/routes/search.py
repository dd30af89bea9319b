"""Search: a batch of query vectors (JSON, or an Arrow IPC stream with the settings in the query string)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from vectree.collection import Collection
from vectree.errors import InvalidInputError
from vectree.service import models as m
from vectree.service.deps import (
    Service,
    caller,
    check_batch,
    check_search,
    is_arrow,
    on_collection,
    openapi_body,
    readable,
    rows_body,
    service,
)
from vectree.service.errors import ERROR_RESPONSES
from vectree.service.tenants import Principal
from vectree.service.wire import result_to_json

router = APIRouter(tags=["search"], responses=ERROR_RESPONSES)

_FLAGS = {"true": True, "1": True, "false": False, "0": False}


def _query_settings(request: Request) -> dict[str, Any]:
    """k, probes, exact, version, include_metadata from the query string (for Arrow bodies)."""
    q = request.query_params
    out: dict[str, Any] = {
        "k": 10,
        "probes": 8,
        "exact": False,
        "version": None,
        "include_metadata": False,
        "method": q.get("method", "auto"),
        "where": None,
        "exclude_ids": None,
    }
    try:
        for key in ("k", "probes", "version"):
            if key in q:
                out[key] = int(q[key])
        for key in ("exact", "include_metadata"):
            if key in q:
                out[key] = _FLAGS[q[key].lower()]
    except (ValueError, KeyError):
        raise InvalidInputError(
            f"bad search setting in the query string {str(q)!r}: k, probes, version are integers; exact, "
            "include_metadata true/false"
        ) from None
    return out


@router.post(
    "/collections/{name}/search",
    response_model=m.SearchOut,
    summary="The k nearest rows of each query",
    openapi_extra=openapi_body(m.SearchBody, arrow=True),
)
async def search(
    name: str, request: Request, svc: Service = Depends(service), who: Principal = Depends(caller)
) -> dict[str, Any]:
    body = await rows_body(request, m.SearchBody)
    if is_arrow(request):
        body |= _query_settings(request)
    check_batch(svc, len(body["vectors"]), "queries")
    check_search(svc, body["k"], body["probes"])
    record = readable(svc, who, name)

    def go(col: Collection) -> dict[str, Any]:
        res = col.search(
            body["vectors"],
            k=body["k"],
            probes=body["probes"],
            exact=body["exact"],
            include_metadata=body["include_metadata"],
            method=body["method"],
            where=body["where"],
            exclude_ids=body["exclude_ids"],
        )
        return result_to_json(res, col.settings.get("id_type"))

    return await on_collection(svc, record, go, body["version"])
