"""The FastAPI application: `uvicorn tutor.api.main:app` (or `python -m tutor serve`).

One process serves the API under /v1 and (when installed) the Chainlit UI at /. The
lifespan opens the database, the job scheduler (embedded), the tutor service (index
and LLM load lazily on first use, /readyz reports them)."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from tutor import __version__
from tutor.api import errors
from tutor.api.errors import error_body
from tutor.api.metrics import MetricsMiddleware
from tutor.settings import Settings, get_settings

log = logging.getLogger(__name__)

DESCRIPTION = """
The AI tutor of a deep-learning course: answers from the course materials with citations,
runs real PyTorch experiments as jobs, and speaks OpenAI's chat-completions protocol.

Authentication: `Authorization: Bearer <API key>` (create keys with `python -m tutor keys create`).
Errors are JSON: `{"error": {"code": "...", "message": "..."}}`.
"""


class BodyLimitMiddleware:
    """413 for request bodies over the limit, counted while streaming (a missing or false
    Content-Length, or chunked transfer encoding, does not get around it). Uploads get
    their own, larger limit.

    Over the limit, the app is told the client went away (`http.disconnect`) instead of
    getting an exception inside its body parser (FastAPI would turn that into a 400), and
    whatever it answers is dropped for the 413."""

    def __init__(self, app, max_body: int, max_upload: int, max_dataset: int | None = None,
                 max_material: int | None = None) -> None:
        self.app, self.max_body, self.max_upload = app, max_body, max_upload
        self.max_dataset = max_dataset or max_upload
        self.max_material = max_material or max_upload

    def limit(self, scope) -> int:
        path = scope["path"]
        if path.startswith(("/v1/predict", "/v1/vision")):
            return self.max_upload + 64_000
        if path == "/v1/datasets" and scope.get("method") == "POST":  # staff dataset zips
            return self.max_dataset + 64_000
        if (path.startswith(("/v1/courses/", "/staff/courses/")) and "/materials" in path
                and scope.get("method") in ("POST", "PUT")):  # course materials uploaded by staff
            return self.max_material + 64_000
        return self.max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit(scope)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            if not (declared.isdigit() and len(declared) < 19):
                return await _send_error(send, 400, "bad_request", "malformed Content-Length header")
            if int(declared) > limit:
                return await _send_error(send, 413, "payload_too_large", f"request body larger than {limit} bytes")
        seen, too_big, started = 0, False, False

        async def limited_receive():
            nonlocal seen, too_big
            if too_big:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    too_big = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            nonlocal started
            if too_big:
                return  # the app's answer to a body it never fully got
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not too_big:
                raise
        if too_big and not started:
            await _send_error(send, 413, "payload_too_large", f"request body larger than {limit} bytes")


async def _send_error(send, status: int, code: str, message: str) -> None:
    import json

    body = json.dumps(error_body(code, message)).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def create_app(settings: Settings | None = None, tutor=None, jobs=None, start_scheduler: bool = True,
               mount_ui: bool | None = None) -> FastAPI:
    st = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from tutor.api.keys import KeyStore, RateLimiter
        from tutor.db import check_database, get_engine

        check_database(st.database_url)  # DatabaseUnavailable says which database and what to do

        app.state.settings = st
        app.state.engine = get_engine(st)
        app.state.keys = KeyStore(app.state.engine)
        app.state.limiter = RateLimiter()
        app.state.auth_enabled = st.auth_enabled()
        if jobs is None:
            from tutor.jobs.service import JobService

            app.state.jobs = JobService(st)
        else:
            app.state.jobs = jobs
        if tutor is None:
            from tutor.agent.service import TutorService

            app.state.tutor = TutorService(st, jobs=app.state.jobs)
        else:
            app.state.tutor = tutor
        indexer = _start_course_indexer(app)
        started = False
        if start_scheduler and hasattr(app.state.jobs, "start"):
            await app.state.jobs.start()
            started = True
        log.info("tutor API ready (auth %s)", "on" if app.state.auth_enabled else "off")
        try:
            yield
        finally:
            if hasattr(app.state.tutor, "aclose"):
                await app.state.tutor.aclose()
            if indexer is not None:
                indexer.stop()
            if started:
                await app.state.jobs.stop()

    app = FastAPI(title="tutor", version=__version__, description=DESCRIPTION, lifespan=lifespan,
                  responses={500: {"description": "Internal error (a bug; reported as JSON)"}})
    errors.install(app)
    app.add_middleware(MetricsMiddleware)
    from tutor.api.routes import chat, health, jobs as jobs_routes, openai_compat, search, tools, vision
    from tutor.api.routes import courses as courses_routes, datasets as datasets_routes, staff as staff_routes

    for r in (health.router, chat.router, openai_compat.router, search.router, tools.router, jobs_routes.router,
              vision.router, datasets_routes.router, courses_routes.router, staff_routes.router):
        app.include_router(r)

    @app.get("/v1", include_in_schema=False)
    async def v1_root():
        return JSONResponse({"name": "tutor", "version": __version__, "docs": "/docs"})

    # before the UI's catch-all: an unknown /v1 path or method is a JSON 404/405, never the UI's page
    errors.add_v1_fallback(app)
    if mount_ui if mount_ui is not None else st.ui:
        try:
            from tutor.ui.mount import mount_ui as _mount

            _mount(app, st)
        except ImportError as e:  # the UI is optional for API-only deployments
            log.warning("UI not mounted: %s", e)

    # outermost: reject oversized bodies before anything reads them
    app.add_middleware(BodyLimitMiddleware, max_body=st.max_body_bytes, max_upload=st.max_upload_bytes,
                       max_dataset=st.max_dataset_bytes, max_material=st.max_material_bytes)
    return app


def _start_course_indexer(app):
    """The background indexer of course materials (tutor/courses/materials.py), sharing the tutor's
    encoder; courses a previous process left half-indexed are indexed again."""
    services = getattr(app.state.tutor, "services", None)
    if services is None:
        return None
    from tutor.courses.materials import MaterialIndexer

    materials = services.materials  # also creates the course tables and the demo course
    indexer = MaterialIndexer(materials, embedder=lambda: services.index.embedder)
    for course in materials.pending_courses():
        indexer.enqueue(course)
    return indexer


def __getattr__(name: str):
    # `uvicorn tutor.api.main:app` builds the app on first access, so importing this module
    # in tests does not read the environment or touch the database
    if name == "app":
        global app
        app = create_app()
        return app
    raise AttributeError(name)
