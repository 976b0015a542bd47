"""The llama.cpp backend: threads, messages, loading (checksum, locked port, context growth),
streaming and bind_tools, on the real packaged models (SmolLM2 loads in about a second;
the Qwen probes are slow)."""

from __future__ import annotations

import shutil
import time
import urllib.error
import urllib.request

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import BaseModel, Field

from tutor.llm.base import LLMUnavailable, ToolCalling
from tutor.llm.llamacpp import (LlamaCppChat, _tool_choice, busy_cores, choose_threads, make_llamacpp,
                                to_openai_messages)
from tutor.llm.models import ModelFileError
from tutor.settings import Settings


@pytest.mark.parametrize("requested, cores, busy, want", [
    (0, 2, 0.1, 2),  # an idle 2-core machine
    (0, 2, 0.7, 1),
    (0, 2, 1.2, 1),
    (0, 2, 7.5, 1),  # the shared machine under contention: one thread, never zero
    (0, 16, 4.2, 12),
    (3, 2, 7.5, 3),  # an explicit number wins
])
def test_threads_come_from_the_free_cores(requested, cores, busy, want):
    assert choose_threads(requested, cores=cores, busy=busy) == want


def test_busy_cores_is_measured():
    assert busy_cores(sample_s=0.05) >= 0.0
    assert choose_threads(0) >= 1


def test_messages_keep_tool_calls_and_results():
    msgs = [SystemMessage("sys"), HumanMessage([{"type": "text", "text": "запусти "}, {"type": "text", "text": "cnn"}]),
            AIMessage("", tool_calls=[{"name": "run_cnn", "args": {"epochs": 3}, "id": "c1"}],
                      invalid_tool_calls=[{"name": "run_x", "args": '{"a": 1}', "id": "c2", "error": "unknown",
                                           "type": "invalid_tool_call"}]),
            ToolMessage("job 123 queued", tool_call_id="c1"), ToolMessage("error: unknown tool", tool_call_id="c2")]
    out = to_openai_messages(msgs)
    assert [m["role"] for m in out] == ["system", "user", "assistant", "tool", "tool"]
    assert out[1]["content"] == "запусти cnn"
    calls = out[2]["tool_calls"]
    assert calls[0] == {"id": "c1", "type": "function", "function": {"name": "run_cnn", "arguments": '{"epochs": 3}'}}
    assert calls[1]["id"] == "c2" and calls[1]["function"]["arguments"] == '{"a": 1}'
    assert out[3]["tool_call_id"] == "c1" and out[4]["content"] == "error: unknown tool"


def test_tool_choice_values():
    specs = [{"type": "function", "function": {"name": n, "parameters": {}}} for n in ("a", "b")]
    assert _tool_choice(None, specs) == (specs, "auto")
    assert _tool_choice("any", specs)[1] == "required" and _tool_choice("none", specs)[1] == "none"
    assert _tool_choice("b", specs) == ([specs[1]], "required")
    assert _tool_choice({"type": "function", "function": {"name": "a"}}, specs) == ([specs[0]], "required")
    with pytest.raises(ValueError, match="not among the bound tools"):
        _tool_choice("c", specs)


def test_a_missing_or_non_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(LLMUnavailable, match="GGUF model not found"):
        make_llamacpp(Settings(), str(tmp_path / "nope.gguf"))
    with pytest.raises(LLMUnavailable, match="cannot be used as a model"):
        make_llamacpp(Settings(), "/etc/passwd")


def test_a_changed_packaged_file_is_refused_before_loading(smollm2_path, tmp_path):
    copy = tmp_path / "smollm2.gguf"
    shutil.copyfile(smollm2_path, copy)
    with open(copy, "r+b") as f:
        f.seek(5_000_000)
        f.write(b"\xde\xad\xbe\xef")
    chat = LlamaCppChat(model_path=str(copy), packaged_key="smollm2-135m-instruct")
    with pytest.raises(ModelFileError, match="does not match"):
        chat.invoke("hi")
    assert not chat.loaded["loaded"]


@pytest.fixture(scope="module")
def smollm2():
    chat, caps = make_llamacpp(Settings(llm_model="smollm2", llm_max_tokens=24, llm_temperature=0), "smollm2")
    yield chat, caps
    chat.unload()


def test_smollm2_is_the_low_ram_option_and_says_so(smollm2):
    chat, caps = smollm2
    assert caps.model == "smollm2-135m-instruct" and caps.tool_calling is ToolCalling.NONE
    assert not caps.generative_answers and caps.languages == ("en",)
    assert chat.loaded["loaded"] and chat.loaded["threads"] >= 1 and chat.loaded["n_ctx"] == 2048


def test_streaming_gives_tokens_then_timings(smollm2):
    chat, _ = smollm2
    chunks = list(chat.stream([HumanMessage("Name one optimizer used to train neural networks.")]))
    text = "".join(c.content for c in chunks)
    assert len([c for c in chunks if c.content]) >= 3 and text.strip()
    (last,) = [c for c in chunks if "timings" in c.response_metadata]
    assert last.response_metadata["timings"]["predicted_n"] >= 1 and chunks.index(last) >= len(chunks) - 2


def test_a_repeated_prefix_is_not_evaluated_again(smollm2):
    chat, _ = smollm2
    system = SystemMessage("You are a tutor for a deep-learning course. " * 20)
    chat.invoke([system, HumanMessage("What is dropout?")], max_tokens=4)
    second = chat.invoke([system, HumanMessage("What is padding?")], max_tokens=4)
    timings = second.response_metadata["timings"]
    assert timings["cache_n"] > 150 and timings["prompt_n"] < 40, timings  # only the new question


