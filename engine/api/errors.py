"""API errors and the handlers that answer them as :class:`engine.api.schemas.Problem`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.api.schemas import Problem
from engine.serve.health import OUTAGE_ERRORS

__all__ = ["ApiError", "install_handlers", "problems"]


class ApiError(Exception):
    """An error answered with ``status`` and a Problem body."""

    def __init__(self, status: int, error: str, detail: str, *,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = headers


def _problem(status: int, error: str, detail: str, headers: dict[str, str] | None = None,
             errors: list[dict[str, Any]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": error, "detail": detail}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers)


_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type",
          422: "invalid_request", 503: "unavailable"}


def install_handlers(app: FastAPI) -> None:
    """Answer ApiError, request validation errors and Starlette's HTTP errors as Problems."""

    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return _problem(exc.status, exc.error, exc.detail, exc.headers)

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")),
                   "type": str(e.get("type", ""))} for e in exc.errors()]
        where = ", ".join(".".join(e["loc"]) for e in errors) or "request"
        return _problem(422, "invalid_request", f"invalid {where}", errors=errors)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return _problem(exc.status_code, _CODES.get(exc.status_code, "error"),
                        str(exc.detail), dict(exc.headers or {}) or None)

    async def store_outage(request: Request, exc: Exception) -> JSONResponse:
        # The database did not answer (a read, a token lookup): retry, not a server error.
        request.app.state.service.metrics.http_refused.labels("store_unavailable").inc()
        detail = " ".join(str(exc).split())[:300] or type(exc).__name__
        return _problem(503, "store_unavailable", f"the store is unavailable ({detail}); "
                        "retry", {"Retry-After": "1"})

    app.add_exception_handler(ApiError, api_error)
    for outage in OUTAGE_ERRORS:
        app.add_exception_handler(outage, store_outage)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)


_DESCRIPTIONS = {400: "Bad request (e.g. an invalid cursor or position)",
                 401: "No token, or an unknown or revoked token",
                 403: "The token's role lacks the permission",
                 404: "Not found", 409: "Conflict", 413: "Request too large",
                 422: "Invalid request parameters or body",
                 503: "Temporarily unavailable; retry"}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries with a Problem body for ``statuses``."""
    return {s: {"model": Problem, "description": _DESCRIPTIONS.get(s, "Error")}
            for s in statuses}

