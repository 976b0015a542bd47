"""Retrieval for a course question: hybrid search over the turn's course (shared material plus
the course's own), the question's language preferred."""

from __future__ import annotations

import asyncio
import logging

from langgraph.runtime import Runtime

from tutor.agent import answer as ans
from tutor.agent.context import TurnContext
from tutor.agent.events import SourcesEvent
from tutor.agent.state import TurnState
from tutor.agent.streaming import emit

log = logging.getLogger(__name__)


async def search(ctx: TurnContext, query: str, lang: str, k: int | None = None) -> list:
    try:
        # the turn's course: the shared index fused with the course's own materials (tutor/courses/search.py)
        hits = await asyncio.to_thread(ctx.index.search, query, k or ctx.settings.search_k)
    except Exception as e:
        log.warning("retrieval failed: %s", e)
        return []
    return ans.prefer_language(hits, lang)


async def retrieve(state: TurnState, runtime: Runtime[TurnContext]) -> dict:
    q = state["message"]
    hits = await search(runtime.context, q, state.get("language") or "ru")
    sources = ans.make_sources(hits)
    if hits:
        emit(SourcesEvent(query=q, sources=sources))
    return {"hits": hits, "sources": [s.model_dump() for s in sources]}
