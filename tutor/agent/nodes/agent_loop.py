"""The tool-calling agent loop: model ↔ tools across several steps of one turn.

    agent ─┬─ tool calls ─→ tools ─┬─ (runs to confirm) → confirm (interrupt) → runs ─→ agent
           │                       ├─ (runs, no confirmation needed) ──────────→ runs ─→ agent
           │                       └─────────────────────────────────────────────────→ agent
           └─ an answer (or the step limit) → END

The model sees the tools' schemas (natively or as JSON it writes, see tutor/llm); every call
is validated against its schema and executed by the tools node over the services. Runs are
planned first and confirmed once per step when any is costly — and always when the student's
own message did not ask for an experiment (text from retrieved passages never starts a run
unasked). When the model fails, the turn falls back to the rule path's answer."""

from __future__ import annotations

import asyncio
import json
import logging
import re

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.graph import END
from langgraph.runtime import Runtime
from pydantic import ValidationError

from tutor.agent import answer as ans
from tutor.agent.context import TurnContext
from tutor.agent.events import AnswerStyle, ErrorEvent, ToolCallEvent
from tutor.agent.intents import IntentKind
from tutor.agent.planning import PlanRejected, describe_plans, plan_experiment, unsupported_note
from tutor.agent.prompts import FINAL_ANSWER_NUDGE, agent_system
from tutor.agent.router import asks_for_run, route as route_rules, runs_asked_for
from tutor.agent.runs import run_plans
from tutor.agent.state import TurnState
from tutor.agent.streaming import emit, stream_text
from tutor.agent.tools import agent_tools, langchain_tools

log = logging.getLogger(__name__)

MAX_STEPS = 6  # model calls per turn: search → plan → run ×2 → compare → answer fits


def _prompt(state: TurnState, final: bool = False) -> list:
    lang = state["language"]
    msgs = [SystemMessage(content=agent_system(lang))]
    for role, text in (state.get("history") or [])[-4:]:
        msgs.append(HumanMessage(content=text[:1500]) if role == "user" else AIMessage(content=text[:1500]))
    msgs.append(HumanMessage(content=state["message"]))
    msgs += list(state.get("messages") or [])
    if final:
        msgs.append(HumanMessage(content=FINAL_ANSWER_NUDGE[lang]))
    return msgs


def _looks_like_call(text: str) -> bool:
    return bool(re.match(r"\s*(\{|```|<tool_call>|\[\s*\{)", text))


async def _invoke(chat, msgs, stream: bool):
    """The model's reply; its text is streamed as tokens unless it starts like a tool call."""
    from tutor.agent.events import TokenEvent

    reply, shown, buf = None, False, ""
    async for chunk in chat.astream(msgs):
        reply = chunk if reply is None else reply + chunk
        piece = chunk.content if isinstance(chunk.content, str) else ""
        if not stream or not piece or getattr(reply, "tool_call_chunks", None):
            continue
        buf += piece
        if not shown and len(buf) < 12:
            continue
        if not shown and _looks_like_call(buf):
            stream = False
            continue
        emit(TokenEvent(text=buf if not shown else piece))
        shown = True
    return reply, shown


async def agent(state: TurnState, runtime: Runtime[TurnContext]) -> dict:
    ctx = runtime.context
    steps = state.get("steps") or 0
    final = steps >= MAX_STEPS
    chat = ctx.chat if final else ctx.chat.bind_tools(langchain_tools(agent_tools()))
    # a course question's answer is shown only once it is known to cite the passages, and a run
    # request's only once a tool was used (see _ungrounded_course_answer, _ignored_run_request);
    # other replies stream as they come
    rules = route_rules(state["message"]).kind  # what the rules read, once per model call
    live = rules not in (IntentKind.QUESTION, *NEEDS_A_TOOL)
    try:
        reply, shown = await _invoke(chat, _prompt(state, final), stream=live)
    except Exception as e:  # a broken model: answer like a backend without tools
        log.warning("agent model failed, falling back to the rule path: %s", e)
        return await _fallback(state, runtime)
    if reply is None:
        return await _fallback(state, runtime)
    reply = AIMessage(content=reply.content if isinstance(reply.content, str) else "",
                      tool_calls=list(getattr(reply, "tool_calls", None) or []),
                      invalid_tool_calls=list(getattr(reply, "invalid_tool_calls", None) or []))
    if (reply.tool_calls or reply.invalid_tool_calls) and not final:
        for call in reply.tool_calls:
            emit(ToolCallEvent(name=call["name"], args=call.get("args") or {}))
        return {"messages": [reply], "steps": steps + 1}
    text = ans.drop_unknown_citations(reply.content.strip(), len(state.get("sources") or []))
    if not text or _ungrounded_course_answer(text, state, rules) or _ignored_run_request(state, rules):
        return await _fallback(state, runtime)
    text = _with_run_numbers(text, state)
    if not shown:
        stream_text(text)
    elif text != reply.content.strip():
        stream_text(text[len(reply.content.strip()):])
    return {"messages": [reply], "answer": text, "answer_style": AnswerStyle.GENERATIVE, "steps": steps + 1}


