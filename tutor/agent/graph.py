"""The tutor's LangGraph graph.

    START → route ─┬─ question ─────────→ retrieve → answer ─────────────┐
                   ├─ agent (tool-calling LLM) → agent ⇄ tools (→ confirm → runs) ┤
                   ├─ experiment → plan ─┬─ run ──────────────────────────┤
                   │                     ├─ confirm (interrupt) ─┬─ run ──┤
                   │                     │                       └ declined┤
                   │                     └───────────────────────────────┤
                   ├─ upload ──────────→ predict ──────────────────────────┤
                   └─ command / jobs / status / … → command ──────────────┴→ END

Nodes (tutor/agent/nodes/) stream typed events through LangGraph's custom stream writer and
return state updates; the service (tutor/agent/service.py) persists the turn and emits the
final event. The checkpointer keeps a thread's state while a confirmation is pending.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from tutor.agent.context import TurnContext
from tutor.agent.nodes import agent_loop, answering, commands, experiments, prediction, retrieval, routing
from tutor.agent.state import TurnState


def build_graph(checkpointer=None) -> Any:
    g = StateGraph(TurnState, context_schema=TurnContext)
    g.add_node("route", routing.route)
    g.add_node("retrieve", retrieval.retrieve)
    g.add_node("answer", answering.answer)
    g.add_node("agent", agent_loop.agent)
    g.add_node("tools", agent_loop.tools)
    g.add_node("runs", agent_loop.runs)
    g.add_node("plan", experiments.plan)
    g.add_node("confirm", experiments.confirm)
    g.add_node("run", experiments.run)
    g.add_node("declined", experiments.declined)
    g.add_node("predict", prediction.predict)
    g.add_node("command", commands.command)

    g.add_edge(START, "route")
    g.add_conditional_edges("route", routing.next_node, ["retrieve", "agent", "plan", "predict", "command"])
    g.add_edge("retrieve", "answer")
    g.add_conditional_edges("agent", agent_loop.after_agent, ["tools", "plan", END])
    g.add_conditional_edges("tools", agent_loop.after_tools, ["confirm", "runs", "agent"])
    g.add_edge("runs", "agent")
    g.add_conditional_edges("plan", experiments.after_plan, {"run": "run", "confirm": "confirm", "done": END})
    g.add_conditional_edges("confirm", experiments.after_confirm, ["run", "declined", "runs"])
    for node in ("answer", "run", "declined", "predict", "command"):
        g.add_edge(node, END)
    return g.compile(checkpointer=checkpointer)
