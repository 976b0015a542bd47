"""Typed events of one chat turn, streamed by `TutorService.chat` to the API (SSE), the
UI, the bots and the CLI. JSON-serialisable; `type` discriminates."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field


class Source(BaseModel):
    n: int = Field(description="Citation number as used in the answer text: [n].")
    source: str = Field(description="File the passage comes from, e.g. corpus/lectures/04_cnn.md.")
    section: str = Field(description="Heading path of the passage.")
    anchor: str = Field(description="Lines (L12-30), page (p3) or cell (cell 5) of the passage.")
    snippet: str = Field(description="The passage text (shortened).")
    score: float = Field(description="Retrieval score (fused rank score).")


class TokenEvent(BaseModel):
    type: Literal["token"] = "token"
    text: str


class SourcesEvent(BaseModel):
    type: Literal["sources"] = "sources"
    query: str
    sources: list[Source]


class ToolCallEvent(BaseModel):
    type: Literal["tool_call"] = "tool_call"
    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class JobPlannedEvent(BaseModel):
    type: Literal["job_planned"] = "job_planned"
    tool: str
    preset: str
    config: dict[str, Any]
    estimate_s: float | None = Field(None, description="Estimated wall time on this machine.")
    needs_confirmation: bool = False


class JobSubmittedEvent(BaseModel):
    type: Literal["job_submitted"] = "job_submitted"
    job_id: str
    tool: str
    preset: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)


class JobProgressEvent(BaseModel):
    type: Literal["job_progress"] = "job_progress"
    job_id: str
    step: int | None = None
    total: int | None = None
    unit: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    message: str | None = None


class ArtifactEvent(BaseModel):
    type: Literal["artifact"] = "artifact"
    job_id: str | None = None
    name: str
    path: str
    kind: str
    url: str | None = None


class FinalEvent(BaseModel):
    type: Literal["final"] = "final"
    answer: str
    sources: list[Source] = Field(default_factory=list)
    intent: str
    mode: str
    thread_id: str
    language: str
    job_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict, description="Structured payload (job list, comparison table...).")


class ErrorEvent(BaseModel):
    type: Literal["error"] = "error"
    code: str
    message: str


ChatEvent = Annotated[
    Union[TokenEvent, SourcesEvent, ToolCallEvent, JobPlannedEvent, JobSubmittedEvent, JobProgressEvent,
          ArtifactEvent, FinalEvent, ErrorEvent],
    Field(discriminator="type"),
]