def _used_tools(state: TurnState) -> bool:
    return any(isinstance(m, ToolMessage) for m in state.get("messages") or [])


def _ungrounded_course_answer(text: str, state: TurnState, rules: IntentKind) -> bool:
    """A course question answered from the model's own memory: it called no tool at all, or it
    searched the course and then cited none of the passages. A small model's memory is where
    invented facts come from, so such an answer is replaced by the rule path's retrieve →
    checked answer. Answers from other tools (runs, statuses, lists) and commands are kept."""
    if rules != IntentKind.QUESTION:
        return False
    if not _used_tools(state):
        return True
    return bool(state.get("sources")) and not state.get("reports") and not re.search(r"\[\d+\]", text)


NEEDS_A_TOOL = (IntentKind.EXPERIMENT, IntentKind.STATUS, IntentKind.JOBS, IntentKind.COMPARE)


def _ignored_run_request(state: TurnState, rules: IntentKind) -> bool:
    """The rules read a request only a tool can answer (a run: «обучи детектор smoke с порогом 0.3»;
    a run's status: "what happened in my last run?"; a list; a comparison) and the model answered
    in words without calling any tool ("I don't have any information about your last run"): the
    rule path answers it instead."""
    return rules in NEEDS_A_TOOL and not _used_tools(state)


def _with_run_numbers(text: str, state: TurnState) -> str:
    """The numbers of a run come from the run: when the model's phrasing left the report's
    figures out, the deterministic report is appended to it."""
    reports = state.get("reports") or []
    missing = [r for r in reports
               if not all(n in text for n in (re.findall(r"\d+\.\d+", r) or re.findall(r"\b\d+\b", r))[:2])]
    return text + "".join("\n\n---\n" + r for r in missing)


async def _fallback(state: TurnState, runtime: Runtime[TurnContext]) -> dict:
    """The rule path's answer for this message (retrieval + extractive/generative answer, or a command)."""
    from tutor.agent.nodes import answering, commands, retrieval

    intent = route_rules(state["message"])
    if state.get("reports"):  # runs were made or read in this turn: their reports are the answer, never a re-plan
        text = "\n\n---\n".join(state["reports"])
        stream_text(text)
        return {"answer": text, "answer_style": AnswerStyle.REPORT}
    if intent.kind == IntentKind.QUESTION:
        found = await retrieval.retrieve(state, runtime)
        return {**found, **await answering.answer({**state, **found, "intent": intent}, runtime), "intent": intent}
    if intent.kind == IntentKind.EXPERIMENT:  # the rule path's plan → confirm → run
        return {"intent": intent, "next_step": "plan"}
    return {**await commands.command({**state, "intent": intent}, runtime), "intent": intent}


def after_agent(state: TurnState) -> str:
    if state.get("next_step") == "plan":
        return "plan"
    last = (state.get("messages") or [None])[-1]
    if isinstance(last, AIMessage) and (last.tool_calls or last.invalid_tool_calls) and not state.get("answer"):
        return "tools"
    return END


