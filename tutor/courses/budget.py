"""A student's minutes this week against the course's budget.

The budget counts the device a course pays for: on a server with a GPU, the minutes of GPU
jobs; without one, the minutes of every job (CPU minutes). "This week" is the last 7 days,
like the daily GPU quota of tutor/jobs (the part of each run inside the window). A running
job counts what it has run or its estimate, whichever is more, and a queued job its estimate
(the tool's cost model at submission), so that queueing several runs at once cannot get past
the budget.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Engine

WEEK_S = 7 * 86400


@dataclass(frozen=True)
class WeekUsage:
    owner: str
    kind: str  # "GPU" or "CPU"
    budget_minutes: float | None  # None: the course sets no budget
    used_minutes: float  # runs finished or running, inside the last 7 days
    queued_minutes: float  # estimates of queued runs

    @property
    def committed_minutes(self) -> float:
        return self.used_minutes + self.queued_minutes

    @property
    def left_minutes(self) -> float | None:
        return None if self.budget_minutes is None else max(0.0, self.budget_minutes - self.committed_minutes)

    def share(self, seconds: float) -> float | None:
        """`seconds` of a run as a percentage of the week's budget (None without one)."""
        if not self.budget_minutes:
            return None
        return 100.0 * seconds / 60.0 / self.budget_minutes

    def fits(self, seconds: float) -> bool:
        return self.budget_minutes is None or self.committed_minutes + seconds / 60.0 <= self.budget_minutes + 1e-9

    def to_json(self) -> dict:
        return {"owner": self.owner, "kind": self.kind, "budget_minutes": self.budget_minutes,
                "used_minutes": round(self.used_minutes, 2), "queued_minutes": round(self.queued_minutes, 2),
                "left_minutes": None if self.left_minutes is None else round(self.left_minutes, 2),
                "used_share": None if not self.budget_minutes else
                round(100.0 * self.committed_minutes / self.budget_minutes, 1)}


_READY: set[int] = set()


def jobs_table(engine: Engine):
    """The jobs table (created when the database has none yet: no job was ever submitted)."""
    from tutor.jobs.store import jobs

    if id(engine) not in _READY:
        from tutor.db import upgrade_table

        jobs.metadata.create_all(engine, tables=[jobs])
        upgrade_table(engine, jobs)  # an older database: its jobs get the course/estimate columns
        _READY.add(id(engine))
    return jobs


def counted(on_gpu_server: bool):
    """The jobs a budget counts: GPU jobs on a GPU server, all jobs on a CPU-only one."""
    from tutor.jobs.store import jobs

    return jobs.c.uses_gpu == 1 if on_gpu_server else jobs.c.uses_gpu.in_((0, 1))


def minutes_by_owner(engine: Engine, owners: list[str] | None, on_gpu_server: bool, since: float,
                     now: float | None = None) -> dict[str, tuple[float, float]]:
    """owner -> (used minutes inside [since, now], queued minutes) for the given owners (all when None)."""
    jobs = jobs_table(engine)
    now = time.time() if now is None else now
    cond = [counted(on_gpu_server), or_(jobs.c.status == "queued",
                                        and_(jobs.c.started_at.is_not(None),
                                             or_(jobs.c.finished_at.is_(None), jobs.c.finished_at > since)))]
    if owners is not None:
        cond.append(jobs.c.owner.in_(sorted(set(owners))))
    q = select(jobs.c.owner, jobs.c.status, jobs.c.started_at, jobs.c.finished_at, jobs.c.estimate_s).where(and_(*cond))
    out: dict[str, list[float]] = {}
    with engine.connect() as c:
        for owner, status, started, finished, estimate in c.execute(q).all():
            acc = out.setdefault(owner, [0.0, 0.0])
            if status == "queued":
                acc[1] += (estimate or 0.0) / 60.0
                continue
            if started is None:
                continue
            end = finished if finished is not None else now
            ran = max(0.0, min(end, now) - max(started, since))
            if status == "running":
                ran = max(ran, estimate or 0.0)
            acc[0] += ran / 60.0
    return {o: (u, q) for o, (u, q) in out.items()}


def week_usage(engine: Engine, owner: str, budget_minutes: float | None, on_gpu_server: bool,
               now: float | None = None) -> WeekUsage:
    now = time.time() if now is None else now
    used, queued = minutes_by_owner(engine, [owner], on_gpu_server, now - WEEK_S, now).get(owner, (0.0, 0.0))
    return WeekUsage(owner=owner, kind="GPU" if on_gpu_server else "CPU", budget_minutes=budget_minutes,
                     used_minutes=used, queued_minutes=queued)


def gpu_server() -> bool:
    """Whether this server runs jobs on a GPU (then budgets are GPU minutes)."""
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:
        return False
