"""The course tables (SQLAlchemy Core on the tutor engine, like tutor/jobs/store.py).

    courses          id, name, settings (JSON: CourseSettings), created_by, created_at
    course_materials one uploaded file (or zip) of a course, its index status and reason
    homework_items   a homework item with its deadline, what matches it, its graded config
    course_audit     staff actions worth a trace: who opened whose conversation, uploads, deletes
    chat_feedback    thumbs up/down given through the API (the UI's are in Chainlit's `feedbacks`)

The membership columns live beside the rows they describe: `api_keys.course`,
`ui_users.course`, `chat_threads.course`, `jobs.course` (added to older databases on start by
tutor.db.upgrade_table).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from sqlalchemy import (JSON, Column, Float, Index, Integer, MetaData, String, Table, Text, and_, delete, select,
                        update)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

metadata = MetaData()

courses = Table(
    "courses", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("settings", JSON, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("created_at", Float, nullable=False),
)

materials = Table(
    "course_materials", metadata,
    Column("id", String(16), primary_key=True),
    Column("course", String(32), nullable=False, index=True),
    Column("name", String(256), nullable=False),  # the uploaded file's name (safe form)
    Column("kind", String(16), nullable=False),  # md | txt | pdf | ipynb | html | zip
    Column("files", JSON, nullable=False),  # relative paths of the stored files (one, or a zip's)
    Column("bytes", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # queued | indexing | ready | failed
    Column("error", Text, nullable=True),  # why it failed (or which files of a zip were skipped)
    Column("chunks", Integer, nullable=True),
    Column("uploaded_by", String(256), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("indexed_at", Float, nullable=True),
)
Index("ix_course_materials_name", materials.c.course, materials.c.name, unique=True)

homework = Table(
    "homework_items", metadata,
    Column("course", String(32), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("title", String(300), nullable=False),
    Column("patterns", JSON, nullable=False),  # phrases a question about it contains
    Column("section", String(300), nullable=True),  # a material file or heading that describes it
    Column("deadline", Float, nullable=False),
    Column("tool", String(64), nullable=True),  # the graded configuration: a tool ...
    Column("config", JSON, nullable=True),  # ... and the config values that make it the graded one
    Column("created_by", String(256), nullable=False),
    Column("created_at", Float, nullable=False),
)

audit = Table(
    "course_audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("course", String(32), nullable=False, index=True),
    Column("actor", String(256), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(256), nullable=True),
    Column("detail", JSON, nullable=True),
    Column("ts", Float, nullable=False),
)

feedback = Table(
    "chat_feedback", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("thread_id", String(256), nullable=False, index=True),
    Column("message_id", Integer, nullable=False),  # the rated assistant message (chat_messages.id)
    Column("user", String(256), nullable=False),
    Column("value", Integer, nullable=False),  # 1 up, 0 down
    Column("comment", Text, nullable=True),
    Column("created_at", Float, nullable=False),
)


def new_material_id() -> str:
    return uuid.uuid4().hex[:12]


class CourseStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    # ---- courses ---------------------------------------------------------------------------
    def insert_course(self, course_id: str, name: str, settings: dict, created_by: str) -> bool:
        try:
            with self.engine.begin() as c:
                c.execute(courses.insert().values(id=course_id, name=name, settings=settings, created_by=created_by,
                                                  created_at=time.time()))
        except IntegrityError:
            return False
        return True

    def course(self, course_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as c:
            row = c.execute(select(courses).where(courses.c.id == course_id)).mappings().first()
        return dict(row) if row else None

    def courses(self) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(select(courses).order_by(courses.c.id)).mappings().all()]

    def update_course(self, course_id: str, **values) -> None:
        with self.engine.begin() as c:
            c.execute(update(courses).where(courses.c.id == course_id).values(**values))

    # ---- materials -------------------------------------------------------------------------
    def insert_material(self, **values) -> None:
        now = time.time()
        with self.engine.begin() as c:
            c.execute(materials.insert().values(created_at=now, updated_at=now, **values))

    def material(self, course_id: str, material_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as c:
            row = c.execute(select(materials).where(and_(materials.c.course == course_id,
                                                         materials.c.id == material_id))).mappings().first()
        return dict(row) if row else None

    def material_named(self, course_id: str, name: str) -> dict[str, Any] | None:
        with self.engine.connect() as c:
            row = c.execute(select(materials).where(and_(materials.c.course == course_id,
                                                         materials.c.name == name))).mappings().first()
        return dict(row) if row else None

    def materials(self, course_id: str | None = None, status: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        q = select(materials).order_by(materials.c.created_at, materials.c.id)
        if course_id is not None:
            q = q.where(materials.c.course == course_id)
        if status:
            q = q.where(materials.c.status.in_(status))
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(q).mappings().all()]

    def update_material(self, material_id: str, **values) -> None:
        with self.engine.begin() as c:
            c.execute(update(materials).where(materials.c.id == material_id).values(updated_at=time.time(), **values))

    def delete_material(self, course_id: str, material_id: str) -> bool:
        with self.engine.begin() as c:
            return c.execute(delete(materials).where(and_(materials.c.course == course_id,
                                                          materials.c.id == material_id))).rowcount > 0

    # ---- homework --------------------------------------------------------------------------
    def put_item(self, course_id: str, item_id: str, **values) -> None:
        with self.engine.begin() as c:
            exists = c.execute(select(homework.c.id).where(and_(homework.c.course == course_id,
                                                                homework.c.id == item_id))).first()
            if exists:
                c.execute(update(homework).where(and_(homework.c.course == course_id, homework.c.id == item_id))
                          .values(**values))
            else:
                c.execute(homework.insert().values(course=course_id, id=item_id, created_at=time.time(), **values))

    def items(self, course_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(select(homework).where(homework.c.course == course_id)
                                               .order_by(homework.c.deadline, homework.c.id)).mappings().all()]

    def delete_item(self, course_id: str, item_id: str) -> bool:
        with self.engine.begin() as c:
            return c.execute(delete(homework).where(and_(homework.c.course == course_id,
                                                         homework.c.id == item_id))).rowcount > 0

    # ---- audit -----------------------------------------------------------------------------
    def log(self, course_id: str, actor: str, action: str, target: str | None = None, detail: dict | None = None) -> None:
        with self.engine.begin() as c:
            c.execute(audit.insert().values(course=course_id, actor=actor, action=action, target=target,
                                            detail=detail, ts=time.time()))

    def audit(self, course_id: str, limit: int = 500) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(select(audit).where(audit.c.course == course_id).order_by(audit.c.id.desc())
                             .limit(limit)).mappings().all()
        return [dict(r) for r in rows]

    # ---- feedback through the API ------------------------------------------------------------
    def add_feedback(self, thread_id: str, message_id: int, user: str, value: int, comment: str | None) -> int:
        with self.engine.begin() as c:
            c.execute(delete(feedback).where(and_(feedback.c.message_id == message_id, feedback.c.user == user)))
            res = c.execute(feedback.insert().values(thread_id=thread_id, message_id=message_id, user=user, value=value,
                                                     comment=comment, created_at=time.time()))
            return int(res.inserted_primary_key[0])
