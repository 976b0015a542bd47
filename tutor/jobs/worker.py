"""The body of one job, run in its own process (multiprocessing 'spawn', or a Ray task).

It writes the tool's events straight into the database through its own engine, then the
result. A crash, an OOM kill or SIGKILL of this process loses only this job: the
scheduler sees the process die and marks the job failed with the reason."""

from __future__ import annotations

import os
import signal
import sys


def extra_tools() -> None:
    """TUTOR_EXTRA_TOOLS="name=module.path,other=pkg.mod" registers more tools (used by
    tests and by deployments that ship their own experiments)."""
    spec = os.environ.get("TUTOR_EXTRA_TOOLS", "")
    if not spec:
        return
    from tools.registry import TOOLS, ToolEntry

    for item in spec.split(","):
        if "=" in item:
            name, module = item.split("=", 1)
            TOOLS.setdefault(name.strip(), ToolEntry(name.strip(), module.strip(), f"extra tool {name}"))


def run_job(job_id: str, database_url: str, run_dir: str, env: dict | None = None) -> str:
    """Run the job; returns its final status. Never raises (errors are stored)."""
    os.environ.update(env or {})
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # cancel/timeout: exit promptly
    from tools.common import Finished, MissingDataError
    from tools.registry import get_tool
    from tutor.db import make_engine
    from tutor.jobs.store import JobStore
    from tutor.redact import failure, redact

    extra_tools()
    store = JobStore(make_engine(database_url))
    job = store.get(job_id)
    if job is None:
        return "failed"

    def emit(event) -> None:
        if isinstance(event, Finished):
            return  # the terminal status event carries the final metrics
        data = event.model_dump(mode="json")
        store.add_event(job_id, data.pop("type"), data)

    try:
        entry = get_tool(job["tool"])
        cfg = entry.config_cls(**job["config"])
        result = entry.run(cfg, emit, out_dir=run_dir)
    except MissingDataError as e:
        store.finish(job_id, "failed", error=f"missing data: {redact(str(e))}")
        return "failed"
    except MemoryError:
        store.finish(job_id, "failed", error="out of memory")
        return "failed"
    except BaseException as e:  # noqa: BLE001 - a job's failure must be stored, whatever it is
        if isinstance(e, SystemExit) and store.get(job_id)["cancel_requested"]:
            store.finish(job_id, "cancelled", error="cancelled by request")
            return "cancelled"
        # the student reads a one-line reason with a reference; the traceback (server paths and
        # all) goes to the log (this process's stderr is the server's) and the staff-only field
        message, tb, _ = failure(e, f"job {job_id} ({job['tool']})")
        store.finish(job_id, "failed", error=message, error_detail=tb)
        return "failed"
    store.finish(job_id, "succeeded", result=result.model_dump(mode="json"))
    return "succeeded"
