"""Typed events of one chat turn, streamed by `TutorService.chat` to the API (SSE), the
UI, the bots and the CLI. JSON-serialisable; `type` discriminates."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field

from tutor.agent.intents import IntentKind


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
    memory_bytes: int | None = Field(None, description="Estimated peak memory of the run.")
    on_gpu: bool = False
    needs_confirmation: bool = False
    unsupported: list[str] = Field(default_factory=list, description="Parameters the student named that the tool lacks.")


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


class AnswerStyle(str, Enum):
    GENERATIVE = "generative"  # written by the LLM from the passages, checked before it was shown
    MIXED = "generative+extractive"  # the checked sentences the model wrote, completed by quoted ones
    EXTRACTIVE = "extractive"  # quoted sentences of the passages
    HINT = "hint"  # hint mode: guiding questions, no solution
    NOT_COVERED = "not_covered"  # the materials do not cover it
    OFF_TOPIC = "off_topic"
    REPORT = "report"  # a deterministic report (runs, commands)


class DroppedSentence(BaseModel):
    text: str
    reason: str


class AnswerCheck(BaseModel):
    """What the support check did with a generated answer (tutor/agent/grounding.py)."""

    reason: str = Field("", description="Why the answer was repaired or replaced ('' when it passed whole).")
    kept_claims: int = 0
    dropped: list[DroppedSentence] = Field(default_factory=list)
    raw: str = Field("", description="What the model wrote, before the check.")


class ArtifactInfo(BaseModel):
    name: str
    kind: str


class JobInfo(BaseModel):
    """A job as the chat shows it (no server paths)."""

    id: str
    tool: str
    status: str
    preset: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    artifacts: list[ArtifactInfo] = Field(default_factory=list)

    @classmethod
    def of(cls, job: dict[str, Any]) -> "JobInfo":
        return cls(id=job["id"], tool=job["tool"], status=job["status"], preset=job.get("preset"),
                   config=job.get("config") or {}, metrics=job.get("metrics") or {}, error=job.get("error"),
                   artifacts=[ArtifactInfo(name=a["name"], kind=a.get("kind", "other")) for a in job.get("artifacts") or []])


class ComparisonInfo(BaseModel):
    tool: str
    metric: str
    columns: list[str] = Field(default_factory=list)
    rows: list[dict[str, Any]] = Field(default_factory=list)
    plotly: dict[str, Any] | None = None


class PredictionInfo(BaseModel):
    tool: str = Field(description="The tool whose checkpoint answered, or 'pretrained'.")
    model: str | None = Field(None, description="The pretrained model used, when no checkpoint of the student's was.")
    checkpoint_job: str | None = None
    result: dict[str, Any] = Field(default_factory=dict)


class ExperimentPlan(BaseModel):
    tool: str
    preset: str
    config: dict[str, Any]
    estimate_s: float = Field(description="Estimated wall time where it will run.")
    memory_bytes: int = Field(description="Estimated peak memory of the run.")
    parameters: int = 0
    on_gpu: bool = False
    needs_confirmation: bool = False
    unsupported: list[str] = Field(default_factory=list, description="Named by the student, not taken by the tool.")
    measures: list[str] = Field(default_factory=list, description="The metrics the run reports, main one first.")
    budget_share: float | None = Field(None, description="The run's estimate as a percentage of the student's weekly "
                                                          "budget in the course (None: no budget).")
    budget_left_minutes: float | None = Field(None, description="Minutes of the weekly budget left before this run.")

    def short_config(self) -> str:
        from tools.registry import get_tool

        keys = get_tool(self.tool).spec.short_keys
        return ", ".join(f"{k}={self.config[k]}" for k in keys if k in self.config)

    def planned_event(self) -> "JobPlannedEvent":
        return JobPlannedEvent(tool=self.tool, preset=self.preset, config=self.config, estimate_s=self.estimate_s,
                               memory_bytes=self.memory_bytes, on_gpu=self.on_gpu,
                               needs_confirmation=self.needs_confirmation, unsupported=self.unsupported)


class FinalEvent(BaseModel):
    type: Literal["final"] = "final"
    answer: str
    sources: list[Source] = Field(default_factory=list)
    intent: IntentKind
    mode: str
    thread_id: str
    language: str
    job_id: str | None = None
    answer_style: AnswerStyle | None = None
    error: str | None = Field(None, description="Error code when the request was not carried out.")
    homework: bool = Field(False, description="Answered as a homework question (hint mode).")
    homework_item: str | None = Field(None, description="The course's homework item whose deadline forced hint mode.")
    course: str | None = Field(None, description="The course this turn belongs to.")
    llm_failed: bool = Field(False, description="The chat model failed and the answer fell back to quoting the passages.")
    query: str | None = Field(None, description="The standalone question retrieval used (a follow-up rewritten).")
    check: AnswerCheck | None = None
    timings: dict[str, float] = Field(default_factory=dict, description="Model timings: first token, first shown, total.")
    job: JobInfo | None = None
    jobs: list[JobInfo] = Field(default_factory=list)
    plans: list[ExperimentPlan] = Field(default_factory=list, description="Planned runs (awaiting confirmation or plan_only).")
    comparison: ComparisonInfo | None = None
    prediction: PredictionInfo | None = None


class ErrorEvent(BaseModel):
    type: Literal["error"] = "error"
    code: str
    message: str


ChatEvent = Annotated[
    Union[TokenEvent, SourcesEvent, ToolCallEvent, JobPlannedEvent, JobSubmittedEvent, JobProgressEvent,
          ArtifactEvent, FinalEvent, ErrorEvent],
    Field(discriminator="type"),
]
