"""Any OpenAI-compatible server (vLLM, Ollama, llama.cpp server, OpenAI) via langchain-openai.
The recommended production backend: docker-compose runs vLLM with an instruct model."""

from __future__ import annotations

from tutor.llm.base import LLMCapabilities, LLMUnavailable


def make_openai(st, model: str | None):
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as e:
        raise LLMUnavailable("the openai backend needs `pip install langchain-openai`") from e
    if not st.llm_base_url and not st.llm_api_key:
        raise LLMUnavailable("the openai backend needs TUTOR_LLM_BASE_URL (vLLM/Ollama/...) or TUTOR_LLM_API_KEY")
    name = model or "Qwen/Qwen2.5-7B-Instruct"
    chat = ChatOpenAI(model=name, base_url=st.llm_base_url, api_key=st.llm_api_key or "not-needed",
                      temperature=st.llm_temperature, max_tokens=st.llm_max_tokens, timeout=120, max_retries=1,
                      streaming=True)
    caps = LLMCapabilities(name=f"openai:{name}", tool_calling=True, json_schema=True, languages=("ru", "en"),
                           context_size=32768, generative_answers=True)
    return chat, caps
