"""The JSON tool-call parser on what small models really write and on hostile text."""

from __future__ import annotations

import json
import time
from typing import Literal

import pytest
from langchain_core.messages import AIMessage
from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

from tutor.llm.tool_calls import (MAX_ARGS_CHARS, MAX_CALLS, attach_tool_calls, parse_tool_calls, prompt_specs,
                                  tool_specs, validate_args)


class RunCnnArgs(BaseModel):
    epochs: int | None = Field(None, ge=1, le=50, description="training epochs")
    lr: float | None = Field(None, gt=0, le=1, description="learning rate")
    preset: Literal["smoke", "quick", "full"] | None = Field(None, description="size of the run")


def _noop(**kw):
    return kw


RUN_CNN = StructuredTool.from_function(func=_noop, name="run_cnn", description="Train a CNN on MNIST",
                                       args_schema=RunCnnArgs)


class search_course(BaseModel):
    """Search the course materials."""

    query: str = Field(description="what to look for")


TOOLS = tool_specs([RUN_CNN, search_course])


def parse(text):
    return parse_tool_calls(text, TOOLS)


def calls(r):
    return [(c["name"], c["args"]) for c in r.tool_calls]


@pytest.mark.parametrize("text", [
    '{"name": "run_cnn", "arguments": {"epochs": 3}}',
    '```json\n{"name": "run_cnn", "arguments": {"epochs": 3}}\n```',
    '```\n{\n  "name": "run_cnn",\n  "arguments": {\n    "epochs": 3\n  }\n}\n```',
    '<tool_call>\n{"name": "run_cnn", "arguments": {"epochs": 3}}\n</tool_call>',
    '{"name": "run_cnn", "parameters": {"epochs": 3}}',
    '{"type": "function", "function": {"name": "run_cnn", "arguments": "{\\"epochs\\": 3}"}}',
    '{"name": "run_cnn", "epochs": 3}',  # flat arguments next to a known tool's name
    '{"name": "run_cnn", "arguments": {"epochs": "3"}}',  # a quoted number
    '```json\n```json\n{"name": "run_cnn", "arguments": {"epochs": 3}}\n```\n```',  # nested fences
    '{"name": "run_cnn", "arguments": {"properties": {"epochs": 3}, "type": "object"}}',  # echoes the schema's shape
])
def test_the_shapes_a_model_writes_become_one_valid_call(text):
    r = parse(text)
    assert calls(r) == [("run_cnn", {"epochs": 3})] and not r.invalid_tool_calls
    assert r.content == ""
    assert r.tool_calls[0]["id"].startswith("call_") and r.tool_calls[0]["type"] == "tool_call"


def test_text_around_the_call_stays_as_content():
    r = parse('Запускаю обучение.\n```json\n{"name": "run_cnn", "arguments": {"epochs": 3, "lr": 0.01}}\n```\nГотово!')
    assert calls(r) == [("run_cnn", {"epochs": 3, "lr": 0.01})]
    assert r.content == "Запускаю обучение.\n\nГотово!"


def test_several_calls_each_get_their_own_id():
    r = parse('{"name": "run_cnn", "arguments": {"epochs": 1}}\n{"name": "search_course", "arguments": '
              '{"query": "дропаут"}}\n[{"name": "run_cnn", "arguments": {"preset": "smoke"}}]')
    assert calls(r) == [("run_cnn", {"epochs": 1}), ("search_course", {"query": "дропаут"}),
                        ("run_cnn", {"preset": "smoke"})]
    assert len({c["id"] for c in r.tool_calls}) == 3


@pytest.mark.parametrize("text", [
    "Паддинг добавляет нули по краям входа.",
    'Пример JSON: {"name": "Alice", "age": 3}',  # JSON in an explanation, not a call
    'Конфиг: ```json\n{"epochs": 3, "lr": 0.01}\n```',
    "Формула: {W - K + 2P}/S + 1",
    "",
])
def test_a_plain_answer_has_no_calls_and_keeps_its_text(text):
    r = parse(text)
    assert not r.tool_calls and not r.invalid_tool_calls and r.content == text


@pytest.mark.parametrize("text, error", [
    ('{"name": "run_rnn", "arguments": {"epochs": 3}}', "unknown tool 'run_rnn'; available: run_cnn, search_course"),
    ('{"name": "run_cnn", "arguments": {"epochs": "three"}}', "epochs: 'three' is not of type 'integer'"),
    ('{"name": "run_cnn", "arguments": {"epochs": 300}}', "epochs: 300 is greater than the maximum of 50"),
    ('{"name": "run_cnn", "arguments": {"epochs": 2.5}}', "epochs: 2.5 is not of type 'integer'"),
    ('{"name": "run_cnn", "arguments": {"preset": "huge"}}', "preset: 'huge' is not one of"),
    ('{"name": "run_cnn", "arguments": {"epochs": 3, "optimizer": "adam"}}', "unexpected argument(s) 'optimizer'"),
    ('{"name": "run_cnn", "arguments": [3]}', "arguments must be a JSON object"),
    ('{"name": "run_cnn", "arguments": "epochs=3"}', "not valid JSON"),
    ('{"name": "search_course", "arguments": {}}', "'query' is a required property"),
    ('{"name": "run_cnn", "arguments": {"epochs": 3}', "the call is not valid JSON"),  # unbalanced
    ("{'name': 'run_cnn', 'arguments': {'epochs': 3}}", None),  # Python quotes: not JSON, not a call
])
def test_invalid_calls_are_reported_with_the_reason_and_never_returned_as_calls(text, error):
    r = parse(text)
    assert not r.tool_calls
    if error is None:
        assert not r.invalid_tool_calls
        return
    (bad,) = r.invalid_tool_calls
    assert error in bad["error"], bad
    assert bad["type"] == "invalid_tool_call" and bad["id"].startswith("call_") and isinstance(bad["args"], str)


