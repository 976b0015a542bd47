"""UI accounts (password login) and the tables of Chainlit's SQLAlchemy data layer, in the
tutor database. Passwords are stored as salted PBKDF2-SHA256 hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from pathlib import Path

from sqlalchemy import Column, Float, MetaData, String, Table, select, text
from sqlalchemy.engine import Engine

from tutor.names import check_ui_user

metadata = MetaData()
ui_users = Table(
    "ui_users", metadata,
    Column("username", String(128), primary_key=True),
    Column("salt", String(64), nullable=False),
    Column("pw_hash", String(128), nullable=False),
    Column("role", String(16), nullable=False, default="student"),
    Column("created_at", Float, nullable=False),
    Column("course", String(32), nullable=True),  # the course of a student/staff account (None: the demo course)
)

# Chainlit's SQLAlchemy data layer schema (its documented DDL, in portable SQL types)
CHAINLIT_DDL = [
    """CREATE TABLE IF NOT EXISTS users ("id" TEXT PRIMARY KEY, "identifier" TEXT NOT NULL UNIQUE,
       "metadata" TEXT NOT NULL, "createdAt" TEXT)""",
    """CREATE TABLE IF NOT EXISTS threads ("id" TEXT PRIMARY KEY, "createdAt" TEXT, "name" TEXT, "userId" TEXT,
       "userIdentifier" TEXT, "tags" TEXT, "metadata" TEXT,
       FOREIGN KEY ("userId") REFERENCES users("id") ON DELETE CASCADE)""",
    """CREATE TABLE IF NOT EXISTS steps ("id" TEXT PRIMARY KEY, "name" TEXT NOT NULL, "type" TEXT NOT NULL,
       "threadId" TEXT NOT NULL, "parentId" TEXT, "streaming" BOOLEAN NOT NULL, "waitForAnswer" BOOLEAN,
       "isError" BOOLEAN, "metadata" TEXT, "tags" TEXT, "input" TEXT, "output" TEXT, "createdAt" TEXT,
       "command" TEXT, "start" TEXT, "end" TEXT, "generation" TEXT, "showInput" TEXT, "language" TEXT,
       "indent" INT, "defaultOpen" BOOLEAN, "autoCollapse" BOOLEAN, "modes" TEXT,
       FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE)""",
    """CREATE TABLE IF NOT EXISTS elements ("id" TEXT PRIMARY KEY, "threadId" TEXT, "type" TEXT, "url" TEXT,
       "chainlitKey" TEXT, "name" TEXT NOT NULL, "display" TEXT, "objectKey" TEXT, "size" TEXT, "page" INT,
       "language" TEXT, "forId" TEXT, "mime" TEXT, "props" TEXT, "autoPlay" BOOLEAN, "playerConfig" TEXT,
       FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE)""",
    """CREATE TABLE IF NOT EXISTS feedbacks ("id" TEXT PRIMARY KEY, "forId" TEXT NOT NULL, "threadId" TEXT NOT NULL,
       "value" INT NOT NULL, "comment" TEXT,
       FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE)""",
]


def _hash(password: str, salt: str) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 200_000).hex()


class UserStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)
        with engine.begin() as c:
            for ddl in CHAINLIT_DDL:
                c.execute(text(ddl))
        self._add_missing_columns()
        from tutor.db import upgrade_table

        upgrade_table(engine, ui_users)  # adds `course` to a database made before courses

    def _add_missing_columns(self) -> None:
        """Chainlit adds step columns between releases: add the ones an older database lacks."""
        import re

        from sqlalchemy import inspect

        insp = inspect(self.engine)
        for ddl in CHAINLIT_DDL:
            table = re.search(r"EXISTS (\w+)", ddl).group(1)
            have = {col["name"] for col in insp.get_columns(table)}
            for name, kind in re.findall(r'"(\w+)" (TEXT|INT|BOOLEAN)', ddl):
                if name not in have:
                    with self.engine.begin() as c:
                        c.execute(text(f'ALTER TABLE {table} ADD COLUMN "{name}" {kind}'))

    def create(self, username: str, password: str, role: str = "student", course: str | None = None) -> None:
        check_ui_user(username)  # the owner of its jobs is 'ui:<name>': no ':' or '/' inside
        if len(password) < 8:
            raise ValueError("password: at least 8 characters")
        salt = secrets.token_hex(16)
        with self.engine.begin() as c:
            if c.execute(select(ui_users.c.username).where(ui_users.c.username == username)).first():
                raise ValueError(f"user '{username}' already exists")
            c.execute(ui_users.insert().values(username=username, salt=salt, pw_hash=_hash(password, salt), role=role,
                                               created_at=time.time(), course=course))

    def ensure_external(self, username: str, provider: str, role: str = "student") -> dict:
        """The account of a user who logs in through an OAuth provider ('github:octocat'):
        created with `role` on the first login, its stored role afterwards. It has no
        password: its hash field holds a marker no PBKDF2 digest equals."""
        check_ui_user(username, external=True)
        with self.engine.begin() as c:
            row = c.execute(select(ui_users.c.username, ui_users.c.role).where(ui_users.c.username == username)).first()
            if row is None:
                c.execute(ui_users.insert().values(username=username, salt=f"oauth:{provider}"[:64], pw_hash="!",
                                                   role=role, created_at=time.time()))
                return {"username": username, "role": role}
        return {"username": row[0], "role": row[1]}

    def set_role(self, username: str, role: str) -> None:
        with self.engine.begin() as c:
            if c.execute(ui_users.update().where(ui_users.c.username == username).values(role=role)).rowcount == 0:
                raise ValueError(f"no UI user '{username}'")

    def set_course(self, username: str, course: str | None) -> None:
        with self.engine.begin() as c:
            if c.execute(ui_users.update().where(ui_users.c.username == username).values(course=course)).rowcount == 0:
                raise ValueError(f"no UI user '{username}'")

    def account(self, username: str) -> dict | None:
        """Role and course of an account (read on every turn: a changed course applies without a new login)."""
        with self.engine.connect() as c:
            row = c.execute(select(ui_users.c.username, ui_users.c.role, ui_users.c.course)
                            .where(ui_users.c.username == username)).mappings().first()
        return dict(row) if row else None

    def verify(self, username: str, password: str) -> dict | None:
        with self.engine.connect() as c:
            row = c.execute(select(ui_users).where(ui_users.c.username == username)).mappings().first()
        if row is None or row["pw_hash"] == "!" or not hmac.compare_digest(row["pw_hash"], _hash(password, row["salt"])):
            return None
        return {"username": row["username"], "role": row["role"], "course": row["course"]}

    def count(self) -> int:
        with self.engine.connect() as c:
            return len(c.execute(select(ui_users.c.username)).all())

    def feedback(self, limit: int = 200) -> list[dict]:
        """Thumbs up/down from the UI (value 1 up, 0 down) with the question and the rated
        answer, newest first, for the course staff. Chainlit attaches the feedback to the
        turn's run step (input: the student's message); the answer is the assistant
        message(s) under it, or the step itself when feedback was given on a message."""
        q = text('''SELECT f."id", f."value", f."comment", f."threadId", f."forId", s."type" AS step_type,
                           s."input" AS step_input, s."output" AS step_output, s."createdAt" AS created_at,
                           t."userIdentifier" AS user
                    FROM feedbacks f LEFT JOIN steps s ON s."id" = f."forId" LEFT JOIN threads t ON t."id" = f."threadId"
                    ORDER BY s."createdAt" DESC, f."id" LIMIT :limit''')
        children = text('''SELECT "output" FROM steps WHERE "parentId" = :id AND "type" = 'assistant_message'
                           ORDER BY "createdAt"''')
        out = []
        with self.engine.connect() as c:
            for r in c.execute(q, {"limit": limit}).mappings().all():
                answers = [a for (a,) in c.execute(children, {"id": r["forId"]}).all() if a]
                is_run = r["step_type"] == "run"
                out.append({"id": r["id"], "value": r["value"], "comment": r["comment"], "threadId": r["threadId"],
                            "forId": r["forId"], "user": r["user"], "created_at": r["created_at"],
                            "question": r["step_input"] if is_run else None,
                            "answer": "\n\n".join(answers) if answers else r["step_output"]})
        return out


def auth_secret(data_dir: Path) -> str:
    """Chainlit signs its session tokens with this; kept in the data dir so logins survive restarts."""
    f = Path(data_dir) / "chainlit_secret"
    if not f.exists():
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(secrets.token_urlsafe(48))
        f.chmod(0o600)
    return f.read_text().strip()
