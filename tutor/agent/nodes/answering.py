"""The answer to a course question from the retrieved passages: generative when the model
can write grounded answers in the question's language, extractive otherwise; hint mode for
homework; a polite refusal off topic and an honest "not found"."""

from __future__ import annotations

import asyncio
import logging

from langgraph.runtime import Runtime

from tutor.agent import answer as ans
from tutor.agent.context import TurnContext
from tutor.agent.events import AnswerCheck, AnswerStyle, DroppedSentence, TokenEvent
from tutor.agent.state import TurnState
from tutor.agent.streaming import emit, stream_text

log = logging.getLogger(__name__)


async def answer(state: TurnState, runtime: Runtime[TurnContext]) -> dict:
    from tutor.agent.generation import AnswerResult, write_answer

    ctx = runtime.context
    message, lang, hits, mode = state["message"], state["language"], state.get("hits") or [], state["mode"]
    q = state.get("query") or message
    norm = ctx.normalize(q)
    topics = ctx.services.topics()
    if ans.is_off_topic(hits, q, norm):
        text = ans.off_topic_answer(lang, topics)
        stream_text(text)
        return {"answer": text, "sources": [], "answer_style": AnswerStyle.OFF_TOPIC}
    if not ans.is_relevant(hits, q, norm):
        text = ans.not_covered_answer(lang, topics)
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
    asked = message if not state.get("follow_up") else f"{message} ({q})"
    # a follow-up («объясни проще», «приведи пример») is not answered with the quotes it follows
    said = next((t for r, t in reversed(state.get("history") or []) if r == "assistant"), "") \
        if state.get("follow_up") else ""
    index = ctx.index
    embedder = getattr(index, "embedder", None)
    writer = ctx.writer(lang)
    if writer is not None:
        strong = ans.is_strongly_relevant(hits, q, norm)
        said_not_covered = []

        def fallback(reason: str) -> str:
            if not strong and not hint and ("do not cover" in reason or "unsupported" in reason
                                            or reason == "no supported claim"):
                # the model says the materials do not cover it, or could write nothing they support, and
                # retrieval agrees only weakly: say so rather than quote loosely related text
                said_not_covered.append(reason)
                return ans.not_covered_answer(lang, topics)
            return ans.hint_answer(q, hits, lang, embedder, index) if hint else \
                ans.extractive_answer(q, hits, lang, embedder, said=said, request=message)

        result = None
        try:
            async for piece in write_answer(asked, hits, lang, writer, "hint" if hint else "explain",
                                           state.get("history") or [], bool(state.get("follow_up")), embedder,
                                           getattr(index, "normalizer", None), fallback,
                                           min(ctx.settings.llm_max_tokens, 400)):
                if isinstance(piece, AnswerResult):
                    result = piece
                elif piece:
                    emit(TokenEvent(text=piece))
        except Exception as e:  # the backend broke mid-answer: what was not shown is answered extractively
            log.warning("LLM failed, answering extractively: %s", e)
            result = None
        if result is not None:
            check = AnswerCheck(reason=result.reason, kept_claims=result.kept_claims, raw=result.raw[:2000],
                                dropped=[DroppedSentence(text=d.text, reason=d.reason) for d in result.dropped])
            if said_not_covered and result.style == "extractive":
                return {"answer": result.text, "sources": [], "answer_style": AnswerStyle.NOT_COVERED, "check": check, **done}
            if result.text.strip():
                style = AnswerStyle.HINT if hint else AnswerStyle(result.style) if result.style in \
                    {s.value for s in AnswerStyle} else AnswerStyle.GENERATIVE
                return {"answer": note + result.text, "answer_style": style, "homework": hint, "check": check, **done,
                        "llm_failed": result.reason.startswith("LLM error"),  # the UI says the model is down
                        "timings": {k: float(v) for k, v in (result.timings or {}).items()
                                    if isinstance(v, (int, float))}}
        failed = result is None
    else:
        failed = False
    if hint:
        text = await asyncio.to_thread(ans.hint_answer, q, hits, lang, embedder, index)
    else:
        text = await asyncio.to_thread(ans.extractive_answer, q, hits, lang, embedder, said=said, request=message)
    stream_text(text)
    return {"answer": note + text, "answer_style": AnswerStyle.HINT if hint else AnswerStyle.EXTRACTIVE, "homework": hint,
            "llm_failed": failed, **done}
