"""An OpenAI-compatible HTTP server (`/v1/chat/completions`, `/v1/models`) over a local GGUF.

llama.cpp's own server through xllamacpp, with the same corrected chat template, threads
and context as the embedded backend. It exists to compare the embedded model with "the same
model behind an OpenAI-compatible server" (bench/, tests of the `openai` backend) and as a
small local endpoint for other tools. It binds to 127.0.0.1; any other address needs an API
key. A real deployment serves a strong model with vLLM instead (docker-compose `gpu`).
"""

from __future__ import annotations

import ipaddress
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tutor.llm.base import LLMUnavailable

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class LocalServer:
    """`with LocalServer.start(settings) as srv: srv.base_url` — the model is loaded while
    the object lives; `stop()` frees it and closes the port."""

    base_url: str
    model: str  # the name /v1/models reports and requests may use
    threads: int
    n_ctx: int
    path: str
    _server: Any = field(default=None, repr=False)

    @classmethod
    def start(cls, st, model: str | None = None, host: str = "127.0.0.1", port: int = 0,
              api_key: str | None = None, n_ctx: int | None = None, threads: int | None = None) -> "LocalServer":
        if not _is_loopback(host) and not api_key:
            raise LLMUnavailable(f"serving on {host} (not a loopback address) needs an API key (--api-key or "
                                 "TUTOR_LLM_API_KEY)")
        from tutor.llm.llamacpp import choose_threads, make_llamacpp

        chat, caps = make_llamacpp(st, model, load=False)  # resolves the model, assembles a packaged one
        if chat.packaged_key:
            from tutor.llm.models import PACKAGED, verify_model

            verify_model(PACKAGED[chat.packaged_key], Path(chat.model_path))  # checked before every load
        try:
            import xllamacpp
        except ImportError as e:
            raise LLMUnavailable("serving needs `pip install xllamacpp`") from e
        ctx = n_ctx or chat.n_ctx
        nthreads = choose_threads(threads if threads is not None else chat.n_threads)
        name = caps.model if caps.model not in (None, "gguf") else Path(chat.model_path).stem
        p = xllamacpp.CommonParams()
        p.model.path = chat.model_path
        p.model_alias = {name}
        p.hostnames = [host]
        p.port = port
        p.n_ctx = ctx
        p.n_parallel = 1
        p.cpuparams.n_threads = nthreads
        p.cpuparams_batch.n_threads = nthreads
        p.no_extra_bufts = not chat.repack_weights
        p.cache_prompt = True
        p.cache_ram_mib = 256
        p.n_threads_http = 2
        p.ui = False
        p.warmup = False
        if api_key:
            p.api_keys = [api_key]
        if chat.chat_template:
            p.chat_template = chat.chat_template
        try:
            p.verbosity = -1
        except Exception:
            pass
        try:
            server = xllamacpp.Server(p)
        except Exception as e:
            raise LLMUnavailable(f"cannot start the server on {host}:{port}: {e}") from e
        return cls(base_url=server.listening_address.rstrip("/") + "/v1", model=name, threads=nthreads, n_ctx=ctx,
                   path=chat.model_path, _server=server)

    def stop(self) -> None:
        self._server = None  # the destructor stops llama.cpp's loop and its HTTP listener

    def __enter__(self) -> "LocalServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def serve_forever(st, model: str | None, host: str, port: int, api_key: str | None, n_ctx: int | None,
                  threads: int | None, announce=print) -> None:
    """Start, announce the base URL, and block until SIGINT/SIGTERM."""
    srv = LocalServer.start(st, model=model, host=host, port=port, api_key=api_key, n_ctx=n_ctx, threads=threads)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    announce(f"serving {srv.model} at {srv.base_url} (threads {srv.threads}, context {srv.n_ctx}); Ctrl-C stops")
    try:
        stop.wait()
    finally:
        srv.stop()
