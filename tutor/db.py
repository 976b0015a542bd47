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


class DatabaseUnavailable(RuntimeError):
    """The database cannot be opened: the message says which one and what to do."""


def _describe(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        u = make_url(url)
    except Exception:
        return "the database URL in TUTOR_DATABASE_URL"
    if u.drivername.startswith("sqlite"):
        return f"the SQLite database {Path(u.database or '').resolve()}" if u.database else "the in-memory database"
    return f"the database {u.render_as_string(hide_password=True)}"


def check_database(url: str) -> None:
    """Open the database and read its schema once, or raise DatabaseUnavailable with one
    paragraph that names it and says what to do (instead of a 100-line traceback later)."""
    from sqlalchemy import exc, text

    what = _describe(url)
    try:
        engine = make_engine(url)
    except Exception as e:  # a malformed URL, a missing driver
        raise DatabaseUnavailable(f"tutor: cannot use {what}: {type(e).__name__}: {e}. Check TUTOR_DATABASE_URL "
                                  "(and that the database driver is installed).") from None
    try:
        with engine.connect() as c:
            if url.startswith("sqlite"):
                c.execute(text("PRAGMA schema_version")).scalar()  # reads the file's header: fails if it is not SQLite
                c.execute(text("SELECT count(*) FROM sqlite_master")).scalar()
            else:
                c.execute(text("SELECT 1")).scalar()
    except (exc.DatabaseError, exc.OperationalError, OSError) as e:
        reason = str(getattr(e, "orig", e)).strip().splitlines()[0] if str(getattr(e, "orig", e)).strip() else type(e).__name__
        hint = ("If the file is damaged, stop the server, move it aside (keep a copy for recovery, e.g. with "
                "`sqlite3 FILE .recover`) and start again: a new empty database is created (API keys and job "
                "history are in the old one). If it is a permission problem, give the server's user read and "
                "write access to the file and its folder (SQLite writes -wal/-shm files next to it)."
                if url.startswith("sqlite") else
                "Check that the database server is running and reachable, and the user name, password and "
                "database name in TUTOR_DATABASE_URL.")
        raise DatabaseUnavailable(f"tutor: cannot open {what}: {reason}. {hint}") from None
    finally:
        engine.dispose()


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
