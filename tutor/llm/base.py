"""Backend selection and capabilities.

The agent adapts to what a model can do: a 135M model on a laptop answers extractively
and never picks tools; the embedded Qwen2.5-Coder-1.5B writes grounded answers and calls
tools through JSON objects it writes in its reply; a 7B+ instruct model behind an
OpenAI-compatible server (vLLM) calls tools natively. What each model can do comes from
the per-model table in `tutor.llm.catalog`, overridable by settings.
"""

from __future__ import annotations

import dataclasses
import enum
import threading
from dataclasses import dataclass, field

from langchain_core.language_models import BaseChatModel

from tutor.settings import Settings, get_settings


class LLMUnavailable(RuntimeError):
    """The configured chat model cannot be loaded or reached (the message says what to do)."""


class ToolCalling(str, enum.Enum):
    """How a backend's `bind_tools` gets tool calls out of the model.

    none:   it does not (the agent routes with rules);
    native: the server returns structured `tool_calls` (vLLM, OpenAI, ...);
    json:   the model writes a JSON object in its reply; `tutor.llm.tool_calls` parses it
            and validates it against the tool's schema (the embedded Qwen).

    Truthiness is "can call tools", so older `if caps.tool_calling:` checks keep working."""

    NONE = "none"
    NATIVE = "native"
    JSON = "json"

    def __bool__(self) -> bool:
        return self is not ToolCalling.NONE

    def __str__(self) -> str:
        return self.value

    @classmethod
    def of(cls, value: "ToolCalling | bool | str | None") -> "ToolCalling":
        if isinstance(value, cls):
            return value
        if value is None or value is False:
            return cls.NONE
        if value is True:  # the old boolean flag meant reliable native tool calls
            return cls.NATIVE
        return cls(str(value).lower())


@dataclass(frozen=True)
class LLMCapabilities:
    name: str
    tool_calling: ToolCalling = ToolCalling.NONE
    json_schema: bool = False  # structured output that follows a JSON schema
    languages: tuple[str, ...] = ("en",)
    context_size: int = 2048  # tokens the backend accepts per request (prompt + answer)
    generative_answers: bool = False  # good enough to write free-form grounded answers
    streaming: bool = True
    model: str | None = None  # catalog key of the model (None: not in the table)
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "tool_calling", ToolCalling.of(self.tool_calling))

    def speaks(self, lang: str) -> bool:
        return lang in self.languages

    @property
    def can_call_tools(self) -> bool:
        return bool(self.tool_calling)


_cache: dict[tuple, tuple[BaseChatModel | None, LLMCapabilities]] = {}
_lock = threading.Lock()


def _cache_key(st: Settings, backend: str, model: str | None) -> tuple:
    return (backend, model, st.llm_base_url, st.models_dir, st.llm_threads, st.llm_context, st.llm_repack_weights,
            st.llm_tool_calling, st.llm_max_tokens, st.llm_temperature)


def get_llm(settings: Settings | None = None, backend: str | None = None, model: str | None = None
            ) -> tuple[BaseChatModel | None, LLMCapabilities]:
    """(chat model, capabilities) for the configured backend; cached per process.

    backend 'none' gives (None, caps) and the agent answers purely extractively.
    The llamacpp default (no model set) is the packaged Qwen2.5-Coder-1.5B-Instruct,
    assembled into MODELS_DIR on first use; `model` may also be 'smollm2' (low RAM) or a
    GGUF path. Raises LLMUnavailable with a message that says what to do."""
    st = settings or get_settings()
    backend = backend or st.llm_backend
    model = model or st.llm_model
    key = _cache_key(st, backend, model)
    with _lock:
        if key in _cache:
            out = _cache[key]
        else:
            if backend == "none":
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
                raise LLMUnavailable(f"unknown LLM backend '{backend}' (use llamacpp, openai, hf or none)")
            _cache[key] = out
    chat, caps = out
    if st.llm_generative != "auto" and chat is not None:
        wanted = st.llm_generative == "on"
        if caps.generative_answers != wanted:
            caps = dataclasses.replace(caps, generative_answers=wanted)
    return chat, caps

