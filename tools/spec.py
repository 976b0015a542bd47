"""What the rest of the tutor knows about a tool: one `SPEC = ToolSpec(...)` at the end of
each tool file (tools/cnn.py, tools/dqn.py, ...).

The agent, the job queue, the comparison and the UI read everything tool-specific from
here — the main metric per task with its direction and quality floor, the cost of a
config, the words students use for the tool and its parameters, what an uploaded file
means to it, and how to read a finished run — so adding a tool touches `tools/` only.
Importing a tool module for its spec imports no torch (the cost model imports it lazily).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Mapping


class Upload(str, Enum):
    """What an uploaded file means to a tool's `infer`."""

    NONE = "none"
    IMAGE = "image"
    TEXT = "text"


@dataclass(frozen=True)
class Metric:
    key: str
    higher_is_better: bool
    floor: float | None = None  # what the quick preset reaches at least on CPU; None: no absolute floor
    ru: str = ""
    en: str = ""

    def name(self, lang: str) -> str:
        return (self.ru if lang == "ru" else self.en) or self.key

    def meets_floor(self, value: float) -> bool | None:
        if self.floor is None:
            return None
        return value >= self.floor if self.higher_is_better else value <= self.floor

    def better(self, new: float, old: float) -> bool:
        return new > old if self.higher_is_better else new < old


@dataclass(frozen=True)
class Cost:
    """What a config will take. cpu_s/gpu_s: wall seconds on the reference machines (2 CPU
    cores; one datacenter GPU), calibrated against bench/experiments.py; memory_bytes: peak
    memory of the training process beyond the interpreter (weights, gradients, optimiser
    state, activations, data)."""

    cpu_s: float
    gpu_s: float
    parameters: int
    memory_bytes: int
    steps: int

    def seconds(self, on_gpu: bool) -> float:
        return self.gpu_s if on_gpu else self.cpu_s


@dataclass(frozen=True)
class ParamWord:
    """A phrase students use for a config value. With `value=None` the pattern's first group
    is the value ("порог уверенности 0.3" → score_threshold=0.3); otherwise the phrase sets
    `value` ("прогноз" → task="forecast"). Patterns match the lower-cased message."""

    field: str
    pattern: str
    value: Any = None


class FindingKind(str, Enum):
    SOLVED = "solved"  # the task's maximum is reached: nothing left to fit
    CONVERGED = "converged"
    STILL_IMPROVING = "still_improving"
    UNDERFIT = "underfit"
    OVERFIT = "overfit"
    GAP = "generalisation_gap"
    SPIKE = "spike"
    DIVERGED = "diverged"
    BALANCED = "balanced"  # GAN losses at the equilibrium
    COLLAPSE = "collapse"
    FLOOR = "floor"
    BASELINE = "baseline"
    NOTE = "note"


@dataclass(frozen=True)
class Finding:
    """One statement about a run, already phrased in both languages, with the numbers from the run."""

    kind: FindingKind
    ru: str
    en: str

    def text(self, lang: str) -> str:
        return self.ru if lang == "ru" else self.en


@dataclass(frozen=True)
class ToolSpec:
    name: str
    summary: str  # one English line: LLM tool descriptions, /help
    summary_ru: str
    theory_query: str  # retrieval query for the lecture sections that teach the concept
    lectures: tuple[str, ...]  # corpus files that teach it (cited after a run)
    mentions: tuple[str, ...]  # regexes naming the tool in a student's message (lower case)
    metrics: Mapping[str | None, Metric]  # by task; None is the default task
    estimate: Callable[[Any], Cost]  # Config -> Cost
    words: tuple[ParamWord, ...] = ()
    loss_keys: tuple[str, str] | None = ("train_loss", "val_loss")  # history keys of the learning curves
    upload: Upload = Upload.NONE
    upload_words: tuple[str, ...] = ()  # regexes that make an upload mean this tool
    findings: Callable[[dict, str], list[Finding]] | None = None  # tool-specific reading of a result
    next_step: Callable[[dict, list[Finding], str], str | None] | None = None  # one concrete next experiment
    describe_prediction: Callable[[dict, str], str] | None = None  # infer()'s output in words
    short_keys: tuple[str, ...] = ("task", "dataset", "epochs", "lr", "batch_size", "seed", "device")
    extra: Mapping[str, Any] = field(default_factory=dict)

    def metric(self, task: str | None = None) -> Metric:
        return self.metrics.get(task) or self.metrics.get(None) or next(iter(self.metrics.values()))

    def metric_for(self, config: Mapping[str, Any] | None) -> Metric:
        return self.metric((config or {}).get("task"))


# ---- helpers shared by the tools' findings -------------------------------------------------------

def series(history: list[dict], key: str) -> list[float]:
    return [float(h[key]) for h in history if h.get(key) is not None and math.isfinite(float(h[key]))]


def near(value: float, target: float, rel: float) -> bool:
    return abs(value - target) <= rel * abs(target)


LN2 = math.log(2.0)
