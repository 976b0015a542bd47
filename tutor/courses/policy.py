"""The homework policy and the week's budget of a course, applied to one student.

A homework item (registered by staff) has a deadline, phrases a question about it contains
(matched on stemmed words: "дз 2", "cnn mnist" matches «как сделать ДЗ №2 — CNN на MNIST?»),
optionally the material file or heading that describes it (a question whose best passages
come from there is about it), and optionally its graded configuration: a tool and the
config values that make a run the graded one (cnn + dataset=mnist).

Until the deadline (policy `deadline`, the default), a question about the item is answered
in hint mode whatever the student's setting, and the graded configuration is not run —
in the chat (planning, tutor.agent.planning) and at submission (tutor.jobs.service) alike.
After it, explanations are available again. Policy `always` keeps hints after the deadline
too (the graded configuration is refused only before it); `off` applies neither.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tutor.courses import ITEM_ID_PATTERN

HITS_CHECKED = 3  # a question is about the item's section when one of its best passages comes from it


def words(text: str) -> set[str]:
    from index.bm25 import tokenize

    return set(tokenize(text or ""))


def when(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


class ItemInput(BaseModel):
    """A homework item as staff register it (API body, CLI)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "id": "hw2", "title": "ДЗ 2: CNN на MNIST", "patterns": ["дз 2", "cnn mnist", "свёрточная сеть mnist"],
        "section": "homework.md", "deadline": "2026-12-01T23:59:00+03:00", "tool": "cnn",
        "config": {"dataset": "mnist"}}]})
    id: str = Field(pattern=ITEM_ID_PATTERN, description="Item id: 'hw2', 'dz-3.1'.")
    title: str = Field(min_length=1, max_length=300)
    patterns: list[str] = Field(default_factory=list, max_length=30,
                                description="Phrases a question about the item contains (all words of one phrase, "
                                            "in any form: matched on stemmed words).")
    section: str | None = Field(None, min_length=1, max_length=300,
                                description="A material file name (homework.md) or a heading that describes the item.")
    deadline: datetime = Field(description="ISO 8601 (a time without a zone is UTC) or a Unix timestamp.")
    tool: str | None = Field(None, max_length=64, description="The graded configuration's tool (cnn, rnn, ...).")
    config: dict[str, str | int | float | bool] = Field(
        default_factory=dict, max_length=20, description="Config values that make a run of `tool` the graded one "
                                                         "(none: every run of the tool).")

    @field_validator("patterns")
    @classmethod
    def _phrases(cls, v: list[str]) -> list[str]:
        out = []
        for p in v:
            p = " ".join(str(p).split())
            if not 1 <= len(p) <= 200:
                raise ValueError("each pattern is 1-200 characters")
            if not words(p):
                raise ValueError(f"pattern '{p[:40]}' has no words to match")
            out.append(p)
        return out

    @field_validator("tool")
    @classmethod
    def _tool(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from tools.registry import TOOLS

        if v not in TOOLS:
            raise ValueError(f"unknown tool '{v[:40]}'; tools: {', '.join(TOOLS)}")
        return v

    def deadline_ts(self) -> float:
        d = self.deadline if self.deadline.tzinfo else self.deadline.replace(tzinfo=timezone.utc)
        return d.timestamp()

    def row(self) -> dict[str, Any]:
        if not self.patterns and not self.section and not self.tool:
            raise ValueError("a homework item needs patterns, a section or a graded tool to be recognised")
        return {"title": self.title, "patterns": self.patterns, "section": self.section,
                "deadline": self.deadline_ts(), "tool": self.tool, "config": self.config or None}


@dataclass
class HomeworkItem:
    id: str
    title: str
    deadline: float
    patterns: list[str] = field(default_factory=list)
    section: str | None = None
    tool: str | None = None
    config: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, row: dict[str, Any]) -> "HomeworkItem":
        return cls(id=row["id"], title=row["title"], deadline=float(row["deadline"]), patterns=list(row.get("patterns") or []),
                   section=row.get("section"), tool=row.get("tool"), config=dict(row.get("config") or {}))

    def open(self, now: float | None = None) -> bool:
        """Before its deadline."""
        return (time.time() if now is None else now) < self.deadline

    def matches_question(self, question: str, hits: list | None = None) -> bool:
        q = words(question)
        if any(words(p) <= q for p in self.patterns):
            return True
        if self.section and hits:
            want = self.section.casefold()
            for h in hits[:HITS_CHECKED]:
                if h.source.casefold().endswith(want) or want in (h.section or "").casefold():
                    return True
        return False

    def matches_config(self, tool: str, config: dict[str, Any]) -> bool:
        if not self.tool or tool != self.tool:
            return False
        return all(str(config.get(k)).casefold() == str(v).casefold() for k, v in self.config.items())

    def config_text(self) -> str:
        return ", ".join([self.tool or ""] + [f"{k}={v}" for k, v in self.config.items()]).strip(", ")

    def to_json(self, now: float | None = None) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "deadline": self.deadline, "deadline_text": when(self.deadline),
                "open": self.open(now), "patterns": self.patterns, "section": self.section, "tool": self.tool,
                "config": self.config}


