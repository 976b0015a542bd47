"""Chat model backends behind LangChain's BaseChatModel, each with declared capabilities
(from the per-model table in `tutor.llm.catalog`)."""

from tutor.llm.base import LLMCapabilities, LLMUnavailable, ToolCalling, get_llm

__all__ = ["LLMCapabilities", "LLMUnavailable", "ToolCalling", "get_llm"]
