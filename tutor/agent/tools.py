"""The tools a tool-calling LLM may use in a turn: docstring'd async functions over the
tutor's services, each with a pydantic argument schema (which also becomes the schema the
model sees). They run inside the graph's tools node with the turn's context; what they do
is checked there and in the services — a run's cost, its confirmation, the owner's quotas —
never left to the prompt.

`run_experiment` is special: the tools node plans every run call of a step first and asks
the student once (a LangGraph interrupt) before any of them is submitted."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Literal

from pydantic import BaseModel, Field, create_model

from tutor.agent.context import TurnContext

JOB_ID = r"^[0-9a-f]{8,32}$"


@dataclass
class ToolOutcome:
    """What a tool gives back: the text the model reads, and state updates for the turn."""

    text: str
    update: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AgentTool:
    name: str
    args: type[BaseModel]
    run: Callable[..., Awaitable[ToolOutcome]]

    @property
    def description(self) -> str:
        return (self.run.__doc__ or "").strip().split("\n\n")[0]


def _tool_names() -> tuple[str, ...]:
    from tools.registry import TOOLS

    return tuple(TOOLS)


def _experiment_args(name: str):
    tool = Literal[_tool_names()]  # type: ignore[valid-type]
    return create_model(
        name,
        tool=(tool, Field(description="The experiment: cnn, detection, segmentation, rnn, transformer, gan or dqn.")),
        preset=(Literal["smoke", "quick", "full"] | None,
                Field(None, description="smoke: seconds; quick: minutes on a CPU (default); full: GPU-scale.")),
        params=(dict[str, Any], Field(default_factory=dict, description="Config values the student named, e.g. "
                                                                        "{\"epochs\": 5, \"lr\": 0.01}.")),
    )


class SearchArgs(BaseModel):
    query: str = Field(min_length=1, max_length=500, description="What to look up in the course materials.")


class JobArgs(BaseModel):
    job_id: str | None = Field(None, pattern=JOB_ID, description="A job id; omit it for the student's latest run.")


class ModeArgs(BaseModel):
    mode: Literal["explain", "hint"] = Field(description="explain: full explanations; hint: guiding questions only.")


def _list_args():
    return create_model("ListRunsArgs", tool=(Literal[_tool_names()] | None, Field(None, description="Only this tool's runs.")))  # type: ignore[valid-type]


def _compare_args():
    return create_model(
        "CompareRunsArgs",
        tool=(Literal[_tool_names()], Field(description="The tool whose runs to compare.")),  # type: ignore[valid-type]
        job_ids=(list[str] | None, Field(None, max_length=20, description="Runs to compare; omit for all of the tool's.")),
    )


# ---- the tools ------------------------------------------------------------------------------------

async def search_course(ctx: TurnContext, state: dict, query: str) -> ToolOutcome:
    """Search the course materials (lectures, homework, schedule, grading). Returns numbered passages to cite as [n]."""
    from tutor.agent import answer as ans
    from tutor.agent.events import SourcesEvent
    from tutor.agent.nodes.retrieval import search
    from tutor.agent.streaming import emit

    lang = state["language"]
    hits = await search(ctx, query, lang)
    known = list(state.get("sources") or [])
    offset = len(known)
    sources = [s.model_copy(update={"n": s.n + offset}) for s in ans.make_sources(hits)]
    if not sources:
        return ToolOutcome("No passage of the course materials matches this query.")
    emit(SourcesEvent(query=query, sources=sources))
    blocks = [f"[{s.n}] ({s.source} — {s.section})\n{h.text[:700]}" for s, h in zip(sources, hits)]
    return ToolOutcome("\n\n".join(blocks), {"sources": known + [s.model_dump() for s in sources],
                                             "hits": list(state.get("hits") or []) + hits})


async def plan_experiment(ctx: TurnContext, state: dict, tool: str, preset: str | None = None,
                          params: dict | None = None) -> ToolOutcome:
    """Check an experiment without running it: the validated config, how long it takes, what it measures."""
    from tutor.agent.planning import PlanRejected, plan_experiment as plan

    lang = state["language"]
    try:
        p = await asyncio.to_thread(plan, tool, preset, params or {}, settings=ctx.settings, lang=lang,
                                    policy=ctx.policy)
    except PlanRejected as e:
        return ToolOutcome(f"Rejected: {e.message}")
    where = "GPU" if p.on_gpu else "CPU"
    extra = f" Not supported, not applied: {', '.join(p.unsupported)}." if p.unsupported else ""
    return ToolOutcome(f"{p.tool} preset {p.preset} on the {where}: about {p.estimate_s:.0f} s, "
                       f"{p.parameters:,} parameters; measures {', '.join(p.measures)}; config {p.short_config()}.{extra}"
                       f"{' Needs the student confirmation.' if p.needs_confirmation else ''}")


async def run_experiment(ctx: TurnContext, state: dict, tool: str, preset: str | None = None,
                         params: dict | None = None) -> ToolOutcome:
    """Start a training run (one call per setting when comparing) and wait for its result. Costly runs are confirmed by the student first."""
    raise RuntimeError("run_experiment is executed by the tools node (plans first, one confirmation)")


async def job_status(ctx: TurnContext, state: dict, job_id: str | None = None) -> ToolOutcome:
    """The status and progress of a job (the latest one when no id is given)."""
    from tutor.agent.events import JobInfo
    from tutor.agent.nodes.commands import find_job, job_line, latest_job

    job = await asyncio.to_thread(find_job, ctx, job_id) if job_id else await asyncio.to_thread(latest_job, ctx)
    if job is None:
        return ToolOutcome(f"No job {job_id or ''} of this student.".replace("  ", " "))
    text = job_line(job)
    if job.get("error"):
        text += f"\nReason: {job['error']}"
    return ToolOutcome(text, {"job": JobInfo.of(job)})


async def list_runs(ctx: TurnContext, state: dict, tool: str | None = None) -> ToolOutcome:
    """The student's runs, newest first (id, tool, status, main metrics)."""
    from tutor.agent.events import JobInfo
    from tutor.agent.nodes.commands import job_line

    jobs = await asyncio.to_thread(ctx.services.jobs.list, owner=ctx.user, tool=tool)
    if not jobs:
        return ToolOutcome("The student has no runs yet.")
    return ToolOutcome("\n".join(job_line(j) for j in jobs[:15]), {"jobs": [JobInfo.of(j) for j in jobs[:15]]})


