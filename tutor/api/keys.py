"""API keys: stored hashed (SHA-256) in the tutor database, with a role and limits.

A key is shown once at creation (`tk_` + 32 random bytes, URL-safe). Roles:
- admin   everything, including other owners' jobs;
- bot     course bots: chat for many users (the body's `user` is trusted), jobs;
- student one person: chat and jobs as the key's own name;
- staff   a course's staff: a student's rights plus that course's materials, homework,
          stats, jobs and datasets (tutor/courses);
- monitor only GET /readyz and /metrics (a Prometheus scraper): every other route refuses it.

Key names use the alphabet of `tutor.names` (no ':' or '/', at most 64 characters).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Boolean, Column, Float, Integer, MetaData, String, Table, select, update
from sqlalchemy.engine import Engine

from tutor.names import check_key_name, is_safe_name

ROLES = ("admin", "bot", "student", "staff", "monitor")

metadata = MetaData()
api_keys = Table(
    "api_keys", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True, index=True),
    Column("role", String(16), nullable=False),
    Column("rate_limit_per_minute", Integer, nullable=True),
    Column("max_concurrent_jobs", Integer, nullable=True),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float, nullable=True),
    # the course of a student/staff key (None: the demo course); a bot bound to one course; admins are global
    Column("course", String(32), nullable=True),
)


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    rate_limit_per_minute: int | None = None
    max_concurrent_jobs: int | None = None
    course: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


LOCAL = Principal(name="local", role="admin")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)
        from tutor.db import upgrade_table

        upgrade_table(engine, api_keys)  # adds `course` to a database made before courses

    def create(self, name: str, role: str = "student", rate_limit_per_minute: int | None = None,
               max_concurrent_jobs: int | None = None, course: str | None = None) -> str:
        if role not in ROLES:
            raise ValueError(f"unknown role '{role}'; choose one of {', '.join(ROLES)}")
        check_key_name(name)
        key = "tk_" + secrets.token_urlsafe(32)
        with self.engine.begin() as c:
            if c.execute(select(api_keys.c.id).where(api_keys.c.name == name)).first():
                raise ValueError(f"a key named '{name}' already exists")
            c.execute(api_keys.insert().values(name=name, prefix=key[:10], key_hash=hash_key(key), role=role,
                                               rate_limit_per_minute=rate_limit_per_minute,
                                               max_concurrent_jobs=max_concurrent_jobs, revoked=False,
                                               created_at=time.time(), course=course))
        return key

    def list(self) -> list[dict]:
        with self.engine.connect() as c:
            rows = c.execute(select(api_keys).order_by(api_keys.c.id)).mappings().all()
        return [{k: v for k, v in r.items() if k != "key_hash"} for r in rows]

    def revoke(self, name: str) -> bool:
        with self.engine.begin() as c:
            res = c.execute(update(api_keys).where(api_keys.c.name == name).values(revoked=True))
        return res.rowcount > 0

    def authenticate(self, key: str) -> Principal | None:
        with self.engine.begin() as c:
            row = c.execute(select(api_keys).where(api_keys.c.key_hash == hash_key(key))).mappings().first()
            if row is None or row["revoked"] or not is_safe_name(row["name"]):
                # a key created before names were checked ('tgbot:u2') would act as another owner
                return None
            c.execute(update(api_keys).where(api_keys.c.id == row["id"]).values(last_used_at=time.time()))
        return Principal(row["name"], row["role"], row["rate_limit_per_minute"], row["max_concurrent_jobs"],
                         row.get("course"))

    def exists_revoked(self, key: str) -> bool:
        with self.engine.connect() as c:
            row = c.execute(select(api_keys.c.revoked).where(api_keys.c.key_hash == hash_key(key))).first()
        return bool(row and row[0])

    def refusal(self, key: str) -> str:
        """Why `authenticate` refused this key, in words for the 401."""
        with self.engine.connect() as c:
            row = c.execute(select(api_keys.c.name, api_keys.c.revoked)
                            .where(api_keys.c.key_hash == hash_key(key))).first()
        if row is None:
            return "invalid API key"
        if row[1]:
            return "API key revoked"
        return "this key's name is not allowed any more (it contains ':', '/' or other characters outside " \
               "letters, digits and '._@-'): ask the operator for a new key"


class RateLimiter:
    """Sliding one-minute window per key, in process memory (one API process per
    deployment; behind several replicas put the limit in the proxy)."""

    def __init__(self) -> None:
        self.hits: dict[str, list[float]] = {}

    def check(self, name: str, limit: int) -> float | None:
        """None if allowed, else seconds until the next request is allowed."""
        now = time.monotonic()
        window = [t for t in self.hits.get(name, []) if now - t < 60.0]
        if len(window) >= limit:
            self.hits[name] = window
            return max(0.05, 60.0 - (now - window[0]))
        window.append(now)
        self.hits[name] = window
        return None


def key_limits(engine: Engine, name: str) -> int | None:
    """The concurrent-job limit (--max-jobs) of the active key `name`, if it has one."""
    with engine.connect() as c:
        row = c.execute(select(api_keys.c.max_concurrent_jobs)
                        .where(api_keys.c.name == name, api_keys.c.revoked.is_(False))).first()
    return row[0] if row else None
