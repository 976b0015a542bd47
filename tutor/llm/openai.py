"""Any OpenAI-compatible server (vLLM, Ollama, llama.cpp server, OpenAI) via langchain-openai.
The recommended production backend: docker-compose runs vLLM with an instruct model.

Tool calls the server returns are validated against the bound tools' schemas like the
embedded model's (`tutor.llm.tool_calls`); for a model whose table entry says it writes its
calls as JSON (the Qwen GGUF served by `python -m tutor llm serve`), or with
TUTOR_LLM_TOOL_CALLING=json, the JSON in the reply is parsed as well.
"""

from __future__ import annotations

from typing import Any

from tutor.llm.base import LLMUnavailable, ToolCalling


def _chat_class():
    from langchain_openai import ChatOpenAI

    class ValidatedToolsChatOpenAI(ChatOpenAI):
        """ChatOpenAI whose replies to a call with tools carry validated tool calls."""

        json_tool_calls: bool = False  # also parse calls the model wrote as JSON text

        def _checked(self, result, tools: Any):
            if tools:
                from tutor.llm.tool_calls import attach_tool_calls

                for gen in result.generations:
                    gen.message = attach_tool_calls(gen.message, tools, parse_text=self.json_tool_calls)
            return result

        def _get_request_payload(self, input_, *, stop=None, **kwargs):
            payload = super()._get_request_payload(input_, stop=stop, **kwargs)
            if self.json_tool_calls and payload.get("tools"):  # a small model reads the compact form
                from tutor.llm.tool_calls import prompt_specs

                payload["tools"] = prompt_specs(payload["tools"])
            return payload

        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            return self._checked(super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs),
                                 kwargs.get("tools"))

        async def _agenerate(self, messages, stop=None, run_manager=None, **kwargs):
            result = await super()._agenerate(messages, stop=stop, run_manager=run_manager, **kwargs)
            return self._checked(result, kwargs.get("tools"))

    return ValidatedToolsChatOpenAI


def make_openai(st, model: str | None):
    try:
        chat_cls = _chat_class()
    except ImportError as e:
        raise LLMUnavailable("the openai backend needs `pip install langchain-openai`") from e
    if not st.llm_base_url and not st.llm_api_key:
        raise LLMUnavailable("the openai backend needs TUTOR_LLM_BASE_URL (vLLM/Ollama/...) or TUTOR_LLM_API_KEY")
    from tutor.llm import catalog

    name = model or "Qwen/Qwen2.5-7B-Instruct"
    profile = catalog.lookup(name) or catalog.OPENAI_COMPATIBLE
    caps = catalog.capabilities(profile, st, "openai", name, context=st.llm_context or profile.context)
    chat = chat_cls(model=name, base_url=st.llm_base_url, api_key=st.llm_api_key or "not-needed",
                    temperature=st.llm_temperature, max_tokens=st.llm_max_tokens, timeout=120, max_retries=1,
                    # no `streaming=True`: stream()/astream() stream anyway, and with it set
                    # langchain-openai streams the tool-bound invoke() too, which then fails
                    disable_streaming="tool_calling",
                    json_tool_calls=caps.tool_calling is ToolCalling.JSON)
    return chat, caps
