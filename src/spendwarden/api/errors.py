"""Every error leaves as ``{"error": {"code", "message", "details"}}`` — mapped here only."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from spendwarden.api.responses import FastJSON
from spendwarden.errors import SpendwardenError

log = logging.getLogger("spendwarden.api")


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _domain(_: Request, exc: Exception) -> FastJSON:
    assert isinstance(exc, SpendwardenError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    if exc.status == 429 and "retry_after" in exc.details:
        headers = {"Retry-After": str(exc.details["retry_after"])}
    return FastJSON(exc.to_dict(), status_code=exc.status, headers=headers)


def _validation(_: Request, exc: Exception) -> FastJSON:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": [str(p) for p in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]
    invalid_json = any(e["type"] == "json_invalid" for e in errors)
    code = "invalid_json" if invalid_json else "invalid_request"
    message = "The body is not valid JSON." if invalid_json else "The request is not valid."
    if errors and not invalid_json:
        message = validation_message(errors)
    return FastJSON(error_body(code, message, {"errors": errors[:20]}), status_code=422)


def validation_message(errors: list[dict[str, Any]]) -> str:
    """The first error as ``<field>: <what is wrong>``; an error of the whole body (a
    model's own check, which names its fields itself) is its message alone. The embedded
    SDK words its errors with this too, so both say the same."""
    first = errors[0]
    where = ".".join(first["loc"][1:])
    return f"{where}: {first['msg']}" if where else str(first["msg"])


def _http(_: Request, exc: Exception) -> FastJSON:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and "parsing the body" in str(exc.detail):
        # FastAPI's answer to a body it cannot decode at all (bad UTF-8, nesting too deep)
        return FastJSON(error_body("invalid_json", "The body is not valid JSON."), status_code=422)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return FastJSON(
        error_body(code, str(exc.detail)), status_code=exc.status_code, headers=getattr(exc, "headers", None)
    )


def _unexpected(_: Request, exc: Exception) -> FastJSON:
    log.exception("unhandled error", exc_info=exc)
    return FastJSON(error_body("internal_error", "Something went wrong; it was logged."), status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(SpendwardenError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
