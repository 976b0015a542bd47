"""Dependencies as Annotated aliases (FastAPI template style): settings, services, the
authenticated principal (API key → name, role, limits) with its rate limit applied."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tutor.api.errors import APIError
from tutor.api.keys import LOCAL, Principal
from tutor.names import KEY_NAME_MAX, USER_MAX, is_safe_name
from tutor.settings import Settings


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_tutor(request: Request):
    return request.app.state.tutor


def get_jobs(request: Request):
    return request.app.state.jobs


def courses_of(request: Request):
    """The CourseService (tutor/courses/service.py) of this app."""
    return request.app.state.tutor.services.courses


def course_binding(request: Request, principal: Principal) -> str | None:
    """The course a caller's chats and jobs belong to: a student's or staff member's own (the demo
    course without one), a bot's when it was created with --course; None for admins and unbound
    bots (their chats pick one with /course)."""
    return courses_of(request).course_of(principal.role, principal.course)


# documents the scheme in OpenAPI (the "Authorize" button of /docs); the header itself is
# parsed below so that a missing and a malformed header get their own messages
bearer = HTTPBearer(auto_error=False, description="An API key: `python -m tutor keys create NAME --role student`.")


def _authenticate(request: Request) -> Principal:
    st: Settings = request.app.state.settings
    authorization = request.headers.get("authorization")
    if not request.app.state.auth_enabled:
        principal = LOCAL
    else:
        if not authorization:
            raise APIError(401, "unauthorized", "missing API key: send 'Authorization: Bearer <key>'",
                           {"WWW-Authenticate": "Bearer"})
        scheme, _, key = authorization.partition(" ")
        key = key.strip()
        # a key is ASCII (tk_ + URL-safe base64): anything else cannot be one, and is not looked up
        if scheme.lower() != "bearer" or not key or len(key) > 256 or not key.isascii() or not key.isprintable():
            raise APIError(401, "unauthorized", "malformed Authorization header: expected 'Bearer <key>'",
                           {"WWW-Authenticate": "Bearer"})
        keys = request.app.state.keys
        principal = keys.authenticate(key)
        if principal is None:
            raise APIError(401, "unauthorized", keys.refusal(key), {"WWW-Authenticate": "Bearer"})
    limit = principal.rate_limit_per_minute or st.rate_limit_per_minute
    wait = request.app.state.limiter.check(principal.name, limit)
    if wait is not None:
        raise APIError(429, "rate_limited", f"rate limit of {limit} requests per minute exceeded",
                       {"Retry-After": str(int(wait) + 1)})
    request.state.principal = principal
    return principal


def get_principal(request: Request,
                  _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None) -> Principal:
    """The caller of a /v1 route: admin, bot, student or staff (a monitor key may only scrape)."""
    principal = _authenticate(request)
    if principal.role == "monitor":
        raise APIError(403, "forbidden", "a monitor key may only read /readyz and /metrics")
    return principal


def get_monitor(request: Request,
                _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None) -> Principal:
    """/readyz details and /metrics: an admin or a monitor key (they describe the whole server)."""
    principal = _authenticate(request)
    if principal.role not in ("admin", "monitor"):
        raise APIError(403, "forbidden", "readiness details and metrics need an admin or monitor key")
    return principal


def owner_for(principal: Principal, user: str | None) -> str:
    """Whose thread/jobs a request acts on: bots and admins speak for their users
    (namespaced by the key), a student key always acts as itself. The user id is one
    safe name (tutor.names): no ':' or '/' that would step into another namespace."""
    if principal.role in ("bot", "admin") and user:
        parts = user.split(":", 1) if principal.role == "admin" else [user]  # an admin may act as '<bot>:<user>'
        if not all(is_safe_name(p, USER_MAX if i else KEY_NAME_MAX if len(parts) > 1 else USER_MAX)
                   for i, p in enumerate(parts)):
            raise APIError(422, "validation_error", f"user: 1-{USER_MAX} ASCII letters, digits, '.', '_', '@', '-' "
                                                    "(no ':' or '/')")
        return user if principal.role == "admin" else f"{principal.name}:{user}"
    return principal.name


def quota_group(principal: Principal) -> str | None:
    """The owners that share one key's job limit: a bot's users all count against the bot."""
    return principal.name if principal.role == "bot" else None


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
TutorDep = Annotated[object, Depends(get_tutor)]
JobsDep = Annotated[object, Depends(get_jobs)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
MonitorDep = Annotated[Principal, Depends(get_monitor)]
