"""The first node: what the message asks for. Slash commands are deterministic; an upload is
a prediction; a course question goes to a tool-calling LLM when the backend has one (it may
search, plan, run, compare and read runs across steps), else to retrieval + answer."""

from __future__ import annotations

from langgraph.runtime import Runtime

from tutor.agent.context import TurnContext
from tutor.agent.intents import Intent, IntentKind
from tutor.agent.router import asks_for_action, route as route_rules
from tutor.agent.state import TurnState

# what an LLM may take over from the rules: free-text requests, never slash commands or uploads
LLM_MAY_PLAN = (IntentKind.QUESTION, IntentKind.EXPERIMENT, IntentKind.COMPARE, IntentKind.STATUS, IntentKind.JOBS)


def images(state: TurnState) -> list[dict]:
    return [a for a in state.get("attachments") or [] if str(a.get("mime", "")).startswith("image/")]


async def route(state: TurnState, runtime: Runtime[TurnContext]) -> dict:
    ctx = runtime.context
    intent = route_rules(state["message"])
    if images(state) and intent.kind in (IntentKind.QUESTION, IntentKind.EMPTY):
        intent = Intent(kind=IntentKind.PREDICT, reason="upload")
    elif intent.kind in LLM_MAY_PLAN and intent.reason != "slash" and ctx.can_call_tools and not ctx.plan_only and \
            (intent.kind != IntentKind.QUESTION or ctx.loop_for_questions or asks_for_action(state["message"])) and \
            not (intent.kind == IntentKind.QUESTION and ctx.homework_item(state["message"])):
        # (a question about an open homework item takes the checked retrieve → hint path, not the agent's own answer)
        intent = Intent(kind=IntentKind.AGENT, tool=intent.tool, reason=f"llm (rules said {intent.kind.value})")
    return {"intent": intent}


def next_node(state: TurnState) -> str:
    kind = state["intent"].kind
    if kind == IntentKind.QUESTION:
        return "retrieve"
    if kind == IntentKind.AGENT:
        return "agent"
    if kind == IntentKind.EXPERIMENT:
        return "plan"
    if kind == IntentKind.PREDICT:
        return "predict"
    return "command"