@dataclass
class CoursePolicy:
    course: Any  # tutor.courses.service.Course
    items: list[HomeworkItem]
    owner: str
    engine: Any
    _usage: Any = None

    # ---- homework ----------------------------------------------------------------------------
    def homework_item(self, question: str, hits: list | None = None, now: float | None = None) -> HomeworkItem | None:
        """The item a question is about that must be answered with hints now, or None."""
        policy = self.course.settings.homework_policy
        if policy == "off":
            return None
        for item in self.items:
            if (policy == "always" or item.open(now)) and item.matches_question(question, hits):
                return item
        return None

    def graded_item(self, tool: str, config: dict[str, Any], now: float | None = None) -> HomeworkItem | None:
        """The open item whose graded configuration this run is, or None."""
        if self.course.settings.homework_policy == "off":
            return None
        for item in self.items:
            if item.open(now) and item.matches_config(tool, config):
                return item
        return None

    # ---- budget ------------------------------------------------------------------------------
    def usage(self, on_gpu_server: bool | None = None):
        from tutor.courses.budget import gpu_server, week_usage

        if self._usage is None:
            gpu = gpu_server() if on_gpu_server is None else on_gpu_server
            self._usage = week_usage(self.engine, self.owner, self.course.settings.minutes_per_week, gpu)
        return self._usage

    # ---- a planned run (chat) ----------------------------------------------------------------
    def review(self, plan, lang: str):
        """The plan with its share of the week, or PlanRejected (graded homework before its
        deadline; over the week's budget) with a message for the student."""
        from tutor.agent.messages import duration, say
        from tutor.agent.planning import PlanRejected

        item = self.graded_item(plan.tool, plan.config)
        if item is not None:
            raise PlanRejected("homework_locked", say("homework_locked", lang, title=item.title,
                                                      deadline=when(item.deadline), config=item.config_text()))
        usage = self.usage()
        if usage.budget_minutes is None:
            return plan
        counted = plan.on_gpu or usage.kind == "CPU"
        if counted and not usage.fits(plan.estimate_s):
            raise PlanRejected("budget_exceeded", say(
                "budget_exceeded", lang, need=duration(plan.estimate_s, lang), kind=usage.kind,
                left=f"{usage.left_minutes:.0f}", budget=f"{usage.budget_minutes:.0f}",
                used=f"{usage.committed_minutes:.0f}"))
        share = usage.share(plan.estimate_s) if counted else 0.0
        return plan.model_copy(update={"budget_share": round(share, 1) if share is not None else None,
                                       "budget_left_minutes": round(usage.left_minutes, 1)})

    # ---- a submitted job (any adapter) ---------------------------------------------------------
    def check_submission(self, tool: str, config: dict[str, Any], estimate_s: float, counted: bool,
                         on_gpu_server: bool) -> None:
        from tutor.jobs.service import BudgetExceeded, HomeworkLocked

        item = self.graded_item(tool, config)
        if item is not None:
            raise HomeworkLocked(f"'{item.title}' is a graded homework of course {self.course.id}: its graded "
                                 f"configuration ({item.config_text()}) is not run before the deadline "
                                 f"({when(item.deadline)}); change the parameters, e.g. another dataset")
        usage = self.usage(on_gpu_server)
        if counted and not usage.fits(estimate_s):
            raise BudgetExceeded(
                f"this run needs about {estimate_s / 60:.1f} {usage.kind} minutes and {self.owner} has "
                f"{usage.left_minutes:.1f} of {usage.budget_minutes:.0f} left this week in course {self.course.id} "
                f"({usage.committed_minutes:.1f} used or queued); use a smaller preset (smoke) or wait until older "
                "runs leave the 7-day window")


def hint_note(item: HomeworkItem, lang: str, now: float | None = None) -> str:
    """Said before a hint-mode answer forced by the policy: why the answer gives hints only."""
    from tutor.agent.messages import say

    key = "homework_hints" if item.open(now) else "homework_hints_always"
    return say(key, lang, title=item.title, deadline=when(item.deadline)) + "\n\n"
