"""Submitting planned runs, following them while the turn lasts, and reporting finished ones
(used by the rule path and by the agent's tools)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from tutor.agent.context import TurnContext
from tutor.agent.events import (ArtifactEvent, ErrorEvent, ExperimentPlan, JobInfo, JobProgressEvent, JobSubmittedEvent,
                                SourcesEvent)
from tutor.agent.messages import say
from tutor.agent.streaming import emit, stream_text

log = logging.getLogger(__name__)

TERMINAL = ("succeeded", "failed", "cancelled")


def artifact_url(job_id: str, name: str) -> str:
    return f"/v1/jobs/{job_id}/artifacts/{name}"


def emit_artifacts(job: dict[str, Any], kinds=("image", "html")) -> None:
    for art in job.get("artifacts") or []:
        if art.get("kind") in kinds:
            emit(ArtifactEvent(job_id=job["id"], name=art["name"], path=art.get("path", ""), kind=art["kind"],
                               url=artifact_url(job["id"], art["name"])))


async def submit(ctx: TurnContext, plans: list[ExperimentPlan], lang: str) -> tuple[list[str], list[str]]:
    """Queue every plan: (job ids, error texts)."""
    from tutor.jobs.service import JobError

    ids, errors = [], []
    for plan in plans:
        try:
            job_id = await asyncio.to_thread(ctx.services.jobs.submit, plan.tool, plan.config, ctx.user,
                                             preset=plan.preset, course=ctx.course)
        except (JobError, KeyError, ValueError) as e:
            text = say("submit_failed", lang, reason=e.args[0] if e.args else str(e))
            emit(ErrorEvent(code=getattr(e, "code", "job_rejected"), message=text))
            errors.append(text)
            continue
        emit(JobSubmittedEvent(job_id=job_id, tool=plan.tool, preset=plan.preset, config=plan.config))
        ids.append(job_id)
    return ids, errors


async def watch(ctx: TurnContext, job_ids: list[str], timeout_s: float) -> dict[str, dict]:
    """Stream the jobs' progress until they end or the turn's patience runs out; the jobs."""
    jobs = ctx.services.jobs

    async def follow(job_id: str) -> None:
        async for ev in jobs.events(job_id, since=0):
            etype, payload = ev.get("type"), ev.get("payload") or {}
            if etype == "progress":
                emit(JobProgressEvent(job_id=job_id, step=payload.get("step"), total=payload.get("total"),
                                      unit=payload.get("unit"), metrics=payload.get("metrics") or {}))
            elif etype == "log":
                emit(JobProgressEvent(job_id=job_id, message=payload.get("message")))
            elif etype == "artifact":
                emit(ArtifactEvent(job_id=job_id, name=payload.get("name", ""), path=payload.get("path", ""),
                                   kind=payload.get("kind", "other"), url=artifact_url(job_id, payload.get("name", ""))))
            elif etype == "status" and payload.get("status") in TERMINAL:
                return

    try:
        # the turn follows the jobs for at most chat_wait_for_job_s, also while they sit in the queue;
        # then they keep running and the answer says how to follow them
        async with asyncio.timeout(timeout_s):
            for job_id in job_ids:  # one at a time: the queue runs them in order anyway
                await follow(job_id)
    except TimeoutError:
        pass
    out = {}
    for job_id in job_ids:
        out[job_id] = await asyncio.to_thread(jobs.get, job_id) or {"id": job_id, "status": "unknown"}
    return out


def previous_run(ctx: TurnContext, job: dict) -> dict | None:
    runs = ctx.services.jobs.list(owner=job.get("owner"), tool=job["tool"], status="succeeded")
    earlier = [r for r in runs if r["id"] != job["id"] and (r.get("created_at") or 0) < (job.get("created_at") or 0)]
    if not earlier:
        return None
    prev = max(earlier, key=lambda r: r.get("created_at") or 0)
    return {"id": prev["id"], **(prev.get("result") or {"metrics": prev.get("metrics"), "config": prev.get("config")})}


async def report(ctx: TurnContext, job: dict, lang: str, theory: bool = True) -> tuple[str, list[dict]]:
    """A finished job explained: the deterministic report plus (theory=True) the lectures that teach it."""
    from tutor.agent.answer import make_sources
    from tutor.agent.reports import describe_run, theory_hits

    previous = await asyncio.to_thread(previous_run, ctx, job)
    text, _ = describe_run(job["tool"], job, lang, previous)
    hits = []
    try:
        if theory:
            hits = await asyncio.to_thread(theory_hits, ctx.services.index, job["tool"], lang)
    except Exception as e:  # no index: the report stands without the references
        log.warning("theory retrieval failed: %s", e)
    sources = make_sources(hits)
    if sources:
        from tools.registry import get_tool

        emit(SourcesEvent(query=get_tool(job["tool"]).spec.theory_query, sources=sources))
        refs = "; ".join(f"«{s.section.split(' > ')[-1]}» ({s.source.split('/')[-1]}) [{s.n}]" for s in sources)
        text += "\n\n" + say("theory", lang, refs=refs)
    emit_artifacts(job)
    return text, [s.model_dump() for s in sources]


def _cost_note(plan: ExperimentPlan, lang: str) -> str:
    """' ≈3 мин, 12 % вашего недельного лимита' when the course sets a budget (tutor/courses)."""
    from tutor.agent.planning import cost_text

    return f" ≈{cost_text(plan, lang)}" if plan.budget_share is not None else ""


def ended_text(job: dict, lang: str) -> str:
    status = job.get("status")
    if status in ("failed", "cancelled"):
        return say("job_ended", lang, job=job["id"], status=status, reason=job.get("error") or status)
    return say("job_running", lang, job=job["id"])


async def run_plans(ctx: TurnContext, plans: list[ExperimentPlan], lang: str) -> dict[str, Any]:
    """Submit, follow, report; the state update of the turn (answer, job(s), comparison, sources)."""
    ids, errors = await submit(ctx, plans, lang)
    if not ids:
        return {"answer": "\n".join(errors), "error": "job_rejected"}
    # "queued" (with its cost against the week's budget) is said while it waits (streamed), the answer is the outcome
    stream_text("".join(say("queued", lang, job=i, tool=p.tool, preset=p.preset).rstrip("\n") + _cost_note(p, lang) + "\n"
                        for i, p in zip(ids, plans)) + "\n")
    parts = list(errors)
    jobs = await watch(ctx, ids, ctx.settings.chat_wait_for_job_s)
    sources: list[dict] = []
    out: dict[str, Any] = {"jobs": [JobInfo.of(j) for j in jobs.values() if "tool" in j]}
    for job_id in ids:
        job = jobs[job_id]
        if job.get("status") == "succeeded":
            text, srcs = await report(ctx, job, lang, theory=not sources)  # the lectures once per turn
            sources = sources or srcs
            parts.append(text)
        else:
            parts.append(ended_text(job, lang))
            if job.get("status") in ("failed", "cancelled"):
                emit(ErrorEvent(code=f"job_{job['status']}", message=parts[-1]))
                out["error"] = f"job_{job['status']}"
    # the week's budget: what these runs are estimated to take of it, kept with the outcome
    parts += [f"{p.tool}:{_cost_note(p, lang)}" for p in plans if p.budget_share is not None]
    last = jobs[ids[-1]]
    if "tool" in last:
        out["job"] = JobInfo.of(last)
    if len(ids) > 1 and all(jobs[i].get("status") == "succeeded" for i in ids):
        from tutor.agent.nodes.commands import comparison

        text, info = await comparison(ctx, plans[0].tool, lang, job_ids=ids)
        parts.append(text)
        out["comparison"] = info
    out.update(answer="\n\n".join(parts), sources=sources)
    return out
