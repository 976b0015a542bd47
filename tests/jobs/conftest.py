import asyncio
import time

import pytest


@pytest.fixture(autouse=True)
def sleeper_tool(monkeypatch):
    """The sleeper tool is registered for these tests only: set at import time, the variable
    leaked into every later test (and the API servers they start as subprocesses)."""
    monkeypatch.setenv("TUTOR_EXTRA_TOOLS", "sleeper=tests.jobs.sleeper_tool")


@pytest.fixture
def settings(tmp_path):
    from tutor.settings import Settings

    return Settings(data_dir=tmp_path / "data", job_slots_cpu=1, owner_max_concurrent=50, job_timeout_s=60)


@pytest.fixture
def service_factory(settings):
    from tutor.jobs.service import JobService

    made = []

    def make(backend="local", **updates):
        st = settings.model_copy(update=updates) if updates else settings
        svc = JobService(st, backend=backend)
        made.append(svc)
        return svc

    yield make


async def wait_for(svc, job_id, statuses=("succeeded", "failed", "cancelled"), timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = svc.get(job_id)
        if job["status"] in statuses:
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} still {svc.get(job_id)['status']} after {timeout}s")
