"""POST /v1/chat (JSON) and POST /v1/chat/stream (SSE of the agent's typed events)."""

from __future__ import annotations

import json

from fastapi import APIRouter
from sse_starlette.sse import EventSourceResponse

from tutor.api.deps import PrincipalDep, TutorDep, owner_for
from tutor.api.schemas import ERRORS, ChatRequest, ChatResponse

router = APIRouter(prefix="/v1", tags=["chat"])


def thread_key(principal, body: ChatRequest) -> str:
    # threads are namespaced by key so two bots' "chat 1" never collide
    return f"{principal.name}/{body.thread_id}"


@router.post("/chat", response_model=ChatResponse, responses=ERRORS, summary="Ask the tutor (one JSON answer)")
async def chat(body: ChatRequest, principal: PrincipalDep, tutor: TutorDep) -> ChatResponse:
    events, final = [], None
    async for ev in tutor.chat(thread_key(principal, body), owner_for(principal, body.user), body.message,
                               mode=body.mode, plan_only=body.plan_only):
        if ev.type != "token":
            events.append(ev.model_dump(mode="json"))
        if ev.type == "final":
            final = ev
    return ChatResponse(answer=final.answer, thread_id=body.thread_id, intent=final.intent, mode=final.mode,
                        language=final.language, job_id=final.job_id, sources=final.sources, data=final.data,
                        events=events)


@router.post("/chat/stream", responses=ERRORS, summary="Ask the tutor, streaming Server-Sent Events",
             description="Each SSE event's `event` is the agent event type (token, sources, job_submitted, "
                         "job_progress, artifact, final, error...) and `data` its JSON. A client that disconnects "
                         "stops the answer; a submitted job keeps running.")
async def chat_stream(body: ChatRequest, principal: PrincipalDep, tutor: TutorDep):
    async def gen():
        n = 0
        async for ev in tutor.chat(thread_key(principal, body), owner_for(principal, body.user), body.message,
                                   mode=body.mode, plan_only=body.plan_only):
            n += 1
            yield {"event": ev.type, "id": str(n), "data": json.dumps(ev.model_dump(mode="json"), ensure_ascii=False)}

    return EventSourceResponse(gen(), ping=15)