def test_the_http_port_llamacpp_opens_is_locked(smollm2):
    chat, _ = smollm2
    address = chat._server.listening_address
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(address + "/v1/models", timeout=5)
    assert e.value.code == 401


def test_a_consumer_that_stops_reading_frees_the_model(smollm2):
    chat, _ = smollm2
    stream = chat.stream([HumanMessage("Count from one to one hundred in words.")], max_tokens=400)
    next(stream)
    stream.close()
    t0 = time.monotonic()
    reply = chat.invoke([HumanMessage("Say OK.")], max_tokens=3)
    assert reply.content is not None and time.monotonic() - t0 < 60


def test_bound_tools_reach_the_model_and_the_reply_is_one_parsed_message(smollm2):
    chat, _ = smollm2

    class run_cnn(BaseModel):
        """Train a CNN on MNIST."""

        epochs: int = Field(1, ge=1, le=50)

    bound = chat.bind_tools([run_cnn])
    reply = bound.invoke([HumanMessage("Say hello.")])
    # SmolLM2's template has no tools section (hence tool_calling none in the table); the
    # Qwen tests below check the tools reach the prompt
    assert isinstance(reply, AIMessage) and reply.content
    for call in reply.tool_calls:  # whatever a 135M model writes, only valid calls come out
        assert call["name"] == "run_cnn" and 1 <= call["args"].get("epochs", 1) <= 50
    chunks = list(bound.stream([HumanMessage("Say hello.")]))
    assert len(chunks) == 1  # with tools bound the reply is parsed whole, not streamed
    with pytest.raises(ValueError):
        chat.bind_tools([run_cnn], tool_choice="run_rnn")


def test_the_context_grows_to_fit_a_long_prompt(smollm2_path):
    chat = LlamaCppChat(model_path=str(smollm2_path), packaged_key="smollm2-135m-instruct", n_ctx=256, max_ctx=2048,
                        max_tokens=8, temperature=0)
    try:
        long = "The convolution slides a kernel over the image. " * 60  # ~600 tokens
        reply = chat.invoke([HumanMessage(long + "What slides over the image?")])
        assert chat.loaded["n_ctx"] >= 1024 and reply.response_metadata["n_ctx"] == chat.loaded["n_ctx"]
        fixed = LlamaCppChat(model_path=str(smollm2_path), n_ctx=256, max_ctx=256, max_tokens=8)
        with pytest.raises(LLMUnavailable, match="does not fit the model's context"):
            fixed.invoke([HumanMessage(long)])
        fixed.unload()
    finally:
        chat.unload()


# ---- the embedded Qwen: real tool calls (slow) ------------------------------------------------

class RunCnn(BaseModel):
    """Train the CNN image classifier on MNIST."""

    epochs: int | None = Field(None, ge=1, le=50, description="number of training epochs")
    lr: float | None = Field(None, gt=0, le=1, description="learning rate")


class RunDqn(BaseModel):
    """Train a DQN agent on CartPole."""

    total_steps: int | None = Field(None, ge=100, le=1_000_000, description="environment steps")


ROUTER = ("You are a deep-learning tutor. Use a function only when the student asks you to train or run "
          "something, with only the parameters the student gave. For a question, answer in plain text without JSON.")
PROBES = [
    ("запусти cnn на 3 эпохи", ("RunCnn", {"epochs": 3})),
    ("обучи свёрточную сеть с lr 0.01", ("RunCnn", {"lr": 0.01})),
    ("train a DQN agent for 5000 steps", ("RunDqn", {"total_steps": 5000})),
    ("Что такое паддинг в свёрточной сети?", None),
    ("How does a target network make DQN stable?", None),
]


@pytest.fixture(scope="module")
def qwen():
    chat, caps = make_llamacpp(Settings(llm_max_tokens=96, llm_temperature=0), None)
    yield chat, caps
    chat.unload()


@pytest.mark.slow
def test_qwen_is_the_default_and_calls_tools_through_json(qwen):
    chat, caps = qwen
    assert caps.model == "qwen2.5-coder-1.5b-instruct" and caps.tool_calling is ToolCalling.JSON
    assert caps.generative_answers and caps.speaks("ru") and caps.speaks("en")
    bound = chat.bind_tools([RunCnn, RunDqn])
    chosen = asked_for = 0
    for text, want in PROBES:
        reply = bound.invoke([("system", ROUTER), ("human", text)])
        names = [c["name"] for c in reply.tool_calls]
        chosen += names == ([want[0]] if want else [])
        if want and names == [want[0]]:
            args = reply.tool_calls[0]["args"]  # it may add values nobody asked for; the agent filters them
            asked_for += all(args.get(k) == v for k, v in want[1].items())
        if want is None:  # a question: nothing to run (an invalid call would not run either)
            assert not reply.tool_calls, reply
    # measured: right tool or none 5/5, the requested values 3/3 (bench/RESULTS.md)
    assert chosen >= 4 and asked_for >= 2, (chosen, asked_for)


@pytest.mark.slow
def test_qwen_invalid_call_is_reported_not_executed(qwen):
    """Asked for more epochs than the schema allows, the model's call comes back as an
    invalid tool call with the reason, for the agent to show it."""
    chat, _ = qwen
    bound = chat.bind_tools([RunCnn])
    reply = bound.invoke([("system", ROUTER), ("human", "запусти cnn на 500 эпох")])
    assert not reply.tool_calls
    assert reply.invalid_tool_calls and "maximum" in reply.invalid_tool_calls[0]["error"]
