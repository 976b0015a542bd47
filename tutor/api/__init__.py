"""FastAPI service: chat (JSON, SSE, OpenAI-compatible), search, tools, jobs, predictions."""
