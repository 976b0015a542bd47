"""POST /v1/chat (JSON) and POST /v1/chat/stream (SSE of the agent's typed events).

A streaming client that disconnects cancels its turn: the agent's generator is closed
(nothing more is generated, the unfinished turn is not stored in the thread), counted in
`tutor_chat_cancelled_total`. Jobs the turn submitted run in worker processes and are not
affected: watch them with GET /v1/jobs/{id} or /status ID."""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import aclosing

from fastapi import APIRouter, Request
from prometheus_client import Counter
from sse_starlette.sse import EventSourceResponse

from tutor.api.deps import PrincipalDep, TutorDep, course_binding, owner_for
from tutor.api.errors import APIError
from tutor.api.metrics import REGISTRY, TOKENS, TURNS
from tutor.api.public import public_chat_event
from tutor.api.schemas import ERRORS, ChatRequest, ChatResponse, sse_response

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["chat"])

CANCELLED = Counter("tutor_chat_cancelled_total", "Streamed chat turns stopped because the client disconnected",
                    ["endpoint"], registry=REGISTRY)


def thread_key(principal, body: ChatRequest) -> str:
    # threads are namespaced by key so two bots' "chat 1" never collide
    return f"{principal.name}/{body.thread_id}"


def _url_user(principal, body: ChatRequest) -> str | None:
    """The `user` an output URL needs: the end user a bot or admin speaks for."""
    return body.user if principal.role in ("bot", "admin") else None


def turn_course(request: Request, principal, body: ChatRequest) -> str | None:
    """The course the turn belongs to (tutor/courses): an admin's choice, else the account's own."""
    own = course_binding(request, principal)
    if body.course is None:
        return own
    if principal.is_admin:
        if request.app.state.tutor.services.courses.find(body.course) is None:
            raise APIError(404, "course_not_found", f"no course '{body.course}'")
        return body.course
    if body.course != own:
        raise APIError(403, "forbidden", f"this key belongs to course {own or 'none'}: it cannot chat in another"
                                         if own else "an unbound bot picks a chat's course with the /course command")
    return own


def count(ev) -> None:
    if ev.type == "token":
        TOKENS.inc()
    elif ev.type == "final":
        TURNS.labels(ev.intent).inc()


async def cancellable(events, endpoint: str, thread: str):
    """Pass the turn's events through; if the client goes away (the SSE response is
    cancelled, or closes this generator), close the agent's generator too and count it."""
    n, done = 0, False
    try:
        async with aclosing(events) as it:
            async for ev in it:
                n += 1
                count(ev)
                done = ev.type == "final"
                yield ev
    except (asyncio.CancelledError, GeneratorExit):
        if not done:
            CANCELLED.labels(endpoint).inc()
            log.info("%s: client disconnected, turn of thread %s cancelled after %d events", endpoint, thread, n)
        raise


@router.post("/chat", response_model=ChatResponse, responses=ERRORS, summary="Ask the tutor (one JSON answer)")
async def chat(body: ChatRequest, principal: PrincipalDep, tutor: TutorDep, request: Request) -> ChatResponse:
    events, final = [], None
    user = _url_user(principal, body)
    async for ev in tutor.chat(thread_key(principal, body), owner_for(principal, body.user), body.message,
                               mode=body.mode, plan_only=body.plan_only, course=turn_course(request, principal, body)):
        count(ev)
        if ev.type != "token":
            events.append(public_chat_event(ev.model_dump(mode="json"), user))
        if ev.type == "final":
            final = public_chat_event(ev.model_dump(mode="json"), user)
    fields = {k: final[k] for k in ChatResponse.model_fields if k in final and k not in ("thread_id", "events")}
    return ChatResponse(**fields, thread_id=body.thread_id, events=events)


@router.post("/chat/stream", response_class=EventSourceResponse, summary="Ask the tutor, streaming Server-Sent Events",
             responses={**ERRORS, 200: sse_response(
                 "Server-Sent Events, one per agent event: `event: <type>`, `id: <n>`, `data: <JSON>`.",
                 "The event as JSON; its `type` repeats the SSE event name.")},
             description="Each SSE event's `event` is the agent event type (token, sources, tool_call, job_planned, "
                         "job_submitted, job_progress, artifact, final, error) and `data` its JSON. A client that "
                         "disconnects stops the answer; a submitted job keeps running.")
async def chat_stream(body: ChatRequest, principal: PrincipalDep, tutor: TutorDep, request: Request):
    thread = thread_key(principal, body)
    turn = tutor.chat(thread, owner_for(principal, body.user), body.message, mode=body.mode, plan_only=body.plan_only,
                      course=turn_course(request, principal, body))
    user = _url_user(principal, body)

    async def gen():
        n = 0
        async with aclosing(cancellable(turn, "chat_stream", thread)) as events:
            async for ev in events:
                n += 1
                data = public_chat_event(ev.model_dump(mode="json"), user)
                yield {"event": ev.type, "id": str(n), "data": json.dumps(data, ensure_ascii=False)}

    return EventSourceResponse(gen(), ping=15)
