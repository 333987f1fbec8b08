"""Errors the API returns: always ``{"error": {"code", "message", "field"?}}``, never a traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.api.validation import field_and_message
from services.platform.errors import DomainError, ErrorKind

log = logging.getLogger(__name__)

# The one mapping of a use case's refusal to an HTTP status.
STATUS_OF_KIND: dict[ErrorKind, int] = {
    ErrorKind.INVALID: 422,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.UNAVAILABLE: 503,
}


class ApiError(Exception):
    """A refusal of the HTTP layer itself (authentication, media type, start-up); ``message`` says what to
    do. Use cases raise ``DomainError`` instead."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def error_body(code: str, message: str, field: str | None = None) -> dict[str, dict[str, str]]:
    error = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return {"error": error}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, exc.field), status_code=exc.status)

    @app.exception_handler(DomainError)
    async def _domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, exc.field), status_code=STATUS_OF_KIND[exc.kind]
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "type": "invalid"}
        field, message = field_and_message(first)
        return JSONResponse(error_body("invalid_request", message, field), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # FastAPI (a body that is not UTF-8) and Starlette (a broken multipart body) answer 400 when
            # the body cannot be parsed at all: it is an invalid request like any other, so the same 422.
            return JSONResponse(
                error_body(
                    "invalid_request",
                    "body: the request body cannot be parsed: send UTF-8 JSON, or a "
                    "well-formed multipart/form-data upload where the route takes one",
                    "body",
                ),
                status_code=422,
            )
        code = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return JSONResponse(
            error_body(
                "internal_error", "tunebot hit an unexpected error; the operator's log has the details"
            ),
            status_code=500,
        )
