"""CourseService: courses, their settings, who belongs to them, and the course of a chat turn.

Membership lives on the accounts: an API key's `course` (students and staff of one course,
a bot bound to one; admins are global) and a UI user's `course`. A student or staff member
without a course belongs to the demo course, which the default install creates (its materials
are the project's corpus). A chat of an unbound bot (or an admin) picks its course with
`/course ID`, stored on the thread.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tutor.courses import (COURSE_ID_PATTERN, HOMEWORK_POLICIES, CourseError, CourseExists, CourseNotFound,
                           check_course_id)
from tutor.courses.store import CourseStore
from tutor.settings import Settings

log = logging.getLogger(__name__)

MEMBER_ROLES = ("student", "staff")  # roles that belong to exactly one course
STAFF_ROLES = ("staff", "admin")


class CourseSettings(BaseModel):
    """What course staff set for their course."""

    model_config = ConfigDict(extra="forbid")
    llm_backend: Literal["llamacpp", "openai", "hf", "none"] | None = Field(
        None, description="The LLM backend of this course's chats (None: the server's configured one).")
    llm_model: str | None = Field(None, max_length=300, pattern=r"^[\w.:@/-]+$",
                                  description="The model of that backend (a name; None: the backend's default).")
    homework_policy: Literal["deadline", "always", "off"] = Field(
        "deadline", description="deadline: questions about a homework item are answered with hints until its "
                                "deadline, explained after it; always: hints even after it; off: the student's "
                                "own mode decides.")
    minutes_per_week: float | None = Field(
        None, ge=0, le=100_000, description="GPU minutes (CPU minutes on a server without a GPU) each student may use "
                                           "in any 7 days; None: no course budget.")


class Course(BaseModel):
    id: str
    name: str
    settings: CourseSettings
    created_by: str
    created_at: float
    demo: bool = False


def settings_error(e: ValidationError) -> CourseError:
    problems = [f"{'.'.join(map(str, err['loc'])) or 'settings'}: {err['msg']}" for err in e.errors()]
    return CourseError("invalid course settings: " + "; ".join(problems), problems)


class CourseService:
    def __init__(self, settings: Settings, engine=None) -> None:
        from tutor.db import get_engine

        self.settings = settings
        self.engine = engine or get_engine(settings)
        self.store = CourseStore(self.engine)
        self.demo_id = settings.demo_course_id
        self.ensure_demo()

    # ---- courses ---------------------------------------------------------------------------------
    def ensure_demo(self) -> None:
        """The demo course of the default install (its materials: the default index)."""
        if self.store.course(self.demo_id) is None:
            self.store.insert_course(self.demo_id, self.settings.demo_course_name, CourseSettings().model_dump(),
                                     "install")

    def _shape(self, row: dict[str, Any]) -> Course:
        try:
            cs = CourseSettings.model_validate(row.get("settings") or {})
        except ValidationError:  # settings written by a newer/older version: the defaults, logged
            log.warning("course %s: stored settings unreadable, using defaults", row["id"])
            cs = CourseSettings()
        return Course(id=row["id"], name=row["name"], settings=cs, created_by=row["created_by"],
                      created_at=row["created_at"], demo=row["id"] == self.demo_id)

    def create(self, course_id: str, name: str, settings: dict | None = None, created_by: str = "cli") -> Course:
        check_course_id(course_id)
        name = (name or "").strip()
        if not 1 <= len(name) <= 200:
            raise CourseError("a course name is 1-200 characters")
        try:
            cs = CourseSettings.model_validate(settings or {})
        except ValidationError as e:
            raise settings_error(e) from None
        if not self.store.insert_course(course_id, name, cs.model_dump(), created_by):
            raise CourseExists(f"a course '{course_id}' already exists")
        return self.get(course_id)

    def find(self, course_id: str | None) -> Course | None:
        if not isinstance(course_id, str) or not course_id:
            return None
        row = self.store.course(course_id)
        return self._shape(row) if row else None

    def get(self, course_id: str) -> Course:
        course = self.find(course_id)
        if course is None:
            raise CourseNotFound(f"no course '{str(course_id)[:40]}' (python -m tutor courses list)")
        return course

    def list(self) -> list[Course]:
        return [self._shape(r) for r in self.store.courses()]

    def update(self, course_id: str, name: str | None = None, settings: dict | None = None) -> Course:
        course = self.get(course_id)
        values: dict[str, Any] = {}
        if name is not None:
            name = name.strip()
            if not 1 <= len(name) <= 200:
                raise CourseError("a course name is 1-200 characters")
            values["name"] = name
        if settings:
            try:
                cs = CourseSettings.model_validate({**course.settings.model_dump(), **settings})
            except ValidationError as e:
                raise settings_error(e) from None
            values["settings"] = cs.model_dump()
        if values:
            self.store.update_course(course_id, **values)
        return self.get(course_id)

    # ---- membership ----------------------------------------------------------------------------
    def course_of(self, role: str, course: str | None) -> str | None:
        """The course an account belongs to: its own, the demo course for a student or staff member
        without one, None for admins and unbound bots (their chats choose with /course)."""
        if role in MEMBER_ROLES:
            return course or self.demo_id
        if role == "bot":
            return course or None
        return None

    def may_manage(self, role: str, course: str | None, course_id: str) -> bool:
        """Materials, homework, settings, stats: admins, and the staff of that course."""
        return role == "admin" or (role == "staff" and (course or self.demo_id) == course_id)

    def may_read(self, role: str, course: str | None, course_id: str) -> bool:
        """The course's name, settings relevant to students, homework deadlines: its members."""
        return role == "admin" or self.course_of(role, course) == course_id

    def course_for_turn(self, binding: str | None, thread_course: str | None) -> str:
        """binding (the account's course) > the chat's own (/course) > the demo course; a course
        deleted since falls back to the demo course."""
        for candidate in (binding, thread_course):
            if candidate and (candidate == self.demo_id or self.store.course(candidate) is not None):
                return candidate
        return self.demo_id

    def members(self, course_id: str) -> dict[str, list[dict[str, Any]]]:
        """API keys and UI accounts of a course (names and roles, never secrets)."""
        from sqlalchemy import inspect, or_, select

        from tutor.api.keys import api_keys
        from tutor.ui.store import ui_users

        def cond(col):
            return or_(col == course_id, col.is_(None)) if course_id == self.demo_id else col == course_id

        out: dict[str, list[dict[str, Any]]] = {"keys": [], "ui_users": []}
        insp = inspect(self.engine)
        with self.engine.connect() as c:
            if insp.has_table("api_keys"):
                rows = c.execute(select(api_keys.c.name, api_keys.c.role, api_keys.c.course)
                                 .where(cond(api_keys.c.course), api_keys.c.revoked.is_(False),
                                        api_keys.c.role.in_(("student", "staff", "bot")))).mappings().all()
                out["keys"] = [dict(r) for r in rows if r["role"] != "bot" or r["course"] == course_id]
            if insp.has_table("ui_users"):
                rows = c.execute(select(ui_users.c.username, ui_users.c.role, ui_users.c.course)
                                 .where(cond(ui_users.c.course), ui_users.c.role.in_(MEMBER_ROLES))).mappings().all()
                out["ui_users"] = [dict(r) for r in rows]
        return out

    # ---- the rules of a course for one student --------------------------------------------------
    def policy(self, course_id: str, owner: str):
        from tutor.courses.policy import CoursePolicy, HomeworkItem

        course = self.find(course_id) or self.get(self.demo_id)
        items = [HomeworkItem.of(r) for r in self.store.items(course.id)]
        return CoursePolicy(course=course, items=items, owner=owner, engine=self.engine)

    def log(self, course_id: str, actor: str, action: str, target: str | None = None, detail: dict | None = None) -> None:
        self.store.log(course_id, actor, action, target, detail)


__all__ = ["Course", "CourseService", "CourseSettings", "COURSE_ID_PATTERN", "HOMEWORK_POLICIES", "STAFF_ROLES"]
