"""A local transformers causal LM (GPU when present) as a LangChain chat model, for users
who have weights on disk (or a hub connection)."""

from __future__ import annotations

import threading
from typing import Any, Iterator

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, PrivateAttr

from tutor.llm.base import LLMUnavailable
from tutor.llm.llamacpp import _to_openai


class HFChat(BaseChatModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    model_id: str
    max_tokens: int = 512
    temperature: float = 0.2
    _tok: Any = PrivateAttr(default=None)
    _model: Any = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "transformers"

    def _ensure(self):
        if self._model is None:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            try:
                self._tok = AutoTokenizer.from_pretrained(self.model_id)
                dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
                self._model = AutoModelForCausalLM.from_pretrained(self.model_id, dtype=dtype)
                if torch.cuda.is_available():
                    self._model = self._model.cuda()
            except Exception as e:
                raise LLMUnavailable(f"cannot load transformers model '{self.model_id}': {e}") from e
        return self._tok, self._model

    def _inputs(self, messages):
        tok, model = self._ensure()
        ids = tok.apply_chat_template(_to_openai(messages), add_generation_prompt=True, return_tensors="pt",
                                      return_dict=True)
        return {k: v.to(model.device) for k, v in ids.items()}

    def _gen_kwargs(self, **kw):
        t = kw.get("temperature", self.temperature)
        return {"max_new_tokens": kw.get("max_tokens", self.max_tokens), "do_sample": t > 0,
                **({"temperature": t} if t > 0 else {})}

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        tok, model = self._ensure()
        inputs = self._inputs(messages)
        out = model.generate(**inputs, **self._gen_kwargs(**kwargs))
        text = tok.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(self, messages: list[BaseMessage], stop=None, run_manager: CallbackManagerForLLMRun | None = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        from transformers import TextIteratorStreamer

        tok, model = self._ensure()
        inputs = self._inputs(messages)
        streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True)
        threading.Thread(target=model.generate, kwargs={**inputs, **self._gen_kwargs(**kwargs), "streamer": streamer},
                         daemon=True).start()
        for piece in streamer:
            if piece:
                yield ChatGenerationChunk(message=AIMessageChunk(content=piece))


def make_hf(st, model: str | None):
    if not model:
        raise LLMUnavailable("the hf backend needs TUTOR_LLM_MODEL (a Hugging Face id or a local path)")
    from tutor.llm import catalog

    profile = catalog.HF
    if st.llm_tool_calling not in ("auto", "none"):
        raise LLMUnavailable("the hf backend does not call tools; set TUTOR_LLM_TOOL_CALLING=auto or none")
    chat = HFChat(model_id=model, max_tokens=st.llm_max_tokens, temperature=st.llm_temperature)
    return chat, catalog.capabilities(profile, st, "hf", model, context=st.llm_context or profile.context)
