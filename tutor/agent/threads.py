"""Chat threads persisted in the tutor database (the same one as jobs): per-thread
mode, a pending experiment plan awaiting confirmation, and the message history."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import JSON, Column, Float, ForeignKey, Integer, MetaData, String, Table, Text, select, update
from sqlalchemy.engine import Engine

metadata = MetaData()

threads = Table(
    "chat_threads", metadata,
    # a thread key is '<key name>/<client thread id>' (up to tutor.names.THREAD_KEY_MAX = 193
    # characters) and the user an owner (up to OWNER_MAX = 131): PostgreSQL enforces these lengths
    Column("id", String(256), primary_key=True),
    Column("user", String(256), nullable=False, index=True),
    Column("mode", String(16), nullable=False, default="explain"),
    Column("language", String(8), nullable=True),
    Column("pending", JSON, nullable=True),  # experiment plan awaiting the student's confirmation
    Column("course", String(32), nullable=True),  # the course the chat belongs to (tutor/courses); None: demo
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

messages = Table(
    "chat_messages", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("thread_id", String(256), ForeignKey("chat_threads.id", ondelete="CASCADE"), index=True, nullable=False),
    Column("role", String(16), nullable=False),  # user | assistant
    Column("content", Text, nullable=False),
    Column("intent", String(32), nullable=True),
    Column("sources", JSON, nullable=True),
    Column("data", JSON, nullable=True),
    Column("created_at", Float, nullable=False),
)


class ThreadStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)
        from tutor.db import upgrade_table

        for table in (threads, messages):  # widens the id columns of a PostgreSQL database made before
            upgrade_table(engine, table)

    def get(self, thread_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as c:
            row = c.execute(select(threads).where(threads.c.id == thread_id)).mappings().first()
            return dict(row) if row else None

    def get_or_create(self, thread_id: str, user: str) -> dict[str, Any]:
        row = self.get(thread_id)
        if row is not None:
            return row
        now = time.time()
        with self.engine.begin() as c:
            existing = c.execute(select(threads).where(threads.c.id == thread_id)).mappings().first()
            if existing is None:
                c.execute(threads.insert().values(id=thread_id, user=user, mode="explain", created_at=now, updated_at=now))
        return self.get(thread_id)  # type: ignore[return-value]

    def update(self, thread_id: str, **values) -> None:
        with self.engine.begin() as c:
            c.execute(update(threads).where(threads.c.id == thread_id).values(updated_at=time.time(), **values))

    def append(self, thread_id: str, role: str, content: str, intent: str | None = None,
               sources: list | None = None, data: dict | None = None) -> None:
        with self.engine.begin() as c:
            c.execute(messages.insert().values(thread_id=thread_id, role=role, content=content, intent=intent,
                                               sources=sources, data=json.loads(json.dumps(data, default=str)) if data else None,
                                               created_at=time.time()))
            c.execute(update(threads).where(threads.c.id == thread_id).values(updated_at=time.time()))

    def history(self, thread_id: str, limit: int = 50) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(select(messages).where(messages.c.thread_id == thread_id)
                             .order_by(messages.c.id.desc()).limit(limit)).mappings().all()
        return [dict(r) for r in reversed(rows)]

    def list_threads(self, user: str, limit: int = 100) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(select(threads).where(threads.c.user == user)
                             .order_by(threads.c.updated_at.desc()).limit(limit)).mappings().all()
        return [dict(r) for r in rows]
