"""Every error leaves the API as JSON {"error": {"code", "message"}} with a fitting status."""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class APIError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def error_body(code: str, message: str, details=None) -> dict:
    body = {"error": {"code": code, "message": message}}
    if details is not None:
        body["error"]["details"] = details
    return body


CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type", 422: "validation_error",
         429: "rate_limited", 503: "unavailable"}


def install(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError):
        return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status, headers=exc.headers)

    from tutor.courses import CourseError

    @app.exception_handler(CourseError)
    async def _course_error(request: Request, exc: CourseError):  # tutor/courses: 403/404/409/422 with a reason
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        msg = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return JSONResponse(error_body(CODES.get(exc.status_code, "error"), msg), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errs = [{"loc": [str(x) for x in e.get("loc", [])], "msg": e.get("msg", ""), "type": e.get("type", "")}
                for e in exc.errors()]
        first = "; ".join(f"{'.'.join(e['loc'][1:] or e['loc'])}: {e['msg']}" for e in errs[:3])
        return JSONResponse(error_body("validation_error", f"invalid request: {first}", errs), status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):  # pragma: no cover - a bug, logged with its trace
        ref = uuid.uuid4().hex[:10]
        log.exception("unhandled error [ref %s] on %s %s", ref, request.method, request.url.path)
        return JSONResponse(error_body("internal_error", f"internal error (reference {ref}: the operator's log has "
                                                         "the details)"), status_code=500)


METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def add_v1_fallback(app: FastAPI) -> None:
    """A last /v1 route for every method: 405 (with Allow) when another method of the path
    exists, else 404 — as JSON. Without it a path the API does not know would fall through
    to the chat UI mounted at /, whose catch-all answers 200 with its HTML page (or its own
    {"detail": ...} 405)."""
    from starlette.routing import Match, Mount

    own: list = []

    async def fallback(request: Request):
        allowed = set()
        for method in METHODS:  # which methods would a route (or an included router) take here?
            scope = {**request.scope, "method": method}
            if any(r.matches(scope)[0] is Match.FULL for r in app.router.routes
                   if not isinstance(r, Mount) and not any(r is o for o in own)):  # the UI is a Mount at /
                allowed.add(method)
        if allowed:
            allow = ", ".join(sorted(allowed))
            return JSONResponse(error_body("method_not_allowed", f"{request.method} is not allowed here; use {allow}"),
                                status_code=405, headers={"Allow": allow})
        return JSONResponse(error_body("not_found", f"no API route {request.url.path}"), status_code=404)

    for path in ("/v1/", "/v1/{rest:path}"):
        app.add_api_route(path, fallback, methods=METHODS, include_in_schema=False)
        own.append(app.router.routes[-1])
