"""GET /healthz (process alive: open, says only "ok"), /readyz (index, database, LLM) and
/metrics (Prometheus): these two describe the server (model file, counts) and need an
admin or monitor key."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from tutor.api import metrics
from tutor.api.deps import MonitorDep, PrincipalDep
from tutor.api.errors import APIError
from tutor.api.schemas import ERRORS

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness (no key needed)")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: index loaded, database reachable, LLM loadable (admin or monitor key)",
            responses={**ERRORS, 200: {"description": "Ready: every check is ok"},
                       503: {"description": "Not ready: the failing checks say why"}})
async def readyz(request: Request, principal: MonitorDep):
    st = request.app.state
    checks: dict[str, dict] = {}

    def index_check():
        idx = st.tutor.index
        return {"ok": True, "chunks": len(idx), "embedder": idx.manifest.get("embedder")}

    def db_check():
        from sqlalchemy import text

        with st.engine.connect() as c:
            c.execute(text("SELECT 1"))
        return {"ok": True}

    def llm_check():
        chat, caps = st.tutor.llm
        return {"ok": True, "backend": caps.name, "generative": caps.generative_answers}

    for name, fn in (("index", index_check), ("database", db_check), ("llm", llm_check)):
        try:
            checks[name] = await asyncio.to_thread(fn)
        except Exception as e:
            checks[name] = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    ok = all(c["ok"] for c in checks.values())
    return JSONResponse({"status": "ready" if ok else "not_ready", "checks": checks}, status_code=200 if ok else 503)


@router.get("/metrics", summary="Prometheus metrics (admin or monitor key)",
            responses={**ERRORS, 200: {"description": "Prometheus text format",
                                       "content": {"text/plain": {"schema": {"type": "string"}}}}})
async def prometheus(request: Request, principal: MonitorDep):
    try:
        counts = await asyncio.to_thread(request.app.state.jobs.counts)
    except Exception:
        counts = {}
    return PlainTextResponse(metrics.render(counts), media_type="text/plain; version=0.0.4")


@router.get("/v1/feedback", tags=["ui"], summary="Thumbs up/down given in the chat UI (admin keys)",
            responses=ERRORS)
async def feedback(request: Request, principal: PrincipalDep):
    if not principal.is_admin:
        raise APIError(403, "forbidden", "feedback is visible to admin keys only")
    from tutor.ui.store import UserStore

    rows = await asyncio.to_thread(UserStore(request.app.state.engine).feedback)
    return {"items": rows}
