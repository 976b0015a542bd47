"""Writing a turn's events: nodes stream typed events through LangGraph's custom stream writer."""

from __future__ import annotations

import re

from langgraph.config import get_stream_writer

from tutor.agent.events import TokenEvent


def emit(event) -> None:
    get_stream_writer()(event)


def stream_text(text: str, size: int = 24) -> None:
    """Deterministic answers are streamed as tokens too, so every client renders one way."""
    buf = ""
    for w in re.split(r"(\s+)", text):
        buf += w
        if len(buf) >= size:
            emit(TokenEvent(text=buf))
            buf = ""
    if buf:
        emit(TokenEvent(text=buf))
