"""Plain dict registry: tool name -> lazy entry point.

Importing this module imports no torch: a tool's module is loaded only when its
config class, presets, `run` or `infer` is asked for. Each tool module defines:

    Config(ToolConfig)            pydantic config, bounds + description on every field
    PRESETS: dict[str, dict]      at least "smoke", "quick", "full" (overrides of Config)
    METRIC: str                   the main metric key in Result.metrics
    run(cfg, emit, out_dir=None) -> Result
    infer(checkpoint, inputs) -> dict    (optional)
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class ToolEntry:
    name: str
    module: str
    description: str
    topic: str  # what the lecture pages about it are called: used to retrieve the theory

    def load(self):
        return importlib.import_module(self.module)

    @property
    def config_cls(self):
        return self.load().Config

    @property
    def presets(self) -> dict[str, dict[str, Any]]:
        return self.load().PRESETS

    @property
    def metric(self) -> str:
        return self.load().METRIC

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
    "cnn": ToolEntry(
        "cnn", "tools.cnn",
        "Image classification with a small CNN (BatchNorm, Dropout) on MNIST-family data, or transfer learning "
        "from an ImageNet MobileNetV2.",
        "свёрточные нейронные сети CNN классификация изображений",
    ),
    "detection": ToolEntry(
        "detection", "tools.detection",
        "Object detection on generated canvases with a compact anchor-free detector, NMS and mAP@0.5.",
        "детекция объектов YOLO NMS mAP",
    ),
    "segmentation": ToolEntry(
        "segmentation", "tools.segmentation",
        "Semantic segmentation with a U-Net on generated canvases; Dice/IoU metrics and mask overlays.",
        "семантическая сегментация U-Net IoU Dice",
    ),
    "rnn": ToolEntry(
        "rnn", "tools.rnn",
        "LSTM/GRU: course-text topic classification, or time-series forecasting against a seasonal-naive baseline.",
        "рекуррентные нейронные сети LSTM GRU временные ряды",
    ),
    "transformer": ToolEntry(
        "transformer", "tools.transformer",
        "Transformers: fine-tune a BERT-style encoder for text classification, or train/sample a GPT "
        "(pretrained vs from scratch).",
        "трансформеры GPT BERT self-attention",
    ),
    "gan": ToolEntry(
        "gan", "tools.gan",
        "GANs: a 1-D GAN learning y = sin(x)/x - x/10, or a DCGAN on MNIST-family digits.",
        "генеративно-состязательные сети GAN DCGAN",
    ),
    "dqn": ToolEntry(
        "dqn", "tools.dqn",
        "Deep Q-Network on CartPole-v1: replay buffer, target network, epsilon schedule.",
        "обучение с подкреплением DQN Q-learning",
    ),
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
