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
import socket
import time
from pathlib import Path
from typing import Any, AsyncIterator

from tutor.jobs.outputs import OwnerOutputs
from tutor.jobs.store import TERMINAL, JobStore
from tutor.redact import redact
from tutor.settings import Settings, get_settings

log = logging.getLogger(__name__)


class JobError(Exception):
    code = "job_rejected"


class QuotaExceeded(JobError):
    code = "quota_exceeded"


class InvalidJob(JobError):
    code = "invalid_config"


class BudgetExceeded(QuotaExceeded):
    """Over the student's weekly minutes in the course (tutor/courses/budget.py)."""

    code = "budget_exceeded"


class HomeworkLocked(JobError):
    """The graded configuration of a homework item before its deadline (tutor/courses/policy.py)."""

    code = "homework_locked"


class TooBig(InvalidJob):
    """The config cannot fit in the memory one job may use."""

    code = "too_big"

    def __init__(self, tool: str, cost, limit: int, what: str) -> None:
        from tools.cost import fmt_bytes

        self.need, self.limit, self.params, self.what = fmt_bytes(cost.memory_bytes), fmt_bytes(limit), \
            f"{cost.parameters:,}", what
        super().__init__(f"{tool}: this config needs about {self.need} of memory ({self.params} parameters) and one "
                         f"job may use {self.limit} here; reduce {what}")


# the size fields a student can lower when a config does not fit, in the order worth trying
SIZE_FIELDS = ("batch_size", "n_embd", "n_layer", "channels", "base_channels", "hidden", "embed_dim", "image_size",
               "max_length", "max_len", "n_train", "buffer_size", "depth", "layers")


def check_fits(entry, cfg, on_gpu: bool, settings: Settings):
    """The config's Cost (tools' spec), or TooBig when its memory exceeds what one job may use."""
    from tools.cost import memory_limit_bytes

    cost = entry.estimate(cfg)
    limit = memory_limit_bytes(on_gpu, settings.job_memory_share)
    if cost.memory_bytes > limit:
        fields = cfg.model_dump()
        what = ", ".join(f for f in SIZE_FIELDS if f in fields)[:200] or "the model size"
        raise TooBig(entry.name, cost, limit, what)
    return cost


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


def bot_of(owner: str) -> str | None:
    """The bot key whose end user this owner is ('tgbot:tg123' → 'tgbot'), else None. Key
    names cannot contain ':' (tutor.names), so the prefix is unambiguous; chat-UI users
    ('ui:...') are people, not a bot's users."""
    if ":" not in owner or owner.startswith("ui:"):
        return None
    return owner.split(":", 1)[0]


