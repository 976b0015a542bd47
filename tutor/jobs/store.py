"""Job state in the tutor database: jobs and their events (SQLAlchemy Core tables).

Every state change is a row update plus a `status` event, so a late subscriber replays
the whole history from the events table and nothing lives only in memory."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from sqlalchemy import (JSON, Column, Float, Index, Integer, MetaData, String, Table, Text, and_, func, or_,
                        select, update)
from sqlalchemy.engine import Engine

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
TERMINAL = ("succeeded", "failed", "cancelled")

metadata = MetaData()

jobs = Table(
    "jobs", metadata,
    Column("id", String(32), primary_key=True),
    Column("tool", String(64), nullable=False, index=True),
    Column("preset", String(16), nullable=True),
    Column("config", JSON, nullable=False),
    Column("owner", String(256), nullable=False, index=True),
    Column("priority", Integer, nullable=False, default=0),
    Column("status", String(16), nullable=False, index=True),
    Column("cancel_requested", Integer, nullable=False, default=0),
    Column("error", Text, nullable=True),  # the short reason the student sees (no traceback, no server paths)
    Column("error_detail", Text, nullable=True),  # staff only: the traceback, under the reference in `error`
    Column("device", String(32), nullable=True),
    Column("uses_gpu", Integer, nullable=False, default=0),
    Column("metrics", JSON, nullable=True),
    Column("result", JSON, nullable=True),
    Column("run_dir", Text, nullable=True),
    Column("worker_pid", Integer, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float, nullable=True),
    Column("finished_at", Float, nullable=True),
    # set when the job starts: any scheduler (not only the one that started it) stops it after this
    Column("deadline", Float, nullable=True),
    Column("course", String(32), nullable=True),  # the course it was run for (tutor/courses); None: demo/none
    Column("estimate_s", Float, nullable=True),  # the tool's cost estimate at submission (week budgets count it)
)
Index("ix_jobs_queue", jobs.c.status, jobs.c.priority, jobs.c.created_at)

events = Table(
    "job_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(32), nullable=False, index=True),
    Column("seq", Integer, nullable=False),
    Column("type", String(32), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("ts", Float, nullable=False),
)
Index("ix_job_events_seq", events.c.job_id, events.c.seq, unique=True)

# one row per running scheduler, refreshed every few seconds: whether anything serves the queue
schedulers = Table(
    "job_schedulers", metadata,
    Column("id", String(64), primary_key=True),
    Column("host", String(256), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
)


def new_id() -> str:
    return uuid.uuid4().hex[:12]


class JobStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)
        from tutor.db import upgrade_table

        upgrade_table(engine, jobs)  # adds error_detail / deadline to a database made before them

    # ---- jobs --------------------------------------------------------------------------
    def insert(self, tool: str, preset: str | None, config: dict, owner: str, priority: int, uses_gpu: bool,
               course: str | None = None, estimate_s: float | None = None) -> str:
        job_id = new_id()
        now = time.time()
        with self.engine.begin() as c:
            c.execute(jobs.insert().values(id=job_id, tool=tool, preset=preset, config=config, owner=owner,
                                           priority=priority, status="queued", cancel_requested=0,
                                           uses_gpu=int(uses_gpu), attempts=0, created_at=now, course=course,
                                           estimate_s=estimate_s))
            self._event(c, job_id, "status", {"status": "queued"})
        return job_id

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as c:
            row = c.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
        return self._shape(row) if row else None

    @staticmethod
    def _owned_by(owner: str | None = None, group: str | None = None):
        """owner == `owner`, or (with `group`) the owners '<group>:<user>' of a bot key."""
        conds = []
        if owner is not None:
            conds.append(jobs.c.owner == owner)
        if group is not None:
            conds.append(jobs.c.owner.startswith(group + ":", autoescape=True))
        return or_(*conds) if conds else None

    def list(self, owner: str | None = None, tool: str | None = None, status: str | None = None,
             limit: int = 1000, group: str | None = None, course: str | None = None) -> list[dict[str, Any]]:
        """Newest first. `owner` and `group` together: that owner's jobs and the group's."""
        q = select(jobs)
        if course is not None:
            q = q.where(jobs.c.course == course)
        cond = self._owned_by(owner, group)
        if cond is not None:
            q = q.where(cond)
        if tool is not None:
            q = q.where(jobs.c.tool == tool)
        if status is not None:
            q = q.where(jobs.c.status == status)
        q = q.order_by(jobs.c.created_at.desc()).limit(limit)
        with self.engine.connect() as c:
            return [self._shape(r) for r in c.execute(q).mappings().all()]

    @staticmethod
    def _shape(row) -> dict[str, Any]:
        d = dict(row)
        d["cancel_requested"] = bool(d.get("cancel_requested"))
        res = d.get("result") or {}
        d["artifacts"] = res.get("artifacts") or []
        return d

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as c:
            return {s: n for s, n in c.execute(select(jobs.c.status, func.count()).group_by(jobs.c.status)).all()}

    def active_count(self, owner: str | None = None, group: str | None = None) -> int:
        """Queued + running jobs of an owner, or (group) of all a bot's users."""
        with self.engine.connect() as c:
            return c.execute(select(func.count()).select_from(jobs).where(
                and_(self._owned_by(owner, group), jobs.c.status.in_(("queued", "running"))))).scalar_one()

    def gpu_seconds_since(self, owner: str | None, since: float, group: str | None = None,
                          now: float | None = None) -> float:
        """GPU seconds used inside [since, now]: the part of every GPU job's run that overlaps
        the window, including jobs that started before it and jobs still running."""
        now = time.time() if now is None else now
        with self.engine.connect() as c:
            rows = c.execute(select(jobs.c.started_at, jobs.c.finished_at).where(
                and_(self._owned_by(owner, group), jobs.c.uses_gpu == 1, jobs.c.started_at.is_not(None),
                     or_(jobs.c.finished_at.is_(None), jobs.c.finished_at > since)))).all()
        return sum(max(0.0, min(f if f is not None else now, now) - max(s, since)) for s, f in rows)

    def last_started(self, owners: set[str]) -> dict[str, float]:
        """When each owner's most recent job started (round-robin order of the queue)."""
        if not owners:
            return {}
        with self.engine.connect() as c:
            rows = c.execute(select(jobs.c.owner, func.max(jobs.c.started_at))
                             .where(jobs.c.owner.in_(sorted(owners))).group_by(jobs.c.owner)).all()
        return {o: t for o, t in rows if t is not None}

    def next_queued(self, exclude: set[str]) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(select(jobs).where(jobs.c.status == "queued")
                             .order_by(jobs.c.priority.desc(), jobs.c.created_at, jobs.c.id)).mappings().all()
        return [self._shape(r) for r in rows if r["id"] not in exclude]

    def claim(self, job_id: str, device: str, timeout_s: float | None = None) -> bool:
        """queued → running, atomically: two schedulers never start the same job. The
        deadline is stored with it, so whichever scheduler is alive enforces it."""
        now = time.time()
        with self.engine.begin() as c:
            res = c.execute(update(jobs).where(and_(jobs.c.id == job_id, jobs.c.status == "queued"))
                            .values(status="running", started_at=now, device=device, attempts=jobs.c.attempts + 1,
                                    deadline=now + timeout_s if timeout_s else None))
            if res.rowcount != 1:
                return False
            self._event(c, job_id, "status", {"status": "running", "device": device})
        return True

    def set_pid(self, job_id: str, pid: int | None) -> None:
        with self.engine.begin() as c:
            c.execute(update(jobs).where(jobs.c.id == job_id).values(worker_pid=pid))

    def finish(self, job_id: str, status: str, error: str | None = None, result: dict | None = None,
               error_detail: str | None = None) -> bool:
        """running/queued → terminal. Returns False if the job had already ended. `error` is
        what the student reads; `error_detail` (a traceback) is for staff only."""
        assert status in TERMINAL
        values: dict[str, Any] = {"status": status, "finished_at": time.time(), "worker_pid": None}
        if error is not None:
            values["error"] = error[:4000]
        if error_detail is not None:
            values["error_detail"] = error_detail[:20000]
        if result is not None:
            values["result"] = json.loads(json.dumps(result, default=str))
            values["metrics"] = values["result"].get("metrics")
            values["run_dir"] = values["result"].get("run_dir")
        with self.engine.begin() as c:
            res = c.execute(update(jobs).where(and_(jobs.c.id == job_id, jobs.c.status.in_(("queued", "running"))))
                            .values(**values))
            if res.rowcount != 1:
                return False
            payload = {"status": status}
            if error:
                payload["error"] = error[:500]
            if result is not None:
                payload["metrics"] = values.get("metrics")
            self._event(c, job_id, "status", payload)
        return True

    def requeue(self, job_id: str, reason: str) -> None:
        with self.engine.begin() as c:
            c.execute(update(jobs).where(jobs.c.id == job_id).values(status="queued", started_at=None, worker_pid=None,
                                                                     deadline=None))
            self._event(c, job_id, "status", {"status": "queued", "reason": reason})

    def request_cancel(self, job_id: str) -> None:
        with self.engine.begin() as c:
            c.execute(update(jobs).where(jobs.c.id == job_id).values(cancel_requested=1))

    # ---- schedulers ----------------------------------------------------------------------
    def heartbeat(self, scheduler_id: str, host: str, pid: int) -> None:
        now = time.time()
        with self.engine.begin() as c:
            if c.execute(update(schedulers).where(schedulers.c.id == scheduler_id).values(heartbeat_at=now)).rowcount == 0:
                c.execute(schedulers.insert().values(id=scheduler_id, host=host, pid=pid, heartbeat_at=now))

    def drop_scheduler(self, scheduler_id: str) -> None:
        with self.engine.begin() as c:
            c.execute(schedulers.delete().where(schedulers.c.id == scheduler_id))

    def schedulers_alive(self, max_age_s: float) -> int:
        with self.engine.connect() as c:
            return c.execute(select(func.count()).select_from(schedulers).where(
                schedulers.c.heartbeat_at >= time.time() - max_age_s)).scalar_one()

    # ---- events ------------------------------------------------------------------------
    def _event(self, c, job_id: str, etype: str, payload: dict) -> int:
        seq = (c.execute(select(func.max(events.c.seq)).where(events.c.job_id == job_id)).scalar() or 0) + 1
        c.execute(events.insert().values(job_id=job_id, seq=seq, type=etype, payload=payload, ts=time.time()))
        return seq

    def add_event(self, job_id: str, etype: str, payload: dict) -> int:
        with self.engine.begin() as c:
            return self._event(c, job_id, etype, json.loads(json.dumps(payload, default=str)))

    def events_since(self, job_id: str, since: int = 0) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(select(events.c.seq, events.c.type, events.c.payload, events.c.ts)
                             .where(and_(events.c.job_id == job_id, events.c.seq > since))
                             .order_by(events.c.seq)).mappings().all()
        return [{"job_id": job_id, **dict(r)} for r in rows]
