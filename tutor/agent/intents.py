"""What a student's message asks for: one typed namespace for rules, slash commands and
the LLM's choices (no second "command" vocabulary beside the intent)."""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel, Field


class IntentKind(str, Enum):
    QUESTION = "question"  # a course question: retrieval + a grounded answer
    AGENT = "agent"  # a tool-calling LLM plans the turn (search, run, compare, read runs...)
    EXPERIMENT = "experiment"  # run a tool (rules or /run)
    CONFIRM = "confirm"
    DECLINE = "decline"
    PREDICT = "predict"  # an uploaded file
    JOBS = "jobs"
    STATUS = "status"
    CANCEL = "cancel"
    COMPARE = "compare"
    SEARCH = "search"
    MODE = "mode"
    HELP = "help"
    COURSE = "course"  # /course [ID]: show or pick the chat's course (tutor/courses)
    EMPTY = "empty"
    UNKNOWN_COMMAND = "unknown_command"
    ERROR = "error"


class Intent(BaseModel):
    kind: IntentKind
    tool: str | None = None
    preset: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    unsupported: list[str] = Field(default_factory=list, description="Parameters the student named that no field takes.")
    sweep: dict[str, list[Any]] = Field(default_factory=dict, description="One run per value: {'lr': [0.1, 0.001]}.")
    explicit: bool = Field(False, description="A slash command (/run ...): parameters must match exactly.")
    arg: str = ""
    job_id: str | None = None
    reason: str = Field("", description="Why this intent: 'rules', 'slash', 'upload', 'llm'.")


class Mode(str, Enum):
    EXPLAIN = "explain"
    HINT = "hint"


MODES = tuple(m.value for m in Mode)
