"""Deterministic replies: help, modes, search, the student's jobs, a job's status or report,
cancelling, comparing runs, an empty message, a declined plan, an unknown /command."""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.runtime import Runtime

from tutor.agent import answer as ans
from tutor.agent.context import TurnContext
from tutor.agent.events import AnswerStyle, ArtifactEvent, ComparisonInfo, ErrorEvent, JobInfo, SourcesEvent
from tutor.agent.intents import MODES, IntentKind
from tutor.agent.messages import say
from tutor.agent.nodes.retrieval import search
from tutor.agent.state import TurnState
from tutor.agent.streaming import emit, stream_text


def job_line(j: dict) -> str:
    m = ", ".join(f"{k}={v:.4g}" for k, v in list((j.get("metrics") or {}).items())[:3] if isinstance(v, (int, float)))
    return f"{j['id']}  {j['tool']:<12} {j['status']:<10} {j.get('preset') or ''} {m}".rstrip()


def find_job(ctx: TurnContext, job_id: str | None) -> dict | None:
    """The student's own job (never another's: an id someone else owns is 'not found')."""
    return ctx.services.jobs.get_owned(job_id, ctx.user) if job_id else None


def latest_job(ctx: TurnContext, tool: str | None = None) -> dict | None:
    jobs = ctx.services.jobs.list(owner=ctx.user, tool=tool)
    return max(jobs, key=lambda j: j.get("created_at") or 0) if jobs else None


async def comparison(ctx: TurnContext, tool: str, lang: str, job_ids: list[str] | None = None
                     ) -> tuple[str, ComparisonInfo | None]:
    try:
        cmp = await asyncio.to_thread(ctx.services.jobs.compare, tool, job_ids=job_ids, owner=ctx.user)
    except ValueError:
        return say("nothing_to_compare", lang, tool=tool), None
    for kind, key in (("image", "png"), ("html", "html")):
        if cmp.get(key):
            emit(ArtifactEvent(name=str(cmp[key]).rsplit("/", 1)[-1], path=str(cmp[key]), kind=kind))
    rows, metric = cmp.get("rows") or [], cmp.get("metric") or ""
    lines = [say("comparison_head", lang, tool=tool, n=len(rows))]
    for r in rows[:15]:
        val = r.get(metric)
        cfg = ", ".join(f"{k}={r[k]}" for k in cmp.get("columns") or [] if k in r and k != metric and k != "id")[:120]
        lines.append(f"- {r.get('id')}: {metric}={val:.4g} ({cfg})" if isinstance(val, (int, float)) else f"- {r.get('id')}")
    numeric = [r for r in rows if isinstance(r.get(metric), (int, float))]
    if len(numeric) >= 2:
        from tools.registry import get_tool

        m = get_tool(tool).spec.metric(None)
        best = (max if m.higher_is_better else min)(numeric, key=lambda r: r[metric])
        lines.append(("Лучший: " if lang == "ru" else "Best: ") + f"{best.get('id')} ({metric}={best[metric]:.4g})")
    if cmp.get("png"):
        lines.append(say("plot_attached", lang))
    info = ComparisonInfo(tool=tool, metric=metric, columns=list(cmp.get("columns") or []), rows=rows,
                          plotly=cmp.get("plotly"))
    return "\n".join(lines), info


async def command(state: TurnState, runtime: Runtime[TurnContext]) -> dict:
    from tools.registry import TOOLS

    ctx, lang, it = runtime.context, state["language"], state["intent"]
    kind, arg = it.kind, (it.arg or "").strip()
    out: dict[str, Any] = {"answer_style": AnswerStyle.REPORT}
    if kind == IntentKind.EMPTY:
        text = say("empty", lang)
        emit(ErrorEvent(code="empty_message", message=text))
        out["error"] = "empty_message"
    elif kind == IntentKind.DECLINE:
        text = say("declined", lang)
    elif kind == IntentKind.CONFIRM:
        text = say("nothing_to_confirm", lang)
    elif kind == IntentKind.HELP:
        text = say("help", lang, tools=", ".join(TOOLS))
    elif kind == IntentKind.COURSE:
        from tutor.courses.chat import course_command

        text, error = await asyncio.to_thread(course_command, ctx, arg, lang)
        if error:
            emit(ErrorEvent(code=error, message=text))
            out["error"] = error
    elif kind == IntentKind.MODE:
        if arg in MODES:
            await asyncio.to_thread(ctx.services.threads.update, ctx.thread_id, mode=arg)
            out["mode"] = arg
            text = say("mode_set", lang, mode=arg)
        else:
            text = say("modes", lang, mode=state["mode"])
    elif kind == IntentKind.SEARCH:
        if not arg:
            text = say("usage_search", lang)
        else:
            hits = await search(ctx, arg, lang)
            sources = ans.make_sources(hits)
            if sources:
                emit(SourcesEvent(query=arg, sources=sources))
            text = "\n".join(f"[{s.n}] {s.source} — {s.section} ({s.anchor})" for s in sources) or say("nothing_found", lang)
            out["sources"] = [s.model_dump() for s in sources]
    elif kind == IntentKind.JOBS:
        jobs = await asyncio.to_thread(ctx.services.jobs.list, owner=ctx.user)
        out["jobs"] = [JobInfo.of(j) for j in jobs[:20]]
        text = "\n".join(job_line(j) for j in jobs[:20]) if jobs else say("no_runs_yet", lang)
    elif kind == IntentKind.STATUS:
        job = await asyncio.to_thread(latest_job, ctx, it.tool) if it.arg == "last" and not it.job_id else \
            await asyncio.to_thread(find_job, ctx, it.job_id)
        if job is None and it.arg == "last":
            text = say("no_runs_yet", lang)
        elif job is None:
            text = say("job_not_found", lang, job=it.job_id)
            emit(ErrorEvent(code="job_not_found", message=text))
            out["error"] = "job_not_found"
        elif job["status"] == "succeeded":
            from tutor.agent.runs import report

            text, sources = await report(ctx, job, lang)
            out.update(sources=sources)
        else:
            from tutor.agent.runs import ended_text

            text = job_line(job) + "\n" + ended_text(job, lang) if job["status"] in ("failed", "cancelled") else job_line(job)
        if job is not None:
            out["job"] = JobInfo.of(job)
    elif kind == IntentKind.CANCEL:
        job = await asyncio.to_thread(find_job, ctx, it.job_id)
        if job is None:
            text = say("job_not_found", lang, job=it.job_id)
            emit(ErrorEvent(code="job_not_found", message=text))
            out["error"] = "job_not_found"
        else:
            job = await asyncio.to_thread(ctx.services.jobs.cancel, job["id"])
            text = say("job_status", lang, job=job["id"], status=job["status"])
            out["job"] = JobInfo.of(job)
    elif kind == IntentKind.COMPARE:
        tool = it.tool
        if tool not in TOOLS:
            text = say("name_a_tool", lang, tools="|".join(TOOLS))
        else:
            text, info = await comparison(ctx, tool, lang)
            out["comparison"] = info
    else:  # UNKNOWN_COMMAND
        text = say("unknown_command", lang, command=arg)
        emit(ErrorEvent(code="unknown_command", message=text))
        out["error"] = "unknown_command"
    stream_text(text)
    return {"answer": text, **out}