async def tools(state: TurnState, runtime: Runtime[TurnContext]) -> dict:
    """Execute the last reply's tool calls; plan its run calls and ask once if needed."""
    ctx, lang = runtime.context, state["language"]
    last: AIMessage = state["messages"][-1]
    available = agent_tools()
    out: list[ToolMessage] = []
    update: dict = {}
    work = {**state}
    runs: list[tuple[dict, object]] = []  # (call, plan)
    ran = {_run_key(j.tool, j.config): j.id for j in state.get("turn_runs") or []}
    runs_asked = runs_asked_for(state["message"])
    allowed = runs_asked - len(state.get("turn_runs") or [])
    refused_before = any(isinstance(m, ToolMessage) and str(m.content).startswith("Rejected:")
                         for m in state.get("messages") or [])
    for bad in last.invalid_tool_calls:
        out.append(ToolMessage(content=f"Invalid call ({bad.get('error') or 'bad arguments'}). Check the tool's "
                                       "arguments and call it again.", tool_call_id=bad.get("id") or "invalid"))
    for call in last.tool_calls:
        tool = available.get(call["name"])
        if tool is None:
            out.append(ToolMessage(content=f"Unknown tool {call['name']}. Tools: {', '.join(available)}.",
                                   tool_call_id=call["id"]))
            continue
        try:
            args = tool.args.model_validate(call.get("args") or {}).model_dump()
        except ValidationError as e:
            out.append(ToolMessage(content=f"Invalid arguments: {e.errors()[0]['msg']} at "
                                           f"{'.'.join(map(str, e.errors()[0]['loc']))}.", tool_call_id=call["id"]))
            continue
        if tool.name == "run_experiment":
            preset, params = args.get("preset"), dict(args.get("params") or {})
            if not refused_before:  # after a refusal the model's corrected values are its answer to it
                preset, params = _as_the_student_wrote(state["message"], args["tool"], preset, params)
            try:
                plan = await asyncio.to_thread(plan_experiment, args["tool"], preset, params, settings=ctx.settings,
                                               lang=lang, policy=ctx.policy)
            except PlanRejected as e:
                emit(ErrorEvent(code=e.code, message=e.message))
                out.append(ToolMessage(content=f"Rejected: {e.message}", tool_call_id=call["id"]))
                continue
            key = _run_key(plan.tool, plan.config)
            if key in ran or any(_run_key(p.tool, p.config) == key for _, p in runs):
                # a small model repeats a call it already made: the same config runs once per turn
                done = f" as job {ran[key]}: its results are above" if key in ran else " in this reply"
                out.append(ToolMessage(content=f"This exact run was already started{done}. Do not start it again; "
                                               "answer the student.", tool_call_id=call["id"]))
                continue
            if len(runs) >= allowed:
                # more runs than the student's message asked for: not started, the model is told why
                done = ", ".join(j.id for j in state.get("turn_runs") or []) or "none yet"
                out.append(ToolMessage(content=f"Not started: the student asked for {runs_asked} "
                                               f"run(s) in this message (done: {done}). Answer with the results; "
                                               "suggest other settings instead of running them.",
                                       tool_call_id=call["id"]))
                continue
            runs.append((call, plan))
            continue
        try:
            result = await tool.run(ctx, work, **args)
        except Exception as e:  # a tool's failure is the model's information, not the turn's end
            log.warning("tool %s failed: %s", tool.name, e)
            result_text, result_update = f"The tool failed: {type(e).__name__}.", {}
        else:
            result_text, result_update = result.text, result.update
        work.update(result_update)
        update.update(result_update)
        out.append(ToolMessage(content=result_text[:4000], tool_call_id=call["id"]))
    update["messages"] = out
    if not runs:
        return update
    plans = [p for _, p in runs]
    asked = asks_for_run(state["message"])
    if not asked:  # the student did not ask for a run in this message: never start one unasked
        plans = [p.model_copy(update={"needs_confirmation": True}) for p in plans]
    for p in plans:
        emit(p.planned_event())
    update["plans"] = plans
    update["pending_calls"] = [c for c, _ in runs]
    if any(p.needs_confirmation for p in plans):
        text = describe_plans(plans, lang)
        stream_text(text)
        update.update(answer=text, answer_style=AnswerStyle.REPORT, next_step="confirm")
    else:
        update.update(approved=True, next_step="runs")
    return update


def _as_the_student_wrote(message: str, tool: str, preset: str | None, params: dict) -> tuple[str | None, dict]:
    """The preset and parameters the student's own message names win over the model's reading
    of them: a 1.5B model turns «-3 эпохи» into epochs=3 and «по-быстрому» into quick, or leaves
    «порог 0.3» out. The rule extractor reads them deterministically; a sweep's values stay the
    model's (one run per value), and nothing is added for another tool than the one called."""
    intent = route_rules(message)
    if intent.kind != IntentKind.EXPERIMENT or intent.tool != tool:
        return preset, params
    return intent.preset or preset, {**params, **(intent.params or {})}


def _run_key(tool: str, config: dict) -> str:
    return tool + json.dumps(config, sort_keys=True, default=str)


def after_tools(state: TurnState) -> str:
    return {"confirm": "confirm", "runs": "runs"}.get(state.get("next_step") or "", "agent")


async def runs(state: TurnState, runtime: Runtime[TurnContext]) -> dict:
    """Submit and follow the confirmed runs; their reports become the run calls' results."""
    calls = state.get("pending_calls") or []
    if not state.get("approved"):
        msgs = [ToolMessage(content="The student declined; nothing was run.", tool_call_id=c["id"]) for c in calls]
        return {"messages": msgs, "plans": [], "pending_calls": [], "next_step": None, "answer": ""}
    result = await run_plans(runtime.context, state["plans"], state["language"])
    text = unsupported_note(state["plans"], state["language"]) + result.pop("answer")
    msgs = [ToolMessage(content=text[:4000], tool_call_id=c["id"]) for c in calls]
    known = list(state.get("sources") or [])
    sources = known + [s for s in result.pop("sources", []) if s not in known]
    return {**result, "messages": msgs, "sources": sources, "reports": list(state.get("reports") or []) + [text],
            "turn_runs": list(state.get("turn_runs") or []) + list(result.get("jobs") or []),
            "plans": [], "pending_calls": [], "next_step": None, "answer": ""}
