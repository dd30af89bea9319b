"""The applications a collection carries: embed texts, search by text, classify texts, recommend for users.

Each uses the public functions of :mod:`vectree.embed` and :mod:`vectree.apps` on the collection's own
attachments; a worker keeps the loaded model per collection version of its attachment.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from vectree.collection import Collection
from vectree.errors import NotFoundError
from vectree.service import models as m
from vectree.service.deps import (
    Service,
    batch_body,
    caller,
    check_search,
    on_collection,
    openapi_body,
    readable,
    service,
)
from vectree.service.errors import ERROR_RESPONSES
from vectree.service.registry import Record
from vectree.service.tenants import Principal
from vectree.service.wire import result_to_json

router = APIRouter(tags=["applications"], responses=ERROR_RESPONSES)
_loaded: dict[tuple[str, str, str], Any] = {}
_lock = threading.Lock()


def _cached(kind: str, svc: Service, record: Record, attachment: str, load: Any) -> Any:
    col = svc.registry.collection(record)
    fp = col.manifest.attachments.get(attachment)
    if fp is None:
        raise NotFoundError(f"collection {record.name!r} carries no {kind} (no {attachment!r} attachment)")
    key = (record.path, kind, fp)
    with _lock:
        hit = _loaded.get(key)
    if hit is None:
        hit = load(col)
        with _lock:
            _loaded[key] = hit
    return hit


def _embedder(svc: Service, record: Record) -> Any:
    from vectree.embed import load_embedder
    from vectree.embed.attach import ATTACHMENT

    return _cached("embedder", svc, record, ATTACHMENT, load_embedder)


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


@router.post(
    "/collections/{name}/embed",
    response_model=m.EmbedOut,
    summary="Embed texts with the collection's embedder",
    openapi_extra=openapi_body(m.TextsBody),
)
async def embed(
    name: str, request: Request, svc: Service = Depends(service), who: Principal = Depends(caller)
) -> dict[str, Any]:
    body = await batch_body(request, m.TextsBody, "texts")
    record = readable(svc, who, name)
    return await run_in_threadpool(
        lambda: {"vectors": np.asarray(_embedder(svc, record).encode(body.texts), np.float32).tolist()}
    )


@router.post(
    "/collections/{name}/search_text",
    response_model=m.SearchOut,
    summary="Search by text (embedded with the collection's embedder)",
    openapi_extra=openapi_body(m.TextSearchBody),
)
async def search_text(
    name: str, request: Request, svc: Service = Depends(service), who: Principal = Depends(caller)
) -> dict[str, Any]:
    body = await batch_body(request, m.TextSearchBody, "texts")
    check_search(svc, body.k, body.probes)
    record = readable(svc, who, name)

    def go(col: Collection) -> dict[str, Any]:
        vectors = _embedder(svc, record).encode(body.texts)
        res = col.search(
            vectors, k=body.k, probes=body.probes, exact=body.exact, include_metadata=body.include_metadata
        )
        return result_to_json(res, col.settings.get("id_type"))

    return await on_collection(svc, record, go)


@router.post(
    "/collections/{name}/classify",
    response_model=m.ClassifyOut,
    summary="Classify texts with the collection's fitted DocumentClassifier",
    openapi_extra=openapi_body(m.TextsBody),
)
async def classify(
    name: str, request: Request, svc: Service = Depends(service), who: Principal = Depends(caller)
) -> dict[str, Any]:
    body = await batch_body(request, m.TextsBody, "texts")
    record = readable(svc, who, name)

    def go() -> dict[str, Any]:
        from vectree.apps import DocumentClassifier
        from vectree.apps.classify.classifier import CONFIG_ATTACHMENT

        opts = {"storage_options": svc.registry.storage_options} if svc.registry.storage_options else {}
        clf = _cached(
            "classifier", svc, record, CONFIG_ATTACHMENT, lambda col: DocumentClassifier.open(col.url, **opts)
        )
        proba = np.asarray(clf.predict_proba(body.texts), dtype=np.float64)
        classes = [_plain(c) for c in clf.classes_.tolist()]
        labels = [classes[i] for i in proba.argmax(axis=1)] if len(proba) else []
        return {"labels": labels, "classes": classes, "probabilities": proba.round(6).tolist()}

    return await run_in_threadpool(go)


@router.post(
    "/collections/{name}/recommend",
    response_model=m.RecommendOut,
    summary="Top-k items for users (the collection's RankingFunnel)",
    openapi_extra=openapi_body(m.RecommendBody),
)
async def recommend(
    name: str, request: Request, svc: Service = Depends(service), who: Principal = Depends(caller)
) -> dict[str, Any]:
    body = await batch_body(request, m.RecommendBody, "users")
    check_search(svc, body.k, None)
    record = readable(svc, who, name)

    def go() -> dict[str, Any]:
        from vectree.apps import load_funnel
        from vectree.apps.recommend.store import FUNNEL_ATTACHMENT

        funnel = _cached("recommender", svc, record, FUNNEL_ATTACHMENT, lambda col: load_funnel(col.url))
        return {"items": np.asarray(funnel.recommend(np.asarray(body.users, dtype=np.int64), k=body.k)).tolist()}

    return await run_in_threadpool(go)
