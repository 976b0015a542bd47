"""Chat model backends behind LangChain's BaseChatModel, each with declared capabilities."""

from tutor.llm.base import LLMCapabilities, LLMUnavailable, get_llm

__all__ = ["LLMCapabilities", "LLMUnavailable", "get_llm"]
