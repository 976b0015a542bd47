"""Courses as first-class objects: each has an id, a name, its materials, its staff and
students, and its settings (default LLM, homework policy, minutes budget per student a week).

    store.py      the tables: courses, course_materials, homework_items, course_audit, chat_feedback
    service.py    CourseService: courses, settings, membership, the course of a chat turn
    materials.py  MaterialService: live uploads (validated, stored, indexed in the background)
    search.py     CourseSearch: the shared index and the course's own index fused (RRF)
    policy.py     HomeworkItem / CoursePolicy: hint mode before a deadline, graded configs refused
    budget.py     minutes a student used this week against the course's budget
    stats.py      CourseStats: questions, topics, "not found", thumbs down, runs, failures, minutes
    page.py       the staff page (server-rendered HTML)
    cli.py        `python -m tutor courses ...`

Scoping is by construction: a course's uploaded materials are indexed into their own index
directory (DATA_DIR/courses/<id>/index), and a turn of a course's student searches the
shared index (the project corpus, minus the demo course's own handbook) and that course's
index, never another course's.

This module holds only the names every part agrees on (importing it is cheap).
"""

from __future__ import annotations

import re

# a course id: a lower-case slug (it is a folder name and part of URLs)
COURSE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
COURSE_ID_MAX = 32
ITEM_ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"  # a homework item id ("hw2", "dz-3.1")

# what an uploaded material may be (a zip holds only these)
MATERIAL_EXTENSIONS = (".md", ".markdown", ".txt", ".pdf", ".ipynb", ".html", ".htm")
UPLOAD_EXTENSIONS = MATERIAL_EXTENSIONS + (".zip",)

MATERIAL_STATUSES = ("queued", "indexing", "ready", "failed")
HOMEWORK_POLICIES = ("deadline", "always", "off")  # see policy.py


class CourseError(Exception):
    status = 422
    code = "invalid_course"

    def __init__(self, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message, self.details = message, details


class CourseNotFound(CourseError):
    status = 404
    code = "course_not_found"


class CourseExists(CourseError):
    status = 409
    code = "course_exists"


class NotAllowed(CourseError):
    status = 403
    code = "forbidden"


class MaterialNotFound(CourseError):
    status = 404
    code = "material_not_found"


class MaterialExists(CourseError):
    status = 409
    code = "material_exists"


class MaterialRejected(CourseError):
    code = "material_rejected"


class ItemNotFound(CourseError):
    status = 404
    code = "homework_not_found"


class ConversationNotFound(CourseError):
    status = 404
    code = "conversation_not_found"


def is_course_id(value: object) -> bool:
    return isinstance(value, str) and re.fullmatch(COURSE_ID_PATTERN, value) is not None


def check_course_id(value: str) -> str:
    if not is_course_id(value):
        raise CourseError("a course id is 1-32 characters: lower-case letters, digits, '-' and '_', starting with a "
                          "letter or digit (e.g. 'dl-2026' or 'nn_tech')")
    return value
