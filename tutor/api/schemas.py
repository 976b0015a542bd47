"""Request and response models of the HTTP API (documented with examples in OpenAPI)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tutor.agent.events import AnswerStyle, ComparisonInfo, ExperimentPlan, JobInfo, PredictionInfo, Source
from tutor.names import KEY_NAME_MAX, THREAD_ID_MAX, THREAD_ID_PATTERN, USER_MAX, USER_PATTERN

MAX_MESSAGE = 8000


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"message": "Как работает свёртка?", "thread_id": "tg-12345", "user": "student42", "mode": "explain"},
        {"message": "обучи CNN на 3 эпохи", "thread_id": "web-1", "plan_only": True}]})
    message: str = Field(min_length=1, max_length=MAX_MESSAGE, description="The student's message or a /command.")
    thread_id: str = Field("default", min_length=1, max_length=THREAD_ID_MAX, pattern=THREAD_ID_PATTERN,
                           description="Conversation id: a Telegram chat, a UI session... (no '/')")
    user: str | None = Field(None, min_length=1, max_length=KEY_NAME_MAX + 1 + USER_MAX, pattern=USER_PATTERN,
                             description="End user on whose behalf a bot key speaks (ignored for student keys); "
                                         "ASCII letters, digits, '._@-', no '/'. Only admin keys may name a bot's "
                                         "user as '<bot>:<user>'.")
    mode: Literal["explain", "hint"] | None = Field(None, description="Answer mode; persists for the thread.")
    plan_only: bool = Field(False, description="Report the job an experiment request would submit, without submitting.")
    course: str | None = Field(None, max_length=32, pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$",
                               description="The course of the turn: admin keys may name any; a student's, staff "
                                           "member's or bound bot's is its own (another one is a 403).")


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
    answer_style: AnswerStyle | None = None
    error: str | None = Field(None, description="Error code when the request was not carried out.")
    homework: bool = False
    homework_item: str | None = None
    course: str | None = None
    job: JobInfo | None = None
    jobs: list[JobInfo] = Field(default_factory=list)
    plans: list[ExperimentPlan] = Field(default_factory=list)
    comparison: ComparisonInfo | None = None
    prediction: PredictionInfo | None = None
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
    preset: str = Field("quick", min_length=1, max_length=16, pattern=r"^[a-z0-9_]+$",
                        description="A preset of the tool (GET /v1/tools lists them): smoke, quick, full, and the "
                                    "real-data ones such as transfer, finetune, pets, imdb and their *_gpu versions.")
    config: dict[str, Any] = Field(default_factory=dict, description="Overrides of the preset, validated by the tool's "
                                   "Config. A dataset registered by the course staff is named, never a path: "
                                   "{\"dataset_name\": \"afhq\"} (GET /v1/datasets).")
    priority: int = Field(0, ge=-100, le=100, description="Higher runs earlier among the jobs of owners holding as "
                                                          "many slots; above 0 needs an admin key (403).")
    user: str | None = Field(None, min_length=1, max_length=KEY_NAME_MAX + 1 + USER_MAX, pattern=USER_PATTERN,
                             description="End user a bot key submits for (ignored for student keys); admin keys "
                                         "may name a bot's user as '<bot>:<user>'.")


class ArtifactInfo(BaseModel):
    name: str
    kind: str | None = None
    size: int | None = None
    url: str | None = Field(None, description="Where to download it (GET, same key).")


class JobInfo(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "3f9c2a1b7d4e", "tool": "cnn", "preset": "smoke", "status": "succeeded", "owner": "alice", "priority": 0,
        "config": {"epochs": 1, "lr": 0.002}, "metrics": {"test_accuracy": 0.91}, "error": None, "device": "cpu",
        "created_at": 1767225600.0, "started_at": 1767225601.0, "finished_at": 1767225615.0,
        "artifacts": [{"name": "learning_curves.png", "kind": "image", "size": 41210}]}]})
    id: str
    tool: str
    preset: str | None = None
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    owner: str | None = None
    priority: int = 0
    config: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    error: str | None = Field(None, description="Why it failed, in one line (with a reference the operator's log has).")
    error_detail: str | None = Field(None, description="The failure's traceback: admin keys only.")
    device: str | None = None
    created_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    artifacts: list[ArtifactInfo] = Field(default_factory=list, description="Download with GET .../artifacts/{name}.")


class JobList(BaseModel):
    total: int
    items: list[JobInfo]


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


ERRORS = {s: {"model": ErrorResponse} for s in (400, 401, 403, 404, 413, 415, 422, 429)}


def sse_response(description: str, data_description: str, json_data: bool = True) -> dict:
    """OpenAPI for a Server-Sent Events 200 response: `itemSchema` describes one event
    (OpenAPI 3.2 style, the same shape FastAPI documents for its own SSE routes)."""
    data: dict[str, Any] = {"type": "string", "description": data_description}
    if json_data:
        data["contentMediaType"] = "application/json"
    item = {"type": "object", "required": ["data"], "properties": {
        "event": {"type": "string"}, "id": {"type": "string"}, "retry": {"type": "integer", "minimum": 0},
        "data": data}}
    return {"description": description, "content": {"text/event-stream": {"itemSchema": item}}}
