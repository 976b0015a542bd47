"""The real packaged GGUF (SmolLM2-135M-Instruct through llama.cpp) end to end: no fake
model. Marked slow (seconds here, but it loads a real model); CI runs it."""

import re

import pytest

from tests.agent.conftest import collect

pytestmark = pytest.mark.slow


def test_packaged_gguf_streams_tokens_and_declares_itself_small():
    from langchain_core.messages import HumanMessage

    from tutor.llm import get_llm
    from tutor.settings import Settings

    chat, caps = get_llm(Settings(llm_backend="llamacpp", llm_max_tokens=32))
    assert caps.name.startswith("llamacpp:") and "135m" in caps.name.lower()
    assert not caps.generative_answers and not caps.tool_calling  # a 135M model answers extractively
    pieces = [c.content for c in chat.stream([HumanMessage(content="Name one optimizer used to train neural networks.")])]
    assert len(pieces) >= 3 and "".join(pieces).strip()


async def test_embedded_default_answers_a_question_extractively(make_service):
    """`make run` defaults: the embedded model is loaded and the answer is the cited passage."""
    from tutor.llm import get_llm
    from tutor.settings import Settings

    svc = make_service(llm=get_llm(Settings(llm_backend="llamacpp")))
    events = await collect(svc, "Зачем нужен паддинг в свёрточной сети?")
    final = events[-1]
    assert final.type == "final" and final.data["answer_style"] == "extractive"
    assert "нули по краям" in final.answer and "[1]" in final.answer
    assert final.sources[0].source.endswith("04_cnn.md")


async def test_embedded_gguf_writes_a_grounded_answer_when_allowed(make_service):
    """TUTOR_LLM_GENERATIVE=on makes the small model write the answer itself: real tokens
    stream from llama.cpp, the sources still come from retrieval, and every citation left
    in the answer points at one of them."""
    from tutor.llm import get_llm
    from tutor.settings import Settings

    st = Settings(llm_backend="llamacpp", llm_generative="on", llm_max_tokens=80)
    svc = make_service(llm=get_llm(st), llm_max_tokens=80)
    events = await collect(svc, "Why does DQN use a target network?", thread="gguf")
    tokens = [e.text for e in events if e.type == "token"]
    final = events[-1]
    assert final.type == "final" and final.intent == "question"
    assert final.data["answer_style"] == "generative"
    assert len(tokens) >= 5 and final.answer.strip()
    assert final.sources and final.sources[0].source.endswith("17_rl.md")
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", final.answer)}
    assert cited <= {s.n for s in final.sources}
