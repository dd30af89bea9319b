"""One error shape for every failed request: ``{"error": {"type", "message", "detail"}}``.

Library errors map to statuses: InvalidInputError 400, NotFoundError 404, ConflictError 409,
StorageError 503 (the store already retried); request validation 422. Anything else is logged with
its traceback and answered 500 with the same shape and no traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from vectree.errors import ConflictError, CorruptionError, InvalidInputError, NotFoundError, StorageError, VectreeError

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answered with ``status`` and the error shape (raised by routes and the auth layer)."""

    def __init__(
        self, status: int, type_: str, message: str, detail: Any = None, headers: dict[str, str] | None = None
    ):
        super().__init__(message)
        self.status, self.type, self.message, self.detail, self.headers = status, type_, message, detail, headers


class ErrorInfo(BaseModel):
    type: str
    message: str
    detail: Any = None


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorInfo


_DESCRIPTIONS = {
    400: "Bad input (the message names the problem)",
    401: "No valid API key",
    403: "The key may not do this",
    404: "No such collection (or one the caller may not see), version or row",
    409: "A lost commit race",
    413: "Body past the configured limit",
    422: "The body does not match the schema",
    429: "Past the tenant's rate",
    503: "The store is unreachable",
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorBody, "description": d} for s, d in _DESCRIPTIONS.items()
}

STATUS_OF = {InvalidInputError: 400, NotFoundError: 404, ConflictError: 409, StorageError: 503, CorruptionError: 500}


def error_response(
    status: int, type_: str, message: str, detail: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"type": type_, "message": message, "detail": detail}}, status_code=status, headers=headers
    )


def _library_status(exc: Exception) -> int:
    for cls, status in STATUS_OF.items():
        if isinstance(exc, cls):
            return status
    if isinstance(exc, (ValueError, TypeError, OverflowError)):  # input numpy or pyarrow could not take
        log.warning("bad input not caught by validation: %r", exc)
        return 400
    return 500


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception into the error shape."""

    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.type, exc.message, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(map(str, e.get("loc", ()))), "msg": str(e.get("msg"))} for e in exc.errors()]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        return error_response(422, "ValidationError", f"{'.'.join(first['loc'])}: {first['msg']}", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, "HTTPError", str(exc.detail))

    @app.exception_handler(VectreeError)
    async def _library(_: Request, exc: VectreeError) -> JSONResponse:
        return _answer(exc)

    @app.exception_handler(Exception)
    async def _any(_: Request, exc: Exception) -> JSONResponse:
        return _answer(exc)


def _answer(exc: Exception) -> JSONResponse:
    status = _library_status(exc)
    if status == 500:
        log.error("request failed", exc_info=exc)
        return error_response(500, type(exc).__name__, "internal error: the server logged the details")
    return error_response(status, type(exc).__name__, str(exc))
