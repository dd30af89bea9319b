"""The FastAPI application: ``create_app(config)``; ``vectree serve ROOT`` runs it on uvicorn.

Every worker process builds its own app from the same :class:`ServiceConfig`; they share nothing
but the store under ROOT (keys, collection records and collections, all committed with put-if-absent).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

import vectree
from vectree.service import errors
from vectree.service.config import ServiceConfig
from vectree.service.deps import Service
from vectree.service.routes import apps, collections, rows, search

log = logging.getLogger(__name__)
STATIC = resources.files("vectree.service") / "static"


def create_app(config: ServiceConfig) -> FastAPI:
    """The service over ``config.root``.

    >>> import tempfile
    >>> app = create_app(ServiceConfig(root=tempfile.mkdtemp()))
    >>> "/collections/{name}/search" in app.openapi()["paths"]
    True
    """
    service = Service.start(config)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        service.registry.close()  # the refresher stops; open collections let go of their caches

    app = FastAPI(
        title="vectree",
        version=vectree.__version__,
        description="Vector collections with tenants and API keys. Send `Authorization: Bearer <key>`.",
        lifespan=lifespan,
    )
    app.state.service = service
    errors.install(app)

    @app.middleware("http")
    async def _never_a_traceback(request: Request, call_next: Any) -> Response:
        try:
            return await call_next(request)
        except Exception as exc:  # noqa: BLE001 - the last line of defence: the error shape, no traceback
            return errors._answer(exc)

    for module in (collections, rows, search, apps):
        app.include_router(module.router)

    @app.get("/health", tags=["service"], summary="Liveness (no key needed)")
    def health() -> dict[str, str]:
        return {"status": "ok", "version": vectree.__version__}

    @app.get("/", include_in_schema=False)
    def console() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"), media_type="text/html")

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    return app


def app_from_env() -> FastAPI:
    """The app of a worker process started by ``vectree serve`` (its settings come from the environment)."""
    logging.basicConfig(level=logging.WARNING)
    return create_app(ServiceConfig.from_env())


def serve(config: ServiceConfig, host: str = "127.0.0.1", port: int = 8080, log_level: str = "warning") -> None:
    """Run the service on uvicorn with ``config.workers`` processes (blocks)."""
    import os

    import uvicorn

    os.environ["VECTREE_SERVICE_CONFIG"] = config.to_env()
    uvicorn.run(
        "vectree.service.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=max(1, config.workers),
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=5,
        timeout_worker_healthcheck=60,
    )  # a worker busy on a starved machine is slow, not hung: do not kill it mid-request
