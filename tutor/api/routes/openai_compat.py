"""OpenAI-compatible endpoints: POST /v1/chat/completions (stream and non-stream) and
GET /v1/models, so any OpenAI client or bot framework can talk to the tutor. The last
user message is the question; the thread is the request's `user` (or a hash of the
conversation's first message); sources come as markdown footnotes and in `sources`."""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from contextlib import aclosing
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette.sse import EventSourceResponse

from tutor.api.deps import PrincipalDep, TutorDep, course_binding, owner_for
from tutor.api.errors import APIError
from tutor.api.routes.chat import cancellable, count
from tutor.api.schemas import ERRORS, MAX_MESSAGE, sse_response
from tutor.agent.events import Source
from tutor.names import USER_MAX, safe_login
from tutor.redact import redact

router = APIRouter(prefix="/v1", tags=["openai"])
MODEL_ID = "tutor"


class OAMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None


class OARequest(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [
        {"model": "tutor", "messages": [{"role": "user", "content": "Что такое dropout?"}], "stream": False}]})
    model: str = Field(MODEL_ID, max_length=128)
    messages: list[OAMessage] = Field(min_length=1, max_length=200)
    stream: bool = False
    user: str | None = Field(None, max_length=128)
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1, le=32768)


class OAModel(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class OAModelList(BaseModel):
    object: Literal["list"]
    data: list[OAModel]


class OAAssistantMessage(BaseModel):
    role: Literal["assistant"]
    content: str


class OAChoice(BaseModel):
    index: int
    message: OAAssistantMessage
    finish_reason: str


class OAUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class OACompletion(BaseModel):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[OAChoice]
    usage: OAUsage
    sources: list[Source] = Field(description="The passages the answer cites (also as footnotes in the content).")
    thread_id: str


def _text(m: OAMessage) -> str:
    if isinstance(m.content, str):
        return m.content
    return "".join(p["text"] for p in m.content or []
                   if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str))


def footnotes(sources) -> str:
    if not sources:
        return ""
    return "\n\n" + "\n".join(f"[{s.n}]: {s.source} — {s.section} ({s.anchor})" for s in sources)


def _thread(principal, body: OARequest, users: list[str]) -> str:
    if body.user and re.fullmatch(r"[\w.:@-]{1,64}", body.user):
        return f"{principal.name}/oa-{body.user}"
    seed = body.user or users[0]  # a user id that is too long or odd for a thread id is hashed
    return f"{principal.name}/oa-" + hashlib.sha1(seed.encode("utf-8", "replace")).hexdigest()[:16]


@router.get("/models", response_model=OAModelList, responses=ERRORS, summary="OpenAI-compatible model list")
async def models(principal: PrincipalDep) -> dict:
    return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 1767225600, "owned_by": "tutor"}]}


@router.post("/chat/completions", summary="OpenAI-compatible chat completion", responses={**ERRORS, 200: {
    "model": OACompletion, "description": "A chat.completion; with `stream: true` Server-Sent Events instead.",
    "content": sse_response("", "A chat.completion.chunk as JSON; the last event's data is `[DONE]`.",
                            json_data=False)["content"]}})
async def completions(body: OARequest, principal: PrincipalDep, tutor: TutorDep, request: Request):
    users = [_text(m) for m in body.messages if m.role == "user"]
    if not users or not users[-1].strip():
        raise APIError(422, "validation_error", "messages must contain a non-empty user message")
    if len(users[-1]) > MAX_MESSAGE:
        raise APIError(413, "payload_too_large", f"the last user message is longer than {MAX_MESSAGE} characters")
    # OpenAI's `user` is any end-user id: an odd one (too long, ':' or '/') maps to a safe name
    thread, owner = _thread(principal, body, users), owner_for(principal, body.user and safe_login(body.user, USER_MAX))
    cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
    course = course_binding(request, principal)  # the key's course (tutor/courses)

    if not body.stream:
        final = None
        async for ev in tutor.chat(thread, owner, users[-1], course=course):
            count(ev)
            if ev.type == "final":
                final = ev
        content = redact(final.answer) + footnotes(final.sources)
        return {"id": cid, "object": "chat.completion", "created": created, "model": MODEL_ID,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": len(users[-1].split()), "completion_tokens": len(content.split()),
                          "total_tokens": len(users[-1].split()) + len(content.split())},
                "sources": [s.model_dump() for s in final.sources], "thread_id": thread.split("/", 1)[1]}

    def chunk(delta: dict, finish: str | None = None, **extra) -> dict:
        return {"data": json.dumps({"id": cid, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
                                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra},
                                   ensure_ascii=False)}

    async def gen():
        yield chunk({"role": "assistant", "content": ""})
        async with aclosing(cancellable(tutor.chat(thread, owner, users[-1], course=course), "chat_completions", thread)) as events:
            async for ev in events:
                if ev.type == "token":
                    yield chunk({"content": redact(ev.text)})
                elif ev.type == "final":
                    notes = footnotes(ev.sources)
                    if notes:
                        yield chunk({"content": notes})
                    yield chunk({}, "stop", sources=[s.model_dump() for s in ev.sources])
        yield {"data": "[DONE]"}

    return EventSourceResponse(gen(), ping=15)
