"""The `datasets` table (SQLAlchemy Core on the tutor engine, like tutor/jobs/store.py).

One row per registered dataset. `folder` is relative to DATA_DIR/datasets/, so the data
dir can move; it is never shown to students. `course` is nullable: the courses work will
scope datasets to a course later.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import JSON, Column, Float, Integer, MetaData, String, Table, delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

metadata = MetaData()

datasets = Table(
    "datasets", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True, index=True),
    Column("kind", String(32), nullable=False),
    Column("format", String(16), nullable=False),
    Column("classes", JSON, nullable=False),
    Column("stats", JSON, nullable=False),
    Column("folder", String(128), nullable=False),
    Column("course", String(128), nullable=True, index=True),
    Column("created_by", String(256), nullable=False),
    Column("created_at", Float, nullable=False),
)


class NameTaken(Exception):
    pass


class DatasetStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    def insert(self, name: str, kind: str, fmt: str, classes: list[str], stats: dict, folder: str, created_by: str,
               course: str | None = None) -> None:
        try:
            with self.engine.begin() as c:
                c.execute(datasets.insert().values(name=name, kind=kind, format=fmt, classes=classes, stats=stats,
                                                   folder=folder, course=course, created_by=created_by,
                                                   created_at=time.time()))
        except IntegrityError:
            raise NameTaken(name) from None

    def get(self, name: str) -> dict[str, Any] | None:
        with self.engine.connect() as c:
            row = c.execute(select(datasets).where(datasets.c.name == name)).mappings().first()
        return dict(row) if row else None

    def list(self, kind: str | None = None, course: str | None = None) -> list[dict[str, Any]]:
        q = select(datasets).order_by(datasets.c.name)
        if kind is not None:
            q = q.where(datasets.c.kind == kind)
        if course is not None:
            q = q.where(datasets.c.course == course)
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(q).mappings().all()]

    def delete(self, name: str) -> bool:
        with self.engine.begin() as c:
            return c.execute(delete(datasets).where(datasets.c.name == name)).rowcount > 0
