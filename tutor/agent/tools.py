"""LangChain tools over the services: one `run_<tool>` per experiment (its argument schema
is the tool's pydantic Config plus a preset), course search and job status. They are
what a capable LLM may call; the offline model never sees them (rules route instead)."""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.tools import StructuredTool
from pydantic import Field, create_model


def _run_args_model(name: str):
    from tools.registry import get_tool

    cfg = get_tool(name).config_cls
    fields: dict[str, Any] = {}
    for fname, f in cfg.model_fields.items():
        # every parameter optional for the LLM: presets fill the rest
        fields[fname] = (f.annotation | None, Field(None, description=f.description))
    fields["preset"] = (Literal["smoke", "quick", "full"] | None,
                        Field(None, description="smoke: seconds, quick: ~minutes on CPU (default), full: GPU-scale"))
    return create_model(f"Run{name.capitalize()}Args", **fields)


def experiment_tool_schemas() -> list[StructuredTool]:
    from tools.registry import TOOLS

    out = []
    for name, entry in TOOLS.items():
        def _noop(**kwargs):  # execution goes through the job queue, never inside the LLM call
            return kwargs

        out.append(StructuredTool.from_function(
            func=_noop, name=f"run_{name}", description=f"Train/run the '{name}' experiment: {entry.description}",
            args_schema=_run_args_model(name)))
    return out
