"""Backend selection and capabilities.

The agent adapts to what a model can do: a 135M model on a laptop answers
extractively and never picks tools; a 7B+ instruct model behind an OpenAI-compatible
server writes grounded answers and may use tool calling.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field

from langchain_core.language_models import BaseChatModel

from tutor.settings import Settings, get_settings


class LLMUnavailable(RuntimeError):
    """The configured chat model cannot be loaded or reached."""


@dataclass(frozen=True)
class LLMCapabilities:
    name: str
    tool_calling: bool = False  # reliable native tool calls
    json_schema: bool = False  # structured output that follows a JSON schema
    languages: tuple[str, ...] = ("en",)
    context_size: int = 2048
    generative_answers: bool = False  # good enough to write free-form grounded answers
    streaming: bool = True
    extra: dict = field(default_factory=dict)

    def speaks(self, lang: str) -> bool:
        return lang in self.languages


_cache: dict[tuple, tuple[BaseChatModel, LLMCapabilities]] = {}
_lock = threading.Lock()


def get_llm(settings: Settings | None = None, backend: str | None = None, model: str | None = None
            ) -> tuple[BaseChatModel | None, LLMCapabilities]:
    """(chat model, capabilities) for the configured backend; cached per process.
    backend 'none' gives (None, caps) and the agent answers purely extractively."""
    st = settings or get_settings()
    backend = backend or st.llm_backend
    model = model or st.llm_model
    key = (backend, model, st.llm_base_url)
    with _lock:
        if key in _cache:
            out = _cache[key]
        elif backend == "none":
            out = (None, LLMCapabilities(name="none", streaming=False, languages=("ru", "en")))
        elif backend == "llamacpp":
            from tutor.llm.llamacpp import make_llamacpp

            out = make_llamacpp(st, model)
        elif backend == "openai":
            from tutor.llm.openai import make_openai

            out = make_openai(st, model)
        elif backend == "hf":
            from tutor.llm.hf import make_hf

            out = make_hf(st, model)
        else:
            raise LLMUnavailable(f"unknown LLM backend '{backend}'")
        _cache.setdefault(key, out)
    chat, caps = out
    if st.llm_generative != "auto" and chat is not None:
        wanted = st.llm_generative == "on"
        if caps.generative_answers != wanted:
            caps = dataclasses.replace(caps, generative_answers=wanted)
    return chat, caps


def calls_tools(caps: LLMCapabilities) -> bool:
    """Whether the agent loop may give this model tools: native tool calls or JSON calls
    parsed from the reply (a bool in older capability tables, a mode name in newer ones)."""
    mode = getattr(caps.tool_calling, "value", caps.tool_calling)
    return mode not in (False, None, "none", "")