def _is_worker(pid: int | None) -> bool:
    """A live job worker (a multiprocessing 'spawn' child), not some process that got its
    pid after the worker died: only such a process is ever signalled by pid."""
    if not _pid_alive(pid):
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"multiprocessing" in f.read()
    except OSError:
        return False


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
        self._scheduler_id = f"{socket.gethostname()}-{os.getpid()}-{id(self):x}"
        self._last_beat = 0.0
        self.outputs = OwnerOutputs(self.settings)  # compare/predict files: per-owner quota and expiry
        self._last_sweep = 0.0

    # ---- submission and queries ----------------------------------------------------------
    def submit(self, tool: str, config: dict[str, Any] | None, owner: str, preset: str | None = "quick",
               priority: int = 0, max_concurrent: int | None = None, course: str | None = None) -> str:
        """Validate (tool, preset, config) with the tool's Config and the owner's limits,
        then queue. Raises KeyError (unknown tool/preset), InvalidJob, QuotaExceeded.

        Limits come from the owner itself, whoever submits (API, chat, bot, UI): a student's
        key's --max-jobs or TUTOR_OWNER_MAX_CONCURRENT per owner; a bot's users
        ('<bot>:<user>') also share the bot key's --max-jobs (or TUTOR_BOT_MAX_CONCURRENT)
        and TUTOR_BOT_GPU_MINUTES_PER_DAY, so varying `user` does not multiply them.

        With a `course` (tutor/courses), its rules apply too: a homework item's graded config
        before the deadline is refused (HomeworkLocked) and the owner's weekly minutes with
        this run's estimate must fit the course's budget (BudgetExceeded)."""
        from pydantic import ValidationError

        from tools.registry import get_tool
        from tutor.jobs.worker import extra_tools

        extra_tools()
        entry = get_tool(tool)
        try:
            cfg = entry.make_config(preset, config or {})
        except ValidationError as e:
            msg = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
            raise InvalidJob(redact(f"invalid config for {tool}: {msg}")) from None
        self._check_dataset(entry, cfg, course)
        cost = check_fits(entry, cfg, self._gpus > 0 and cfg.device != "cpu", self.settings)
        group = bot_of(owner)
        key_limit = self._key_limit(group or owner)
        limit = (max_concurrent or key_limit or self.settings.owner_max_concurrent) if group is None \
            else self.settings.owner_max_concurrent
        active = self.store.active_count(owner)
        if active >= limit:
            raise QuotaExceeded(f"{owner} already has {active} queued or running jobs (limit {limit}); "
                                "wait for one to finish or cancel one")
        if group is not None:
            group_limit = max_concurrent or key_limit or self.settings.bot_max_concurrent
            active = self.store.active_count(group=group)
            if active >= group_limit:
                raise QuotaExceeded(f"the users of {group} together have {active} queued or running jobs "
                                    f"(limit {group_limit}); wait for one to finish")
        uses_gpu = self._gpus > 0 and cfg.device != "cpu"
        if uses_gpu:
            self._check_gpu_quota(owner)
        estimate_s = float(cost.seconds(uses_gpu))
        if course is not None:
            self._check_course(course, owner, tool, cfg.model_dump(mode="json"), estimate_s, uses_gpu)
        return self.store.insert(tool, preset, cfg.model_dump(mode="json"), owner, priority, uses_gpu, course=course,
                                 estimate_s=estimate_s)

    def _check_course(self, course: str, owner: str, tool: str, config: dict, estimate_s: float, uses_gpu: bool) -> None:
        from tutor.courses.service import CourseService

        if getattr(self, "_courses", None) is None:
            self._courses = CourseService(self.settings, self.store.engine)
        policy = self._courses.policy(course, owner)
        on_gpu_server = self._gpus > 0
        policy.check_submission(tool, config, estimate_s, counted=uses_gpu or not on_gpu_server,
                                on_gpu_server=on_gpu_server)

    def _check_gpu_quota(self, owner: str) -> None:
        since = time.time() - 86400
        used = self.store.gpu_seconds_since(owner, since) / 60
        if used >= self.settings.owner_gpu_minutes_per_day:
            raise QuotaExceeded(f"{owner} used {used:.0f} of {self.settings.owner_gpu_minutes_per_day:.0f} "
                                "GPU minutes in the last 24 h; try again later or run on the CPU (device=cpu)")
        group = bot_of(owner)
        if group is not None:
            used = self.store.gpu_seconds_since(None, since, group=group) / 60
            if used >= self.settings.bot_gpu_minutes_per_day:
                raise QuotaExceeded(f"the users of {group} used {used:.0f} of {self.settings.bot_gpu_minutes_per_day:.0f}"
                                    " GPU minutes in the last 24 h; try again later or run on the CPU (device=cpu)")

    def _key_limit(self, name: str) -> int | None:
        """--max-jobs of the API key of that name, if there is one."""
        from tutor.api.keys import key_limits

        try:
            return key_limits(self.store.engine, name)
        except Exception:  # no keys table (jobs used without the API): the settings apply
            return None

    def latest_checkpoint(self, owner: str, tool: str) -> tuple[str | None, str | None]:
        """(path, job id) of the newest checkpoint among this exact owner's succeeded runs of
        `tool`, or (None, None). Never another owner's: not even a bot's other users'."""
        for job in self.store.list(owner=owner, tool=tool, status="succeeded"):
            if job.get("owner") != owner:
                continue
            for art in job.get("artifacts") or []:
                if art.get("kind") == "checkpoint" and art.get("path") and Path(art["path"]).is_file():
                    return art["path"], job["id"]
        return None, None

    def _check_dataset(self, entry, cfg, course: str | None = None) -> None:
        """A registered dataset must exist (and be of the tool's kind, and shared or the job's
        course's) when the job is queued."""
        from tutor.datasets.service import DatasetError, check_job_config

        try:
            check_job_config(entry.load(), cfg, self.settings, course=course)
        except DatasetError as e:
            raise InvalidJob(f"invalid config for {entry.name}: {e}") from None

    def get(self, job_id: str) -> dict[str, Any] | None:
        return self.store.get(job_id)

    def list(self, owner: str | None = None, tool: str | None = None, status: str | None = None,
             group: str | None = None) -> list[dict]:
        return self.store.list(owner=owner, tool=tool, status=status, group=group)

    def get_owned(self, job_id: str, owner: str) -> dict[str, Any] | None:
        """The job if `owner` owns it, else None (another owner's id is indistinguishable from a missing one)."""
        job = self.store.get(job_id)
        return job if job is not None and job.get("owner") == owner else None

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

    HEARTBEAT_S = 2.0

    def scheduler_alive(self) -> bool:
        """Whether any scheduler (this process, the API or `jobs serve`) serves this database."""
        return self._task is not None or self.store.schedulers_alive(5 * self.HEARTBEAT_S) > 0

    @property
    def serving(self) -> bool:
        return self._task is not None

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
        try:
            self.store.drop_scheduler(self._scheduler_id)
        except Exception:  # the database may already be gone at shutdown
            pass
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
        """One scheduling round: reap ended workers, enforce cancel/deadlines (also of
        workers a dead scheduler left behind), stop a long job when another owner starves,
        start jobs in fair-share order, sweep expired outputs."""
        now = time.time()
        if now - self._last_beat >= self.HEARTBEAT_S:
            self.store.heartbeat(self._scheduler_id, socket.gethostname(), os.getpid())
            self._last_beat = now
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
            elif now > self._deadline(job):
                # the reason first: the worker, stopped, would otherwise store its own 'SystemExit'
                self.store.finish(job_id, "failed", error=f"timeout: ran longer than {self._timeout(job):.0f} s")
                self._stop_worker(job_id, job.get("worker_pid"))
        running = self.store.list(status="running")
        adopted = 0  # live workers of a dead scheduler on this host: they still use a slot
        for job in running:
            if job["id"] in self._procs:
                continue
            pid = job.get("worker_pid")
            if pid and not _pid_alive(pid):
                if job["cancel_requested"]:
                    self.store.finish(job["id"], "cancelled", error="cancelled by request")
                else:
                    self.store.finish(job["id"], "failed", error="worker process disappeared")
            elif pid and now > self._deadline(job):
                # orphaned by a dead server: nobody else would ever stop it
                self.store.finish(job["id"], "failed", error=f"timeout: ran longer than {self._timeout(job):.0f} s "
                                                            "(stopped after a server restart)")
                if _is_worker(pid):
                    self._kill_pid(pid)
            elif pid and _is_worker(pid):
                adopted += 1
        if now - self._last_sweep > 60:
            self._last_sweep = now
            self.outputs.sweep()
        running = self.store.list(status="running")  # again: some ended above
        queued = self.store.next_queued(set(self._procs))
        if not queued:
            return
        held: dict[str, int] = {}
        for j in running:
            held[j["owner"]] = held.get(j["owner"], 0) + 1
        free = self.slots - len(self._procs) - adopted
        if free <= 0:
            self._preempt_for_starving(running, queued, held, now)
            return
        self._start_fair(queued, held, free)

    def _start_fair(self, queued: list[dict], held: dict[str, int], free: int) -> None:
        """Per-owner share of the slots: the next slot goes to the owner holding the fewest,
        then to higher priority (above 0 only admins can set), then to the owner whose last
        job started longest ago (round robin: with one slot, two students alternate instead
        of one queueing behind the other's ten jobs), then to the oldest job. While several owners want slots nobody holds more
        than ceil(slots / owners)."""
        import math

        owners = set(held) | {j["owner"] for j in queued}
        share = max(1, math.ceil(self.slots / len(owners))) if len(owners) > 1 else self.slots
        last = self.store.last_started(owners)
        pending = list(queued)
        while free > 0 and pending:
            pending.sort(key=lambda j: (held.get(j["owner"], 0), -(j.get("priority") or 0), last.get(j["owner"], 0.0),
                                        j["created_at"], j["id"]))
            job = pending.pop(0)
            if held.get(job["owner"], 0) >= share:
                continue  # this owner has its share; the others' jobs (if any) come first
            if job["uses_gpu"] and not self._gpu_quota_left(job):
                continue
            if not self.store.claim(job["id"], "cuda" if job["uses_gpu"] else "cpu", self.settings.job_timeout_s):
                continue  # another scheduler took it
            self._launch(job)
            held[job["owner"]] = held.get(job["owner"], 0) + 1
            last[job["owner"]] = time.time()
            free -= 1

    def _preempt_for_starving(self, running: list[dict], queued: list[dict], held: dict[str, int],
                              now: float) -> None:
        """Time slice: when every slot is taken and an owner with nothing running waits, the
        longest job past TUTOR_JOB_SLICE_S of the owner holding the most slots is stopped
        (failed, with the reason). Nobody waiting: a job runs until its timeout."""
        slice_s = self.settings.job_slice_s
        if not slice_s:
            return
        starving = {j["owner"] for j in queued} - set(held)
        if not starving:
            return
        mine = [j for j in running if j["id"] in self._procs and j.get("started_at")
                and now - j["started_at"] > slice_s and j["owner"] not in starving]
        if not mine:
            return
        victim = max(mine, key=lambda j: (held.get(j["owner"], 0), now - j["started_at"]))
        self.store.finish(victim["id"], "failed", error=(
            f"preempted: ran {now - victim['started_at']:.0f} s while another student waited for the only free "
            f"job slot (fair-share limit {slice_s:.0f} s when others wait); rerun with a smaller preset, "
            "or when the queue is quiet"))
        self._stop_worker(victim["id"], victim.get("worker_pid"))
        log.info("preempted job %s of %s for waiting owners %s", victim["id"], victim["owner"], sorted(starving))

    def _gpu_quota_left(self, job: dict) -> bool:
        """Checked again when a queued GPU job would start (it may have waited while others ran)."""
        try:
            self._check_gpu_quota(job["owner"])
            return True
        except QuotaExceeded as e:
            self.store.finish(job["id"], "failed", error=f"not started: {e}")
            return False

    def _timeout(self, job: dict) -> float:
        if job.get("deadline") and job.get("started_at"):
            return job["deadline"] - job["started_at"]
        return float(self.settings.job_timeout_s)

    def _deadline(self, job: dict) -> float:
        if job.get("deadline"):
            return job["deadline"]
        return (job.get("started_at") or time.time()) + self.settings.job_timeout_s

    @staticmethod
    def _kill_pid(pid: int, grace_s: float = 3.0) -> None:
        """SIGTERM (the worker exits promptly), then SIGKILL if it is still there."""
        try:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            while time.monotonic() < deadline and _pid_alive(pid):
                time.sleep(0.1)
            if _pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

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
        elif _is_worker(pid):
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
    def compare(self, tool: str, job_ids: list[str] | None = None, owner: str | None = None,
                requester: str | None = None) -> dict[str, Any]:
        """Compare runs (`job_ids`, else `owner`'s succeeded runs, else everyone's). The
        plots go to the requester's output folder (default: owner) under its quota."""
        from tutor.jobs.compare import compare_runs

        if job_ids:
            runs = [j for j in (self.store.get(i) for i in job_ids) if j is not None]
        else:
            runs = self.store.list(owner=owner, tool=tool, status="succeeded")
        runs = [r for r in runs if r["tool"] == tool and r["status"] == "succeeded"]
        if not runs:
            raise ValueError(f"no finished {tool} runs to compare")
        who = requester or owner or "local"
        result = compare_runs(tool, runs, self.outputs.dir_for(who))
        self.outputs.enforce(who)
        return result
