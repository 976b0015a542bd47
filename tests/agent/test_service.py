"""TutorService details that are not about answering: how long a turn follows a job."""

import time

from tests.agent.conftest import NO_LLM, collect


async def test_turn_stops_following_a_job_that_waits_in_the_queue(make_service, tmp_path):
    """The scheduler is busy (here: not started), so the job stays queued and emits nothing;
    the turn must still end after chat_wait_for_job_s, leaving the job queued."""
    from tutor.jobs.service import JobService
    from tutor.settings import Settings

    jobs = JobService(Settings(data_dir=tmp_path / "jobs-data"))
    svc = make_service(NO_LLM, jobs=jobs, chat_wait_for_job_s=1.5, confirm_above_s=10_000)
    t0 = time.monotonic()
    events = await collect(svc, "/run cnn smoke")
    assert time.monotonic() - t0 < 30
    (submitted,) = [e for e in events if e.type == "job_submitted"]
    final = events[-1]
    assert final.type == "final" and f"/status {submitted.job_id}" in final.answer
    assert jobs.get(submitted.job_id)["status"] == "queued"  # left alone, not cancelled


async def test_a_turn_waits_for_another_writer_of_the_checkpoints(make_service):
    """CI on a loaded machine: a cancelled turn of the same thread was still writing its checkpoint,
    and the next turn failed with «database is locked» after sqlite's 5 s default. Another
    connection holds the write lock for 6 s here; the turn waits and answers."""
    import asyncio
    import sqlite3

    svc = make_service(NO_LLM)
    await collect(svc, "что такое паддинг?")  # creates the checkpoint tables
    holder = sqlite3.connect(svc.settings.agent_checkpoints, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # the write lock, as a turn's checkpoint write holds it
    release = asyncio.get_running_loop().call_later(6.0, holder.commit)
    try:
        t0 = time.monotonic()
        events = await collect(svc, "а зачем?")
    finally:
        release.cancel()
        holder.commit()
        holder.close()
    assert events[-1].type == "final" and "внутренней ошибки" not in events[-1].answer, events[-1].answer
    assert time.monotonic() - t0 >= 5.5  # it did wait for the lock


def _write_lock_free(path) -> bool:
    import sqlite3

    db = sqlite3.connect(path, timeout=0.2)
    try:
        db.execute("BEGIN IMMEDIATE")  # the checkpoint write lock, as the next turn's first write needs it
        db.rollback()
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        db.close()


async def test_a_cancelled_turn_leaves_nothing_behind(make_service, tmp_path):
    """CI: the turn after a stream the client had left hung («database is locked», then a 120 s read
    timeout). The transport cancels a turn with an anyio cancel scope (sse-starlette, Starlette), which
    re-cancels every await of its clean-up; the checkpoint connection was closed under a write still in
    flight and stayed a zombie holding that write transaction until the garbage collector came. Here
    a turn that follows a queued job is cancelled that way at several points: each time nothing of it
    is left running, the checkpoints are not locked, and the next turn of the thread answers."""
    import asyncio

    import anyio

    from tutor.jobs.service import JobService
    from tutor.settings import Settings

    jobs = JobService(Settings(data_dir=tmp_path / "jobs-data"))  # no scheduler: the job stays queued
    svc = make_service(NO_LLM, jobs=jobs, chat_wait_for_job_s=60, confirm_above_s=10_000)
    await collect(svc, "/jobs", thread="gone")  # the checkpoint tables exist
    baseline = len(asyncio.all_tasks())

    seen = []

    async def follow_a_job():
        seen.clear()
        async for ev in svc.chat("gone", "u1", "/run cnn smoke"):
            seen.append(ev)

    for delay in (0.05, 0.1, 0.15, 0.25, 0.4, 0.7, 1.0, 1.5):
        with anyio.move_on_after(delay) as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(follow_a_job)
        assert scope.cancelled_caught, f"the turn ended before it was cancelled: {seen[-1:]}"
        for _ in range(100):  # the cancelled turn winds down in the background
            if len(asyncio.all_tasks()) <= baseline:
                break
            await asyncio.sleep(0.1)
        left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert len(left) < baseline, f"after a cancel at {delay} s still running: {left}"
        assert _write_lock_free(svc.settings.agent_checkpoints), f"checkpoints locked after a cancel at {delay} s"
        with anyio.fail_after(30):
            events = await collect(svc, "/jobs", thread="gone")
        assert events[-1].type == "final" and events[-1].error is None, events[-1].answer
        for job in jobs.list(owner="u1"):  # (the owner's queue has a limit)
            if job["status"] == "queued":
                jobs.cancel(job["id"])
