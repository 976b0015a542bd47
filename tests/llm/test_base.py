"""Capabilities, the typed tool-calling mode and backend selection."""

from __future__ import annotations

import pytest

from tutor.llm.base import LLMCapabilities, LLMUnavailable, ToolCalling, get_llm
from tutor.settings import Settings


def test_tool_calling_is_a_typed_mode_whose_truth_means_can_call_tools():
    assert [m.value for m in ToolCalling] == ["none", "native", "json"]
    assert not ToolCalling.NONE and ToolCalling.NATIVE and ToolCalling.JSON
    assert ToolCalling.of(True) is ToolCalling.NATIVE and ToolCalling.of(False) is ToolCalling.NONE
    assert ToolCalling.of("JSON") is ToolCalling.JSON and ToolCalling.of(None) is ToolCalling.NONE
    assert str(ToolCalling.JSON) == "json" and ToolCalling.JSON == "json"
    with pytest.raises(ValueError):
        ToolCalling.of("sometimes")


def test_capabilities_accept_the_old_boolean_flag():
    old = LLMCapabilities(name="x", tool_calling=True)
    assert old.tool_calling is ToolCalling.NATIVE and old.can_call_tools
    assert LLMCapabilities(name="y").tool_calling is ToolCalling.NONE
    assert not LLMCapabilities(name="y", tool_calling=False).can_call_tools
    caps = LLMCapabilities(name="z", tool_calling="json", languages=("ru", "en"))
    assert caps.tool_calling is ToolCalling.JSON and caps.speaks("ru") and not caps.speaks("de")


def test_backend_none_is_extractive_and_loads_nothing():
    chat, caps = get_llm(Settings(llm_backend="none"))
    assert chat is None and caps.name == "none" and not caps.tool_calling and not caps.generative_answers


def test_an_unknown_backend_is_a_clear_error():
    with pytest.raises(LLMUnavailable, match="unknown LLM backend 'gpt5'"):
        get_llm(Settings(), backend="gpt5")


def test_openai_backend_capabilities_come_from_the_table(monkeypatch):
    st = Settings(llm_backend="openai", llm_base_url="http://127.0.0.1:9/v1")
    chat, caps = get_llm(st, model="Qwen/Qwen2.5-7B-Instruct")
    assert caps.tool_calling is ToolCalling.NATIVE and caps.generative_answers and caps.model == "openai-compatible"
    _, caps = get_llm(st, model="qwen2.5-coder-1.5b-instruct")  # the embedded model served over HTTP
    assert caps.tool_calling is ToolCalling.JSON and caps.model == "qwen2.5-coder-1.5b-instruct"
    assert getattr(_, "json_tool_calls") is True
    st = Settings(llm_backend="openai", llm_base_url="http://127.0.0.1:9/v1", llm_tool_calling="none",
                  llm_generative="off", llm_context=8192)
    _, caps = get_llm(st, model="Qwen/Qwen2.5-7B-Instruct")
    assert caps.tool_calling is ToolCalling.NONE and not caps.generative_answers and caps.context_size == 8192


def test_openai_backend_without_an_endpoint_says_what_to_set():
    with pytest.raises(LLMUnavailable, match="TUTOR_LLM_BASE_URL"):
        get_llm(Settings(llm_backend="openai", llm_base_url=None, llm_api_key=None))


def test_hf_backend_declines_tool_calling_it_cannot_do():
    with pytest.raises(LLMUnavailable, match="does not call tools"):
        get_llm(Settings(llm_backend="hf", llm_tool_calling="json"), model="some/model")
    with pytest.raises(LLMUnavailable, match="needs TUTOR_LLM_MODEL"):
        get_llm(Settings(llm_backend="hf"))


def test_settings_defaults_select_the_embedded_qwen(monkeypatch, tmp_path):
    for k in ("TUTOR_LLM_BACKEND", "TUTOR_LLM_MODEL", "TUTOR_MODELS_DIR", "TUTOR_LLM_THREADS"):
        monkeypatch.delenv(k, raising=False)
    st = Settings(data_dir=tmp_path)
    assert st.llm_backend == "llamacpp" and st.llm_model is None and st.llm_threads == 0
    assert st.models_dir == tmp_path / "models" and st.llm_tool_calling == "auto" and st.llm_context == 0
    monkeypatch.setenv("TUTOR_LLM_TOOL_CALLING", "json")
    monkeypatch.setenv("TUTOR_LLM_MODEL", "smollm2")
    st = Settings(data_dir=tmp_path)
    assert st.llm_tool_calling == "json" and st.llm_model == "smollm2"
    monkeypatch.setenv("TUTOR_LLM_TOOL_CALLING", "always")
    with pytest.raises(ValueError):
        Settings(data_dir=tmp_path)