async def compare_runs(ctx: TurnContext, state: dict, tool: str, job_ids: list[str] | None = None) -> ToolOutcome:
    """Compare finished runs of a tool: a table of their settings and main metric, and a parallel-coordinates plot."""
    from tutor.agent.nodes.commands import comparison

    if job_ids:
        job_ids = [j for j in job_ids if ctx.services.jobs.get_owned(j, ctx.user)]
    text, info = await comparison(ctx, tool, state["language"], job_ids=job_ids or None)
    if not info:
        return ToolOutcome(text)
    # the table's numbers come from the runs: kept with the answer whatever the model's phrasing
    return ToolOutcome(text, {"comparison": info, "reports": list(state.get("reports") or []) + [text]})


async def read_run(ctx: TurnContext, state: dict, job_id: str | None = None) -> ToolOutcome:
    """Read a run in depth: metrics, what its learning curves show, changes against the previous run, the failure reason."""
    from tutor.agent.events import JobInfo
    from tutor.agent.nodes.commands import find_job, latest_job
    from tutor.agent.runs import ended_text, report

    job = await asyncio.to_thread(find_job, ctx, job_id) if job_id else await asyncio.to_thread(latest_job, ctx)
    if job is None:
        return ToolOutcome("This student has no such run.")
    if job["status"] != "succeeded":
        return ToolOutcome(ended_text(job, state["language"]), {"job": JobInfo.of(job)})
    text, sources = await report(ctx, job, state["language"])
    known = list(state.get("sources") or [])
    return ToolOutcome(text, {"job": JobInfo.of(job), "reports": list(state.get("reports") or []) + [text],
                              "sources": known + [s for s in sources if s not in known]})


async def set_mode(ctx: TurnContext, state: dict, mode: str) -> ToolOutcome:
    """Switch the conversation between explanations (explain) and homework hints without solutions (hint)."""
    await asyncio.to_thread(ctx.services.threads.update, ctx.thread_id, mode=mode)
    return ToolOutcome(f"Mode is now {mode}.", {"mode": mode})


def agent_tools() -> dict[str, AgentTool]:
    return {t.name: t for t in (
        AgentTool("search_course", SearchArgs, search_course),
        AgentTool("plan_experiment", _experiment_args("PlanExperimentArgs"), plan_experiment),
        AgentTool("run_experiment", _experiment_args("RunExperimentArgs"), run_experiment),
        AgentTool("job_status", JobArgs, job_status),
        AgentTool("list_runs", _list_args(), list_runs),
        AgentTool("compare_runs", _compare_args(), compare_runs),
        AgentTool("read_run", JobArgs, read_run),
        AgentTool("set_mode", ModeArgs, set_mode),
    )}


def langchain_tools(tools: dict[str, AgentTool]) -> list:
    """The same tools as LangChain StructuredTools, for `chat_model.bind_tools(...)` (schemas only:
    they are executed by the graph's tools node, never by LangChain)."""
    from langchain_core.tools import StructuredTool

    def _never(**kwargs):  # pragma: no cover - execution goes through the tools node
        raise RuntimeError("executed by the tools node")

    return [StructuredTool.from_function(func=_never, name=t.name, description=t.description, args_schema=t.args)
            for t in tools.values()]
