"""`python -m tutor llm serve`: llama.cpp's OpenAI-compatible server over the local GGUF,
as a real subprocess, used through the tutor's own `openai` backend (langchain-openai)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from contextlib import contextmanager

import pytest
from langchain_core.messages import HumanMessage
from pydantic import BaseModel, Field

from tests.conftest import ROOT
from tutor.llm.base import ToolCalling


@contextmanager
def served(*args: str, timeout: float = 300):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "tutor", "llm", "serve", "--port", "0", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = ""
        for line in proc.stdout:  # the first line announces the address once the model is loaded
            if line.startswith("serving"):
                break
        m = re.search(r"serving (\S+) at (http://127\.0\.0\.1:\d+/v1)", line)
        assert m, f"no address announced: {line!r} (exit {proc.poll()})"
        yield m.group(1), m.group(2), proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=60) == 0  # Ctrl-C/TERM stops it cleanly
        finally:
            if proc.poll() is None:
                proc.kill()


def _openai(url: str, model: str, **settings):
    from tutor.llm import get_llm
    from tutor.settings import Settings

    return get_llm(Settings(llm_backend="openai", llm_base_url=url, llm_max_tokens=48, llm_temperature=0,
                            **settings), model=model)


def test_the_openai_backend_streams_from_the_served_smollm2():
    with served("--model", "smollm2") as (name, url, _):
        assert name == "smollm2-135m-instruct"
        models = json.loads(urllib.request.urlopen(url + "/models", timeout=10).read())
        assert name in json.dumps(models)
        chat, caps = _openai(url, name)
        assert caps.model == "smollm2-135m-instruct" and not caps.generative_answers  # the table, not the server
        pieces = [c.content for c in chat.stream([HumanMessage("Name one optimizer used to train neural networks.")])]
        assert len([p for p in pieces if p]) >= 3 and "".join(pieces).strip()


def test_a_non_loopback_address_needs_an_api_key():
    r = subprocess.run([sys.executable, "-m", "tutor", "llm", "serve", "--host", "0.0.0.0", "--model", "smollm2"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env={k: v for k, v in os.environ.items() if k != "TUTOR_LLM_API_KEY"})
    assert r.returncode == 1 and "needs an API key" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "tutor", "llm", "serve", "--port", "70000"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--port" in r.stderr


class RunCnn(BaseModel):
    """Train the CNN image classifier on MNIST."""

    epochs: int | None = Field(None, ge=1, le=50, description="number of training epochs")


@pytest.mark.slow
def test_the_served_qwen_answers_and_calls_tools_through_the_openai_backend():
    """The same GGUF and template behind HTTP: llama.cpp returns no native tool_calls (the
    model writes JSON, not <tool_call> tags), so the table marks the served Qwen `json` and
    the openai backend parses and validates the JSON like the embedded backend does."""
    with served() as (name, url, _):
        assert name == "qwen2.5-coder-1.5b-instruct"
        chat, caps = _openai(url, name)
        assert caps.tool_calling is ToolCalling.JSON and caps.generative_answers
        text = "".join(c.content for c in chat.stream([HumanMessage("Что такое эпоха обучения? Одно предложение.")]))
        assert re.search(r"[а-яё]{4,}", text.lower())
        system = ("You are a deep-learning tutor. Use a function only when the student asks you to train or run "
                  "something. For a question, answer in plain text without JSON.")
        reply = chat.bind_tools([RunCnn]).invoke([("system", system), ("human", "запусти cnn на 3 эпохи")])
        assert [(c["name"], c["args"].get("epochs")) for c in reply.tool_calls] == [("RunCnn", 3)], (reply.content, reply.invalid_tool_calls)
        bad = chat.bind_tools([RunCnn]).invoke([("system", system), ("human", "запусти cnn на 500 эпох")])
        assert not bad.tool_calls and "maximum" in bad.invalid_tool_calls[0]["error"]
