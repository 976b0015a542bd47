"""Dependencies as Annotated aliases (FastAPI template style): settings, services, the
authenticated principal (API key → name, role, limits) with its rate limit applied."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tutor.api.errors import APIError
from tutor.api.keys import LOCAL, Principal
from tutor.settings import Settings


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_tutor(request: Request):
    return request.app.state.tutor


def get_jobs(request: Request):
    return request.app.state.jobs


# documents the scheme in OpenAPI (the "Authorize" button of /docs); the header itself is
# parsed below so that a missing and a malformed header get their own messages
bearer = HTTPBearer(auto_error=False, description="An API key: `python -m tutor keys create NAME --role student`.")


def get_principal(request: Request,
                  _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None) -> Principal:
    st: Settings = request.app.state.settings
    authorization = request.headers.get("authorization")
    if not request.app.state.auth_enabled:
        principal = LOCAL
    else:
        if not authorization:
            raise APIError(401, "unauthorized", "missing API key: send 'Authorization: Bearer <key>'",
                           {"WWW-Authenticate": "Bearer"})
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise APIError(401, "unauthorized", "malformed Authorization header: expected 'Bearer <key>'",
                           {"WWW-Authenticate": "Bearer"})
        keys = request.app.state.keys
        principal = keys.authenticate(key.strip())
        if principal is None:
            msg = "API key revoked" if keys.exists_revoked(key.strip()) else "invalid API key"
            raise APIError(401, "unauthorized", msg, {"WWW-Authenticate": "Bearer"})
    limit = principal.rate_limit_per_minute or st.rate_limit_per_minute
    wait = request.app.state.limiter.check(principal.name, limit)
    if wait is not None:
        raise APIError(429, "rate_limited", f"rate limit of {limit} requests per minute exceeded",
                       {"Retry-After": str(int(wait) + 1)})
    request.state.principal = principal
    return principal


def owner_for(principal: Principal, user: str | None) -> str:
    """Whose thread/jobs a request acts on: bots and admins speak for their users
    (namespaced by the key), a student key always acts as itself."""
    if principal.role in ("bot", "admin") and user:
        return user if principal.role == "admin" else f"{principal.name}:{user}"
    return principal.name


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
TutorDep = Annotated[object, Depends(get_tutor)]
JobsDep = Annotated[object, Depends(get_jobs)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
