"""The state of one turn in the LangGraph graph. Every key is reset when a turn starts
(the checkpointer keeps a thread's last state only for a pending confirmation)."""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages

from tutor.agent.events import AnswerCheck, ComparisonInfo, ExperimentPlan, JobInfo, PredictionInfo
from tutor.agent.intents import Intent


class TurnState(TypedDict, total=False):
    message: str
    mode: str
    language: str
    attachments: list[dict[str, Any]]
    history: list[tuple[str, str]]  # (role, text) of the thread's last messages
    intent: Intent
    query: str | None  # the standalone question retrieval used (a follow-up rewritten from the thread)
    follow_up: bool
    check: AnswerCheck | None
    timings: dict[str, float]
    hits: list[Any]
    sources: list[dict[str, Any]]
    answer: str
    answer_style: str | None
    error: str | None
    homework: bool
    homework_item: str | None  # the course's homework item that forced hint mode (tutor/courses/policy.py)
    llm_failed: bool  # a generative model was asked and failed: the answer fell back to extractive
    plans: list[ExperimentPlan]
    approved: bool | None
    next_step: str | None  # where the experiment path goes after planning: run | confirm | done
    job: JobInfo | None
    jobs: list[JobInfo]
    comparison: ComparisonInfo | None
    prediction: PredictionInfo | None
    pending_calls: list[dict[str, Any]]  # the agent's run_experiment calls awaiting confirmation
    reports: list[str]  # deterministic reports of runs read or finished in this turn
    turn_runs: list[JobInfo]  # the jobs the agent loop started in this turn (a repeated identical call reuses one)
    messages: Annotated[list[AnyMessage], add_messages]  # the agent loop's model ↔ tool exchange
    steps: int


def fresh_state(message: str, mode: str, language: str, attachments: list[dict[str, Any]],
                history: list[tuple[str, str]]) -> dict[str, Any]:
    from langchain_core.messages import RemoveMessage
    from langgraph.graph.message import REMOVE_ALL_MESSAGES

    return {"message": message, "mode": mode, "language": language, "attachments": attachments, "history": history,
            "intent": None, "query": None, "follow_up": False, "check": None, "timings": {}, "hits": [], "sources": [], "answer": "", "answer_style": None, "error": None,
            "homework": False, "homework_item": None, "llm_failed": False, "plans": [], "approved": None, "next_step": None, "job": None, "jobs": [], "comparison": None,
            "prediction": None, "pending_calls": [], "reports": [], "turn_runs": [], "messages": [RemoveMessage(id=REMOVE_ALL_MESSAGES)], "steps": 0}
