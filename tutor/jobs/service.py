"""JobService: the experiment queue used by the agent, the API, the UI and the CLI.

    submit(tool, config, owner, preset=..., priority=...) -> job id   (validates first)
    get(id) / list(owner, tool, status) / cancel(id) / artifacts(id) / counts()
    events(id, since) -> async iterator of stored events, then live ones
    compare(tool, job_ids=None, owner=None) -> table + parallel-coordinates PNG/HTML
    start() / stop(): the scheduler (embedded in the API's lifespan, or `jobs serve`)

Backends: 'local' spawns one worker process per job; 'ray' runs the same worker function
as a Ray task with num_gpus. The database is the queue: any number of submitters, and a
job is claimed atomically so two schedulers never run it twice.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing as mp
import os
import signal
import time
from pathlib import Path
from typing import Any, AsyncIterator

from tutor.jobs.store import TERMINAL, JobStore
from tutor.settings import Settings, get_settings

log = logging.getLogger(__name__)


class JobError(Exception):
    code = "job_rejected"


class QuotaExceeded(JobError):
    code = "quota_exceeded"


class InvalidJob(JobError):
    code = "invalid_config"


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) is dead for our purposes
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _cuda_count() -> int:
    try:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception:
        return 0


class JobService:
    def __init__(self, settings: Settings | None = None, backend: str | None = None) -> None:
        from tutor.db import get_engine

        self.settings = settings or get_settings()
        self.store = JobStore(get_engine(self.settings))
        self.backend = backend or self.settings.jobs_backend
        self._procs: dict[str, Any] = {}  # job id -> Process (local) or ObjectRef (ray)
        self._task: asyncio.Task | None = None
        self._stopping = False
        self._gpus = _cuda_count()

    # ---- submission and queries ----------------------------------------------------------
    def submit(self, tool: str, config: dict[str, Any] | None, owner: str, preset: str | None = "quick",
               priority: int = 0, max_concurrent: int | None = None) -> str:
        """Validate (tool, preset, config) with the tool's Config and the owner's limits,
        then queue. Raises KeyError (unknown tool/preset), InvalidJob, QuotaExceeded."""
        from pydantic import ValidationError

        from tools.registry import get_tool
        from tutor.jobs.worker import extra_tools

        extra_tools()
        entry = get_tool(tool)
        try:
            cfg = entry.make_config(preset, config or {})
        except ValidationError as e:
            msg = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
            raise InvalidJob(f"invalid config for {tool}: {msg}") from None
        self._check_dataset(entry, cfg)
        limit = max_concurrent or self.settings.owner_max_concurrent
        active = self.store.active_count(owner)
        if active >= limit:
            raise QuotaExceeded(f"{owner} already has {active} queued or running jobs (limit {limit}); "
                                "wait for one to finish or cancel one")
        uses_gpu = self._gpus > 0 and cfg.device != "cpu"
        if uses_gpu:
            used = self.store.gpu_seconds_since(owner, time.time() - 86400) / 60
            if used >= self.settings.owner_gpu_minutes_per_day:
                raise QuotaExceeded(f"{owner} used {used:.0f} of {self.settings.owner_gpu_minutes_per_day:.0f} "
                                    "GPU minutes in the last 24 h; try again later or run on the CPU (device=cpu)")
        return self.store.insert(tool, preset, cfg.model_dump(mode="json"), owner, priority, uses_gpu)

    def _check_dataset(self, entry, cfg) -> None:
        """A registered dataset must exist (and be of the tool's kind) when the job is queued."""
        from tutor.datasets.service import DatasetError, check_job_config

        try:
            check_job_config(entry.load(), cfg, self.settings)
        except DatasetError as e:
            raise InvalidJob(f"invalid config for {entry.name}: {e}") from None

    def get(self, job_id: str) -> dict[str, Any] | None:
        return self.store.get(job_id)

    def list(self, owner: str | None = None, tool: str | None = None, status: str | None = None) -> list[dict]:
        return self.store.list(owner=owner, tool=tool, status=status)

    def counts(self) -> dict[str, int]:
        return self.store.counts()

    def artifacts(self, job_id: str) -> list[dict[str, Any]]:
        job = self.store.get(job_id)
        if job is None:
            raise KeyError(f"unknown job '{job_id}'")
        out = []
        for a in job["artifacts"]:
            p = Path(a["path"])
            out.append({**a, "size": p.stat().st_size if p.exists() else 0, "exists": p.exists()})
        return out

    def cancel(self, job_id: str) -> dict[str, Any]:
        job = self.store.get(job_id)
        if job is None:
            raise KeyError(f"unknown job '{job_id}'")
        if job["status"] == "queued":
            self.store.finish(job_id, "cancelled", error="cancelled before it started")
        elif job["status"] == "running":
            self.store.request_cancel(job_id)
            self._stop_worker(job_id, job.get("worker_pid"))
        return self.store.get(job_id)

    async def events(self, job_id: str, since: int = 0, poll_s: float = 0.25) -> AsyncIterator[dict[str, Any]]:
        """History after `since` first, then live events, until the job has ended."""
        last = since
        while True:
            batch = await asyncio.to_thread(self.store.events_since, job_id, last)
            for ev in batch:
                last = ev["seq"]
                yield ev
                if ev["type"] == "status" and ev["payload"].get("status") in TERMINAL:
                    return
            if not batch:
                job = await asyncio.to_thread(self.store.get, job_id)
                if job is None:
                    return
                if job["status"] in TERMINAL:  # ended, and every event was already read
                    return
            await asyncio.sleep(poll_s)

    # ---- scheduling ------------------------------------------------------------------------
    @property
    def slots(self) -> int:
        if self.backend == "ray":
            return max(1, self.settings.job_slots_gpu * max(self._gpus, 1))
        return self.settings.job_slots_gpu * self._gpus if self._gpus else self.settings.job_slots_cpu

    def recover(self) -> None:
        """Jobs a dead scheduler left `running`: failed (interrupted) or re-queued."""
        for job in self.store.list(status="running"):
            if job["id"] in self._procs or _pid_alive(job.get("worker_pid")):
                continue  # still alive (an orphaned worker finishes and stores its own result)
            if self.settings.requeue_interrupted:
                self.store.requeue(job["id"], "interrupted: re-queued after a restart")
            else:
                self.store.finish(job["id"], "failed", error="interrupted: the server stopped while the job ran")

    async def start(self) -> None:
        if self._task is not None:
            return
        if self.backend == "ray":
            self._init_ray()
        await asyncio.to_thread(self.recover)
        self._stopping = False
        self._task = asyncio.create_task(self._loop(), name="tutor-job-scheduler")

    async def stop(self, kill_running: bool = True) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if kill_running:
            for job_id in list(self._procs):
                self._stop_worker(job_id, None)
                self.store.finish(job_id, "failed", error="interrupted: the server stopped while the job ran")
            self._procs.clear()

    async def run_forever(self) -> None:
        await self.start()
        try:
            while True:
                await asyncio.sleep(3600)
        finally:
            await self.stop()

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                await asyncio.to_thread(self.tick)
            except Exception:  # the scheduler must survive anything a job does
                log.exception("scheduler tick failed")
            await asyncio.sleep(0.2)

    def tick(self) -> None:
        """One scheduling round: reap ended workers, enforce cancel/timeout, start jobs."""
        now = time.time()
        for job_id in list(self._procs):
            job = self.store.get(job_id)
            if job is None:
                self._procs.pop(job_id, None)
                continue
            if self._worker_done(job_id):
                self._reap(job_id, job)
                continue
            if job["cancel_requested"]:
                self._stop_worker(job_id, job.get("worker_pid"))
            elif job["started_at"] and now - job["started_at"] > self.settings.job_timeout_s:
                self._stop_worker(job_id, job.get("worker_pid"))
                self.store.finish(job_id, "failed", error=f"timeout: ran longer than {self.settings.job_timeout_s} s")
        # running jobs of other (dead) schedulers
        for job in self.store.list(status="running"):
            if job["id"] not in self._procs and job.get("worker_pid") and not _pid_alive(job["worker_pid"]):
                if job["cancel_requested"]:
                    self.store.finish(job["id"], "cancelled", error="cancelled by request")
                else:
                    self.store.finish(job["id"], "failed", error="worker process disappeared")
        free = self.slots - len(self._procs)
        if free <= 0:
            return
        for job in self.store.next_queued(set(self._procs)):
            if free <= 0:
                break
            device = "cuda" if job["uses_gpu"] else "cpu"
            if not self.store.claim(job["id"], device):
                continue  # another scheduler took it
            self._launch(job)
            free -= 1

    # ---- backends ------------------------------------------------------------------------
    def _run_dir(self, job_id: str) -> str:
        d = Path(self.settings.artifacts_dir).resolve() / "jobs" / job_id
        d.mkdir(parents=True, exist_ok=True)
        return str(d)

    def _worker_env(self) -> dict:
        keep = ("TUTOR_EXTRA_TOOLS", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
        env = {k: os.environ[k] for k in keep if k in os.environ}
        env["TUTOR_DATA_DIR"] = str(Path(self.settings.data_dir).resolve())
        env["TUTOR_DATABASE_URL"] = self.settings.database_url  # registered datasets resolve through it
        return env

    def _launch(self, job: dict) -> None:
        from tutor.jobs.worker import run_job

        args = (job["id"], self.settings.database_url, self._run_dir(job["id"]), self._worker_env())
        if self.backend == "ray":
            import ray

            remote = ray.remote(num_gpus=1 if job["uses_gpu"] else 0, num_cpus=1, max_retries=0)(run_job)
            self._procs[job["id"]] = remote.remote(*args)
            return
        ctx = mp.get_context("spawn")
        proc = ctx.Process(target=run_job, args=args, name=f"tutor-job-{job['id']}", daemon=False)
        proc.start()
        self._procs[job["id"]] = proc
        self.store.set_pid(job["id"], proc.pid)

    def _worker_done(self, job_id: str) -> bool:
        handle = self._procs[job_id]
        if self.backend == "ray":
            import ray

            ready, _ = ray.wait([handle], timeout=0)
            return bool(ready)
        return not handle.is_alive()

    def _reap(self, job_id: str, job: dict) -> None:
        handle = self._procs.pop(job_id)
        reason = None
        if self.backend == "ray":
            import ray

            try:
                ray.get(handle, timeout=5)
            except Exception as e:
                reason = f"ray task failed: {type(e).__name__}: {str(e)[:300]}"
        else:
            handle.join(timeout=1)
            code = handle.exitcode
            if code is not None and code < 0:
                sig = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
                reason = f"worker killed by {sig}" + (" (out of memory or killed by the system)" if sig == "SIGKILL" else "")
            elif code not in (0, None):
                reason = f"worker exited with code {code}"
            else:
                reason = "worker ended without storing a result"
        fresh = self.store.get(job_id)
        if fresh and fresh["status"] == "running":
            if fresh["cancel_requested"]:
                self.store.finish(job_id, "cancelled", error="cancelled by request")
            else:
                self.store.finish(job_id, "failed", error=reason)

    def _stop_worker(self, job_id: str, pid: int | None) -> None:
        handle = self._procs.get(job_id)
        if self.backend == "ray" and handle is not None:
            import ray

            ray.cancel(handle, force=True)
            return
        if handle is not None and handle.is_alive():
            handle.terminate()
            handle.join(timeout=3)
            if handle.is_alive():
                handle.kill()
        elif _pid_alive(pid):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def _init_ray(self) -> None:
        import ray

        if not ray.is_initialized():
            if self.settings.ray_address:
                ray.init(address=self.settings.ray_address, ignore_reinit_error=True)
            else:
                ray.init(num_cpus=max(2, os.cpu_count() or 2), include_dashboard=False, ignore_reinit_error=True,
                         log_to_driver=False)

    # ---- comparison ----------------------------------------------------------------------
    def compare(self, tool: str, job_ids: list[str] | None = None, owner: str | None = None) -> dict[str, Any]:
        from tutor.jobs.compare import compare_runs

        if job_ids:
            runs = [j for j in (self.store.get(i) for i in job_ids) if j is not None]
        else:
            runs = self.store.list(owner=owner, tool=tool, status="succeeded")
        runs = [r for r in runs if r["tool"] == tool and r["status"] == "succeeded"]
        if not runs:
            raise ValueError(f"no finished {tool} runs to compare")
        out_dir = Path(self.settings.artifacts_dir) / "compare"
        return compare_runs(tool, runs, out_dir)
