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
        index = ctx.index
        hits = await asyncio.to_thread(index.search, query, k or ctx.settings.search_k)
    except Exception as e:
        log.warning("retrieval failed: %s", e)
        return []
    return ans.prefer_language(hits, lang, index)


async def retrieve(state: TurnState, runtime: Runtime[TurnContext]) -> dict:
    """A follow-up («а зачем?», "how do I fix it?") is first rewritten into a standalone question
    from the thread (the LLM, bounded, with a rule fallback: tutor/agent/followup.py)."""
    from tutor.agent.followup import standalone_query

    ctx, q, lang = runtime.context, state["message"], state.get("language") or "ru"
    history = state.get("history") or []
    norm = ctx.normalize(q)
    query, how = await standalone_query(q, history, ctx.writer(lang), lang,
                                        course_words=norm.course_words if norm is not None else None)
    hits = await search(ctx, query, lang)
    sources = ans.make_sources(hits)
    if hits:
        emit(SourcesEvent(query=query, sources=sources))
    return {"hits": hits, "sources": [s.model_dump() for s in sources], "query": query, "follow_up": how != "as_is"}
