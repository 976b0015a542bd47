"""The answer to a course question from the retrieved passages: generative when the model
can write grounded answers in the question's language, extractive otherwise; hint mode for
homework; a polite refusal off topic and an honest "not found"."""

from __future__ import annotations

import asyncio
import logging

from langgraph.runtime import Runtime

from tutor.agent import answer as ans
from tutor.agent.context import TurnContext
from tutor.agent.events import AnswerStyle, TokenEvent
from tutor.agent.state import TurnState
from tutor.agent.streaming import emit, stream_text

log = logging.getLogger(__name__)


async def answer(state: TurnState, runtime: Runtime[TurnContext]) -> dict:
    ctx = runtime.context
    q, lang, hits, mode = state["message"], state["language"], state.get("hits") or [], state["mode"]
    if ans.is_off_topic(hits, q):
        text = ans.off_topic_answer(lang, ctx.services.topics())
        stream_text(text)
        return {"answer": text, "sources": [], "answer_style": AnswerStyle.OFF_TOPIC}
    if not ans.is_relevant(hits, q):
        text = ans.not_covered_answer(lang, ctx.services.topics())
        stream_text(text)
        return {"answer": text, "sources": [], "answer_style": AnswerStyle.NOT_COVERED}
    # courses: a homework item of the course before its deadline is answered with hints, whatever the mode
    item = await asyncio.to_thread(ctx.homework_item, q, hits)
    hint = item is not None or (mode == "hint" and ans.is_homework(q, hits))
    note = ""
    if item is not None:
        from tutor.courses.policy import hint_note

        note = hint_note(item, lang)
        stream_text(note)
    done = {"homework_item": item.id if item is not None else None}
    embedder = getattr(ctx.services.index, "embedder", None)
    chat, caps = ctx.chat, ctx.caps
    if chat is not None and caps.generative_answers and caps.speaks(lang):
        # room for the answer and the instructions; ~2.5 characters per token in ru/en
        budget = max(1000, int((caps.context_size - ctx.settings.llm_max_tokens - 400) * 2.5))
        msgs = ans.generation_messages(q, hits, lang, "hint" if hint else "explain", state.get("history"),
                                       max_passage_chars=budget)
        text, failed = "", False
        try:
            async for chunk in chat.astream(msgs):
                piece = chunk.content if isinstance(chunk.content, str) else ""
                if piece:
                    text += piece
                    if not hint:
                        emit(TokenEvent(text=piece))
        except Exception as e:
            log.warning("LLM failed, answering extractively: %s", e)
            text, failed = "", True
        if hint and text:
            text = ans.strip_code(text)
            stream_text(text)
        text = ans.drop_unknown_citations(text, len(hits))
        if text.strip():
            return {"answer": note + text, "answer_style": AnswerStyle.HINT if hint else AnswerStyle.GENERATIVE,
                    "homework": hint, **done}
    else:
        failed = False
    if hint:
        text = await asyncio.to_thread(ans.hint_answer, q, hits, lang, embedder)
    else:
        text = await asyncio.to_thread(ans.extractive_answer, q, hits, lang, embedder)
    stream_text(text)
    return {"answer": note + text, "answer_style": AnswerStyle.HINT if hint else AnswerStyle.EXTRACTIVE, "homework": hint,
            "llm_failed": failed, **done}
