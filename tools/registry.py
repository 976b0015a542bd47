"""Plain dict registry: tool name -> lazy entry point.

Importing this module imports no torch: a tool's module is loaded only when its spec,
config class, presets, `run` or `infer` is asked for (the modules import torch inside
their functions). Each tool module defines:

    Config(ToolConfig)            pydantic config, bounds + description on every field
    PRESETS: dict[str, dict]      at least "smoke", "quick", "full" (overrides of Config)
    run(cfg, emit, out_dir=None) -> Result
    infer(checkpoint, inputs) -> dict    (optional)
    SPEC: tools.spec.ToolSpec     everything else the tutor knows about it (metrics, cost,
                                  words, uploads, how to read a result)
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from tools.spec import Cost, Metric, ToolSpec


@dataclass(frozen=True)
class ToolEntry:
    name: str
    module: str
    fallback_description: str = ""  # for tools without a SPEC (test tools registered by TUTOR_EXTRA_TOOLS)

    def load(self):
        return importlib.import_module(self.module)

    @property
    def spec(self) -> ToolSpec:
        mod = self.load()
        spec = getattr(mod, "SPEC", None)
        if spec is None:  # a minimal spec for a tool that brings none: its main metric, a preset-sized cost
            metric = getattr(mod, "METRIC", "value")
            spec = ToolSpec(name=self.name, summary=self.fallback_description or f"the {self.name} experiment",
                            summary_ru=self.fallback_description or f"эксперимент {self.name}", theory_query=self.name,
                            lectures=(), mentions=(rf"\b{self.name}\b",), metrics={None: Metric(metric, True)},
                            estimate=lambda cfg: Cost(cpu_s=10.0, gpu_s=10.0, parameters=0, memory_bytes=0, steps=1),
                            loss_keys=None)
            mod.SPEC = spec
        return spec

    @property
    def description(self) -> str:
        return self.spec.summary

    @property
    def topic(self) -> str:
        return self.spec.theory_query

    def estimate(self, cfg) -> Cost:
        return self.spec.estimate(cfg)

    @property
    def config_cls(self):
        return self.load().Config

    @property
    def presets(self) -> dict[str, dict[str, Any]]:
        return self.load().PRESETS

    def metric(self, task: str | None = None) -> Metric:
        return self.spec.metric(task)

    @property
    def run(self) -> Callable:
        return self.load().run

    @property
    def infer(self) -> Callable | None:
        return getattr(self.load(), "infer", None)

    def base_preset(self, preset: str, task: Any = None) -> str:
        """The preset whose values a config starts from. quick is tuned for the tool's default
        task; a task with a preset of its own (gan task=dcgan) starts from that one, not from
        quick's 200 curve epochs."""
        if preset == "quick" and isinstance(task, str) and task in self.presets:
            return task
        return preset

    def make_config(self, preset: str | None = "quick", overrides: dict[str, Any] | None = None):
        """Preset values, then overrides, validated by the tool's Config (raises
        pydantic.ValidationError or KeyError for an unknown preset)."""
        values: dict[str, Any] = {}
        if preset:
            if preset not in self.presets:
                raise KeyError(f"unknown preset '{preset}' for tool '{self.name}'; choose one of {sorted(self.presets)}")
            values.update(self.presets[self.base_preset(preset, (overrides or {}).get("task"))])
        values.update(overrides or {})
        return self.config_cls(**values)


TOOLS: dict[str, ToolEntry] = {
    name: ToolEntry(name, f"tools.{name}")
    for name in ("cnn", "detection", "segmentation", "rnn", "transformer", "gan", "dqn")
}


def get_tool(name: str) -> ToolEntry:
    try:
        return TOOLS[name]
    except KeyError:
        raise KeyError(f"unknown tool '{name}'; available: {', '.join(TOOLS)}") from None


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """['epochs=3', 'lr=0.01', 'task=text'] -> {'epochs': 3, 'lr': 0.01, 'task': 'text'}.
    Values are read as JSON when they parse (numbers, true/false, lists), else as strings;
    the tool's Config then validates types and bounds."""
    import json

    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"expected key=value, got '{pair}'")
        key, raw = pair.split("=", 1)
        key = key.strip()
        if not key:
            raise ValueError(f"empty key in '{pair}'")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out
