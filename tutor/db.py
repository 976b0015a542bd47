"""The tutor database: one SQLAlchemy engine per URL, shared by jobs, chat threads and
API keys. SQLite (default, in the data dir) runs in WAL mode with a busy timeout because
several processes (API, job workers, CLI) write to it; PostgreSQL by URL."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

from tutor.settings import Settings, get_settings


class Base(DeclarativeBase):
    """Declarative base for ORM tables (jobs...)."""


_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, pool_pre_ping=True)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def get_engine(settings: Settings | None = None) -> Engine:
    url = (settings or get_settings()).database_url
    with _lock:
        if url not in _engines:
            _engines[url] = make_engine(url)
        return _engines[url]


def upgrade_table(engine: Engine, table) -> None:
    """Bring an existing table up to its SQLAlchemy definition where that is safe without a
    migration tool: add columns it lacks (nullable ones) and, on PostgreSQL, widen VARCHAR
    columns that are now longer (SQLite does not enforce VARCHAR lengths)."""
    from sqlalchemy import String, inspect, text

    insp = inspect(engine)
    if not insp.has_table(table.name):
        return
    have = {c["name"]: c for c in insp.get_columns(table.name)}
    prep = engine.dialect.identifier_preparer
    with engine.begin() as c:
        for col in table.columns:
            ddl_type = col.type.compile(dialect=engine.dialect)
            if col.name not in have:
                if not col.nullable:
                    continue  # would need a default for the existing rows: left to a real migration
                c.execute(text(f"ALTER TABLE {prep.quote(table.name)} ADD COLUMN {prep.quote(col.name)} {ddl_type}"))
            elif (engine.dialect.name == "postgresql" and isinstance(col.type, String) and col.type.length
                  and getattr(have[col.name]["type"], "length", None)
                  and have[col.name]["type"].length < col.type.length):
                c.execute(text(f"ALTER TABLE {prep.quote(table.name)} ALTER COLUMN {prep.quote(col.name)} "
                               f"TYPE {ddl_type}"))
