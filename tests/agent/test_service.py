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
