"""The tutor's LangGraph graph.

    START → route ─┬─ question ──→ retrieve → answer ─┐
                   ├─ experiment / confirm → experiment┤
                   ├─ upload ──────────→ predict ──────┤
                   └─ command / jobs / status / … → command ─→ finish → END

Nodes stream typed events through LangGraph's custom stream writer; `finish` persists
the turn and emits the final event. Routing is rule-based (router.py) and falls back to
the LLM's tool calling only when the backend declares reliable tool calls.
"""

from __future__ import annotations

from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph


class TurnState(TypedDict, total=False):
    thread_id: str
    user: str
    message: str
    mode: str
    language: str
    attachments: list[dict[str, Any]]
    plan_only: bool
    intent: dict[str, Any]
    hits: list[Any]
    query: str  # the standalone question retrieval used (a follow-up rewritten from the thread)
    history: list[Any]  # (role, text) of the thread's last question turns
    follow_up: bool
    answer: str
    sources: list[dict[str, Any]]
    job_id: str | None
    data: dict[str, Any]


def build_graph(service) -> Any:
    """Compile the graph; node bodies live on `service` (tutor.agent.service.TutorService)."""
    g = StateGraph(TurnState)
    g.add_node("route", service.node_route)
    g.add_node("retrieve", service.node_retrieve)
    g.add_node("answer", service.node_answer)
    g.add_node("experiment", service.node_experiment)
    g.add_node("predict", service.node_predict)
    g.add_node("command", service.node_command)
    g.add_node("finish", service.node_finish)

    def after_route(state: TurnState) -> str:
        kind = state["intent"]["kind"]
        if kind == "question":
            return "retrieve"
        if kind in ("experiment", "confirm"):
            return "experiment"
        if kind == "predict":
            return "predict"
        return "command"

    g.add_edge(START, "route")
    g.add_conditional_edges("route", after_route, ["retrieve", "experiment", "predict", "command"])
    g.add_edge("retrieve", "answer")
    for node in ("answer", "experiment", "predict", "command"):
        g.add_edge(node, "finish")
    g.add_edge("finish", END)
    return g.compile()
