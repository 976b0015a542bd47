"""Request and response models of the HTTP API (documented with examples in OpenAPI)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tutor.agent.events import Source

MAX_MESSAGE = 8000


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"message": "Как работает свёртка?", "thread_id": "tg-12345", "user": "student42", "mode": "explain"},
        {"message": "обучи CNN на 3 эпохи", "thread_id": "web-1", "plan_only": True}]})
    message: str = Field(min_length=1, max_length=MAX_MESSAGE, description="The student's message or a /command.")
    thread_id: str = Field("default", min_length=1, max_length=128, pattern=r"^[\w.:@-]+$",
                           description="Conversation id: a Telegram chat, a UI session...")
    user: str | None = Field(None, min_length=1, max_length=128, pattern=r"^[\w.:@-]+$",
                             description="End user on whose behalf a bot key speaks (ignored for student keys).")
    mode: Literal["explain", "hint"] | None = Field(None, description="Answer mode; persists for the thread.")
    plan_only: bool = Field(False, description="Report the job an experiment request would submit, without submitting.")


class ChatResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "answer": "По материалам курса:\n\nПаддинг добавляет нули по краям... [1]", "thread_id": "web-1",
        "intent": "question", "mode": "explain", "language": "ru", "job_id": None,
        "sources": [{"n": 1, "source": "corpus/lectures/04_cnn.md", "section": "CNN > Паддинг", "anchor": "L40-52",
                     "snippet": "Паддинг (padding) ...", "score": 0.0325}], "events": []}]})
    answer: str
    thread_id: str
    intent: str
    mode: str
    language: str
    job_id: str | None = None
    sources: list[Source]
    data: dict[str, Any] = Field(default_factory=dict)
    events: list[dict[str, Any]] = Field(description="Every event of the turn, in order (as the SSE stream sends them).")


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"query": "формула размера выхода свёртки", "k": 3}]})
    query: str = Field(min_length=1, max_length=2000)
    k: int = Field(5, ge=1, le=50)
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"


class SearchHit(BaseModel):
    text: str
    source: str
    section: str
    anchor: str
    score: float


class SearchResponse(BaseModel):
    query: str
    hits: list[SearchHit]


class ToolInfo(BaseModel):
    name: str
    description: str
    metric: str
    presets: dict[str, dict[str, Any]]
    config_schema: dict[str, Any] = Field(description="JSON schema of the tool's Config (bounds, descriptions).")


class JobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"tool": "cnn", "preset": "smoke", "config": {"epochs": 1}}]})
    tool: str = Field(min_length=1, max_length=64, description="Registered tool name (GET /v1/tools).")
    preset: Literal["smoke", "quick", "full"] = "quick"
    config: dict[str, Any] = Field(default_factory=dict, description="Overrides of the preset, validated by the tool's Config.")
    priority: int = Field(0, ge=-100, le=100, description="Higher runs earlier.")
    user: str | None = Field(None, min_length=1, max_length=128, pattern=r"^[\w.:@-]+$")


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


ERRORS = {s: {"model": ErrorResponse} for s in (401, 403, 404, 413, 415, 422, 429)}