def test_valid_and_invalid_calls_in_one_reply_are_separated():
    r = parse('{"name": "run_cnn", "arguments": {"epochs": 2}} {"name": "run_cnn", "arguments": {"epochs": -1}}')
    assert calls(r) == [("run_cnn", {"epochs": 2})]
    assert "minimum" in r.invalid_tool_calls[0]["error"]


def test_null_arguments_mean_not_given():
    r = parse('{"name": "run_cnn", "arguments": {"epochs": 3, "lr": null}}')
    assert calls(r) == [("run_cnn", {"epochs": 3})]


def test_huge_arguments_are_refused_and_truncated_in_the_report():
    big = "x" * (MAX_ARGS_CHARS + 10)
    r = parse(json.dumps({"name": "search_course", "arguments": {"query": big}}))
    assert not r.tool_calls and "too long" in r.invalid_tool_calls[0]["error"]
    assert len(r.invalid_tool_calls[0]["args"]) <= MAX_ARGS_CHARS


def test_the_number_of_calls_is_bounded():
    text = "\n".join('{"name": "run_cnn", "arguments": {"epochs": 1}}' for _ in range(MAX_CALLS * 5))
    r = parse(text)
    assert len(r.tool_calls) + len(r.invalid_tool_calls) == MAX_CALLS


@pytest.mark.parametrize("text", [
    "{" * 200_000,
    '{"a": "' + "{" * 100_000,
    '{"name": "run_cnn", "arguments": ' + "[" * 50_000 + "]" * 50_000 + "}",  # deep nesting
    "[" * 100_000,
    '{"name": "' + "run_cnn" * 20_000 + '", "arguments": {}}',
    "\x00\ufffd{\"name\": \"run_cnn\"\u202e, \"arguments\": {}}",
])
def test_hostile_text_is_parsed_quickly_without_errors(text):
    t0 = time.perf_counter()
    r = parse(text)
    assert time.perf_counter() - t0 < 2.0
    assert not r.tool_calls or all(c["name"] in ("run_cnn", "search_course") for c in r.tool_calls)
    for bad in r.invalid_tool_calls:
        assert len(bad["args"]) <= MAX_ARGS_CHARS and len(bad["name"] or "") <= 200


def test_native_calls_are_validated_the_same_way():
    native = [{"id": "abc", "type": "function", "function": {"name": "run_cnn", "arguments": '{"epochs": 4}'}},
              {"id": "def", "type": "function", "function": {"name": "run_cnn", "arguments": '{"epochs": 0}'}},
              {"id": "ghi", "type": "function", "function": {"name": "rm_rf", "arguments": "{}"}},
              "not a call"]
    r = parse_tool_calls("ignored text", TOOLS, native=native)
    assert calls(r) == [("run_cnn", {"epochs": 4})] and r.tool_calls[0]["id"] == "abc"
    assert [b["id"] for b in r.invalid_tool_calls][:2] == ["def", "ghi"]
    assert len(r.invalid_tool_calls) == 3 and r.content == "ignored text"


def test_attach_tool_calls_moves_invalid_native_calls_aside():
    msg = AIMessage(content="", tool_calls=[{"name": "run_cnn", "args": {"epochs": 999}, "id": "x"},
                                            {"name": "run_cnn", "args": {"epochs": 9}, "id": "y"}])
    out = attach_tool_calls(msg, TOOLS)
    assert [c["id"] for c in out.tool_calls] == ["y"] and out.invalid_tool_calls[0]["id"] == "x"
    text = AIMessage(content='{"name": "run_cnn", "arguments": {"epochs": 2}}')
    assert attach_tool_calls(text, TOOLS).tool_calls[0]["args"] == {"epochs": 2}
    assert attach_tool_calls(text, TOOLS, parse_text=False) is text  # native mode leaves text alone


def test_validate_args_coerces_only_clean_numbers():
    schema = TOOLS[0]["function"]["parameters"]
    assert validate_args({"epochs": " 7 ", "lr": "1e-3"}, schema) == ({"epochs": 7, "lr": 0.001}, None)
    assert validate_args({"epochs": "7 epochs"}, schema)[1]
    assert validate_args({}, schema) == ({}, None)


def test_prompt_specs_are_compact_but_keep_names_types_and_descriptions():
    full, compact = TOOLS[0], prompt_specs(TOOLS)[0]
    assert len(json.dumps(compact)) < len(json.dumps(full))
    props = compact["function"]["parameters"]["properties"]
    assert props["epochs"] == {"type": "integer", "description": "training epochs"}  # no bounds for the model to copy
    assert props["preset"]["enum"] == ["smoke", "quick", "full"]
    assert "anyOf" in full["function"]["parameters"]["properties"]["epochs"]  # validation keeps the full schema
    assert parse('{"name": "run_cnn", "arguments": {"epochs": 51}}').invalid_tool_calls  # and its bounds


def test_two_tools_with_one_name_are_refused():
    with pytest.raises(ValueError, match="two tools"):
        tool_specs([RUN_CNN, RUN_CNN])
