"""An experiment request on the rule path: plan (one run, or one per value of a swept
parameter), ask once when the cost is above the confirmation threshold — a LangGraph
interrupt, checkpointed, so the question survives a restart and only the student who asked
can answer it — then run, follow and report."""

from __future__ import annotations

import asyncio

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from tutor.agent.context import TurnContext
from tutor.agent.events import AnswerStyle, ErrorEvent
from tutor.agent.messages import say
from tutor.agent.planning import (PlanRejected, cost_text, describe_plans, plan_experiment, sweep_params,
                                  unsupported_note, where)
from tutor.agent.runs import run_plans
from tutor.agent.state import TurnState
from tutor.agent.streaming import emit, stream_text


async def plan(state: TurnState, runtime: Runtime[TurnContext]) -> dict:
    ctx, lang, it = runtime.context, state["language"], state["intent"]
    plans = []
    try:
        for params in sweep_params(it.params, it.sweep):
            p = await asyncio.to_thread(plan_experiment, it.tool, it.preset, params, settings=ctx.settings, lang=lang,
                                        unsupported=it.unsupported, explicit=it.explicit, policy=ctx.policy)
            plans.append(p)
    except PlanRejected as e:
        emit(ErrorEvent(code=e.code, message=e.message))
        stream_text(e.message)
        return {"answer": e.message, "error": e.code, "answer_style": AnswerStyle.REPORT, "next_step": "done"}
    for p in plans:
        emit(p.planned_event())
    if ctx.plan_only:
        text = "\n".join(say("plan", lang, tool=p.tool, preset=p.preset, where=where(p, lang),
                             duration=cost_text(p, lang), measures=", ".join(p.measures),
                             config=p.short_config()) for p in plans)
        text += ("\n" + unsupported_note(plans, lang)).rstrip()
        stream_text(text)
        return {"answer": text, "plans": plans, "answer_style": AnswerStyle.REPORT, "next_step": "done"}
    if any(p.needs_confirmation for p in plans):
        text = describe_plans(plans, lang)
        stream_text(text)
        return {"answer": text, "plans": plans, "answer_style": AnswerStyle.REPORT, "next_step": "confirm"}
    note = unsupported_note(plans, lang)  # said before the run's own text
    if note:
        stream_text(note)
    return {"plans": plans, "answer": note, "next_step": "run"}


def after_plan(state: TurnState) -> str:
    return state.get("next_step") or "done"


async def confirm(state: TurnState, runtime: Runtime[TurnContext]) -> dict:
    """Waits for the student's yes/no: the service resumes the graph with it, for the student
    who asked only (the checkpoint thread is per student)."""
    reply = interrupt({"owner": runtime.context.user, "plans": [p.model_dump() for p in state["plans"]]})
    return {"approved": bool(reply), "answer": ""}  # the question belonged to the previous turn


def after_confirm(state: TurnState) -> str:
    from tutor.agent.intents import IntentKind

    if state["intent"].kind == IntentKind.AGENT:
        return "runs"  # the agent loop reports the (declined or finished) runs to the model
    return "run" if state.get("approved") else "declined"


async def declined(state: TurnState, runtime: Runtime[TurnContext]) -> dict:
    text = say("declined", state["language"])
    stream_text(text)
    return {"answer": text, "plans": [], "answer_style": AnswerStyle.REPORT}


async def run(state: TurnState, runtime: Runtime[TurnContext]) -> dict:
    out = await run_plans(runtime.context, state["plans"], state["language"])
    stream_text(out["answer"])
    return {**out, "answer": (state.get("answer") or "") + out["answer"], "answer_style": AnswerStyle.REPORT}
