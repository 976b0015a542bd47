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
