"""Queue fairness and limits with real worker processes (the sleeper tool):

- per-owner share of slots: the next slot goes to the owner holding the fewest;
- time slice: with every slot taken, a job past TUTOR_JOB_SLICE_S is stopped when another
  owner with nothing running waits (never when nobody waits);
- a worker orphaned by a dead scheduler (kill -9) still gets its deadline enforced by the
  next one, and counts against the slots while it runs;
- the GPU-minute quota counts the part of each GPU run inside the 24 h window, running
  jobs included; a bot's users share the bot's limits whoever submits (the agent too)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.jobs.conftest import wait_for
from tutor.jobs.service import QuotaExceeded, _pid_alive

ROOT = Path(__file__).resolve().parents[2]


async def _started_order(svc, ids):
    jobs = [await wait_for(svc, j, timeout=90) for j in ids]
    return [j["id"] for j in sorted(jobs, key=lambda j: j["started_at"])]


async def test_next_slot_goes_to_the_owner_holding_fewest(service_factory):
    svc = service_factory(job_slots_cpu=1, job_slice_s=0)
    a = [svc.submit("sleeper", {"steps": 3, "step_s": 0.2, "label": f"a{i}"}, "hog") for i in range(3)]
    b = svc.submit("sleeper", {"steps": 1, "step_s": 0.0, "label": "b"}, "newcomer")
    await svc.start()
    try:
        order = await _started_order(svc, [*a, b])
    finally:
        await svc.stop()
    # FIFO would run a0 a1 a2 b; fair share gives the waiting owner the second slot
    assert order.index(b) == 0 or order.index(b) == 1, order


async def test_share_cap_with_several_slots(service_factory):
    svc = service_factory(job_slots_cpu=2, job_slice_s=0)
    a = [svc.submit("sleeper", {"steps": 4, "step_s": 0.25}, "hog") for _ in range(4)]
    b = [svc.submit("sleeper", {"steps": 4, "step_s": 0.25}, "other") for _ in range(2)]
    await svc.start()
    try:
        await wait_for(svc, b[0], ("running", "succeeded"), timeout=60)
        running = [j["owner"] for j in svc.list(status="running")]
        assert sorted(running) in (["hog", "other"], ["other"], ["hog"]) and running.count("hog") <= 1, running
        for j in [*a, *b]:
            await wait_for(svc, j, timeout=90)
    finally:
        await svc.stop()


async def test_time_slice_stops_a_long_job_only_when_someone_waits(service_factory):
    svc = service_factory(job_slots_cpu=1, job_slice_s=3)
    long_alone = svc.submit("sleeper", {"steps": 25, "step_s": 0.2}, "hog")  # 5 s > slice, nobody waiting
    await svc.start()
    try:
        assert (await wait_for(svc, long_alone, timeout=60))["status"] == "succeeded"
        hog = svc.submit("sleeper", {"steps": 600, "step_s": 0.1}, "hog")
        await wait_for(svc, hog, ("running",), timeout=30)
        t0 = time.monotonic()
        other = svc.submit("sleeper", {"steps": 1, "step_s": 0.0}, "waiting")
        job = await wait_for(svc, hog, timeout=30)
        assert job["status"] == "failed" and job["error"].startswith("preempted") and time.monotonic() - t0 < 15
        assert (await wait_for(svc, other, timeout=60))["status"] == "succeeded"
    finally:
        await svc.stop()


async def test_orphaned_worker_gets_its_deadline(settings, tmp_path):
    """A scheduler process is killed with SIGKILL while its job runs: the worker lives on
    (reparented). The next scheduler counts it against the slots and kills it at its
    deadline, instead of letting it run forever."""
    from tutor.jobs.service import JobService

    env = {**os.environ, "TUTOR_DATA_DIR": str(settings.data_dir), "TUTOR_JOB_TIMEOUT_S": "8",
           "TUTOR_JOB_SLOTS_CPU": "1", "TUTOR_EXTRA_TOOLS": "sleeper=tests.jobs.sleeper_tool"}
    # this scheduler's own timeout is long: the orphan's deadline comes from its row
    st = settings.model_copy(update={"job_timeout_s": 300, "job_slots_cpu": 1})
    svc = JobService(st)
    job_id = svc.submit("sleeper", {"steps": 1000, "step_s": 0.1}, "orphan")
    sched = subprocess.Popen([sys.executable, "-m", "tutor", "jobs", "serve"], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        job = await wait_for(svc, job_id, ("running",), timeout=60)
        for _ in range(100):
            job = svc.get(job_id)
            if job["worker_pid"]:
                break
            await asyncio.sleep(0.1)
        pid = job["worker_pid"]
        assert job["deadline"] and job["deadline"] - job["started_at"] == pytest.approx(8, abs=0.5)
    finally:
        sched.send_signal(signal.SIGKILL)
        sched.wait()
    assert _pid_alive(pid)  # the orphan goes on
    waiting = svc.submit("sleeper", {"steps": 1, "step_s": 0.0}, "someone")
    await svc.start()
    try:
        await asyncio.sleep(1.0)
        assert svc.get(waiting)["status"] == "queued"  # the orphan still holds the only slot
        job = await wait_for(svc, job_id, timeout=30)
        assert job["status"] == "failed" and "timeout" in job["error"]
        for _ in range(50):
            if not _pid_alive(pid):
                break
            await asyncio.sleep(0.1)
        assert not _pid_alive(pid)
        done = await wait_for(svc, waiting, timeout=60)
        assert done["status"] == "succeeded", done
    finally:
        await svc.stop()


def test_gpu_minutes_count_the_window_overlap(service_factory):
    svc = service_factory()
    store, now = svc.store, time.time()
    day = 86400
    rows = [(now - day - 3600, now - day + 600),  # started before the window: its last 10 min count
            (now - 7200, now - 3600),  # one hour inside
            (now - 1800, None),  # still running: 30 min so far
            (now - 3 * day, now - 2 * day)]  # long gone
    for started, finished in rows:
        jid = store.insert("sleeper", "smoke", {}, "gpuuser", 0, True)
        with store.engine.begin() as c:
            from tutor.jobs.store import jobs

            c.execute(jobs.update().where(jobs.c.id == jid).values(
                status="running" if finished is None else "succeeded", started_at=started, finished_at=finished))
    used = store.gpu_seconds_since("gpuuser", now - day, now=now) / 60
    assert used == pytest.approx(10 + 60 + 30, abs=0.1)
    svc._gpus = 1  # as if a GPU were there: the quota applies to jobs that would use it
    svc.settings = svc.settings.model_copy(update={"owner_gpu_minutes_per_day": 90})
    with pytest.raises(QuotaExceeded):
        svc.submit("sleeper", {"steps": 1}, "gpuuser")
    assert svc.submit("sleeper", {"steps": 1, "device": "cpu"}, "gpuuser")  # the CPU is still open


def test_bot_users_share_the_bot_limit_whoever_submits(service_factory):
    """The agent submits as owner '<bot>:<user>' without knowing the key: JobService finds
    the group itself."""
    svc = service_factory(owner_max_concurrent=5, bot_max_concurrent=2)
    svc.submit("sleeper", {"steps": 1}, "tgbot:u1")
    svc.submit("sleeper", {"steps": 1}, "tgbot:u2")
    with pytest.raises(QuotaExceeded, match="users of tgbot"):
        svc.submit("sleeper", {"steps": 1}, "tgbot:u3")
    svc.submit("sleeper", {"steps": 1}, "otherbot:u1")  # another bot's budget
    svc.submit("sleeper", {"steps": 1}, "ui:alice")  # UI users are people, not one bot
    svc.submit("sleeper", {"steps": 1}, "ui:bob")
    svc.submit("sleeper", {"steps": 1}, "ui:carol")
