"""Generic helpers shared by every experiment tool: events, results, device, seeding,
timing and artifacts. Nothing model-specific lives here: each tool is one readable
file (Config -> Data -> Model -> Train/Eval -> run()), see tools/cnn.py.
"""

from __future__ import annotations

import json
import os
import platform
import random
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

# --------------------------------------------------------------------------------------
# Config base: every tool's Config derives from this, so unknown fields are rejected
# and every field carries bounds + a description (the same schema drives the API body,
# the LLM tool schema and the UI form).
# --------------------------------------------------------------------------------------


class ToolConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    seed: int = Field(0, ge=0, le=2**31 - 1, description="Random seed; a fixed seed on CPU gives identical runs.")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="Where to train: 'auto' picks CUDA when present, else CPU."
    )


# --------------------------------------------------------------------------------------
# Events: typed progress records passed to `emit`. They are JSON-serialisable so the job
# queue can store them and the API can stream them unchanged.
# --------------------------------------------------------------------------------------


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ts: float = Field(default_factory=time.time, description="Unix time of the event.")


class Started(_Event):
    type: Literal["started"] = "started"
    tool: str
    config: dict[str, Any]
    device: str
    total_steps: int | None = Field(None, description="Planned number of progress steps (epochs or env steps).")


class Progress(_Event):
    type: Literal["progress"] = "progress"
    step: int = Field(description="Current step (epoch number, optimisation step or env step).")
    total: int | None = Field(None, description="Total steps planned.")
    unit: str = Field("epoch", description="What a step is: 'epoch', 'step', 'episode'.")
    metrics: dict[str, float] = Field(default_factory=dict)


class Log(_Event):
    type: Literal["log"] = "log"
    message: str
    level: Literal["debug", "info", "warning", "error"] = "info"


class ArtifactSaved(_Event):
    type: Literal["artifact"] = "artifact"
    name: str = Field(description="File name inside the run directory.")
    path: str
    kind: Literal["image", "json", "checkpoint", "html", "text", "other"]


class Finished(_Event):
    type: Literal["finished"] = "finished"
    metrics: dict[str, float]
    wall_time_s: float


Event = Annotated[Union[Started, Progress, Log, ArtifactSaved, Finished], Field(discriminator="type")]
EVENT_ADAPTER: TypeAdapter = TypeAdapter(Event)
Emit = Callable[[Any], None]


def parse_event(data: dict[str, Any]):
    """Rebuild a typed event from its JSON form (as stored by the job queue)."""
    return EVENT_ADAPTER.validate_python(data)


def null_emit(event: Any) -> None:  # noqa: D401 - a sink that drops events
    """Drop events (used when a caller does not care about progress)."""


def print_emit(event: Any) -> None:
    """Human-readable progress on stderr for the CLI."""
    if isinstance(event, Progress):
        m = " ".join(f"{k}={v:.4g}" for k, v in event.metrics.items())
        tot = f"/{event.total}" if event.total else ""
        print(f"[{event.unit} {event.step}{tot}] {m}", file=sys.stderr, flush=True)
    elif isinstance(event, Log):
        print(f"[{event.level}] {event.message}", file=sys.stderr, flush=True)
    elif isinstance(event, Started):
        print(f"[started] {event.tool} on {event.device}", file=sys.stderr, flush=True)
    elif isinstance(event, ArtifactSaved):
        print(f"[artifact] {event.path}", file=sys.stderr, flush=True)
    elif isinstance(event, Finished):
        m = " ".join(f"{k}={v:.4g}" for k, v in event.metrics.items())
        print(f"[finished] {event.wall_time_s:.1f}s {m}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------


class Artifact(BaseModel):
    name: str
    path: str
    kind: Literal["image", "json", "checkpoint", "html", "text", "other"]
    size: int = 0


class Result(BaseModel):
    tool: str
    metrics: dict[str, float] = Field(description="Final metrics; the tool's main metric key is always present.")
    history: list[dict[str, float]] = Field(default_factory=list, description="Per-epoch/step metrics.")
    artifacts: list[Artifact] = Field(default_factory=list)
    samples: list[str] = Field(default_factory=list, description="Text samples (generated text, predictions).")
    config: dict[str, Any]
    seed: int
    device: str
    wall_time_s: float
    versions: dict[str, str]
    run_dir: str

    def artifact(self, name: str) -> Artifact | None:
        return next((a for a in self.artifacts if a.name == name), None)


# --------------------------------------------------------------------------------------
# Device, seeding, timing
# --------------------------------------------------------------------------------------


def pick_device(preference: str = "auto"):
    """torch.device for 'auto' | 'cpu' | 'cuda'; asking for CUDA without one is an error."""
    import torch

    if preference == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' was requested but no CUDA GPU is available")
    if preference == "cpu":
        return torch.device("cpu")
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch; on CPU this makes runs bit-identical."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def autocast(device):
    """bf16 autocast on CUDA (fast matmuls on tensor cores), a no-op context on CPU."""
    import contextlib

    import torch

    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


class Timer:
    """Wall-clock timer that uses CUDA events on the GPU (asynchronous kernels would
    otherwise make time.time() lie) and perf_counter on the CPU."""

    def __init__(self, device) -> None:
        self.cuda = getattr(device, "type", str(device)) == "cuda"

    def __enter__(self) -> "Timer":
        if self.cuda:
            import torch

            self._start = torch.cuda.Event(enable_timing=True)
            self._end = torch.cuda.Event(enable_timing=True)
            self._start.record()
        else:
            self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        if self.cuda:
            import torch

            self._end.record()
            torch.cuda.synchronize()
            self.seconds = self._start.elapsed_time(self._end) / 1000.0
        else:
            self.seconds = time.perf_counter() - self._t0


def versions() -> dict[str, str]:
    """Versions that matter for reproducing a run."""
    out = {"python": platform.python_version()}
    for mod in ("torch", "torchvision", "numpy", "transformers", "gymnasium"):
        m = sys.modules.get(mod)
        if m is not None:
            out[mod] = getattr(m, "__version__", "?")
    try:
        import torch

        if torch.cuda.is_available():
            out["cuda"] = torch.version.cuda or "?"
            out["gpu"] = torch.cuda.get_device_name(0)
    except Exception:  # pragma: no cover - torch always present in practice
        pass
    return out


# --------------------------------------------------------------------------------------
# Artifacts
# --------------------------------------------------------------------------------------


def default_run_dir(tool: str) -> Path:
    """DATA_DIR/artifacts/runs/<tool>-<utc timestamp>-<pid> (unique per process)."""
    from tutor.settings import get_settings

    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-%f")
    return Path(get_settings().artifacts_dir) / "runs" / f"{tool}-{stamp}-{os.getpid()}"


class RunDir:
    """A run's artifact folder; every saved file is announced through `emit` and
    collected for the Result."""

    def __init__(self, path: str | Path | None, tool: str, emit: Emit) -> None:
        self.path = Path(path) if path is not None else default_run_dir(tool)
        self.path.mkdir(parents=True, exist_ok=True)
        self.emit = emit
        self.artifacts: list[Artifact] = []

    def file(self, name: str) -> Path:
        return self.path / name

    def register(self, name: str, kind: str) -> Path:
        p = self.path / name
        self.artifacts = [a for a in self.artifacts if a.name != name]
        self.artifacts.append(Artifact(name=name, path=str(p), kind=kind, size=p.stat().st_size))
        self.emit(ArtifactSaved(name=name, path=str(p), kind=kind))
        return p

    def save_json(self, name: str, data: Any) -> Path:
        self.file(name).write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str))
        return self.register(name, "json")

    def save_figure(self, name: str, fig) -> Path:
        fig.savefig(self.file(name), dpi=110, bbox_inches="tight")
        import matplotlib.pyplot as plt

        plt.close(fig)
        return self.register(name, "image")

    def save_checkpoint(self, name: str, obj: Any) -> Path:
        import torch

        torch.save(obj, self.file(name))
        return self.register(name, "checkpoint")


def plt_figure(*args, **kwargs):
    """A matplotlib figure on the non-interactive Agg backend (safe in workers)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def plot_history(history: list[dict[str, float]], groups: dict[str, list[str]], x: str = "epoch"):
    """Learning curves: one subplot per group of metric keys, e.g.
    {"loss": ["train_loss", "val_loss"], "accuracy": ["val_accuracy"]}."""
    fig, axes = plt_figure(1, len(groups), figsize=(5 * len(groups), 3.6))
    axes = np.atleast_1d(axes)
    for ax, (title, keys) in zip(axes, groups.items()):
        for k in keys:
            pts = [(h.get(x, i + 1), h[k]) for i, h in enumerate(history) if k in h]
            if pts:
                xs, ys = zip(*pts)
                ax.plot(xs, ys, marker="o" if len(pts) < 30 else None, label=k)
        ax.set_title(title)
        ax.set_xlabel(x)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def finish(
    tool: str,
    cfg: ToolConfig,
    emit: Emit,
    run_dir: RunDir,
    metrics: dict[str, float],
    history: list[dict[str, float]],
    device,
    t0: float,
    samples: list[str] | None = None,
) -> Result:
    """Write metrics.json, emit Finished and build the Result (the common tail of run())."""
    metrics = {k: float(v) for k, v in metrics.items()}
    wall = time.perf_counter() - t0
    run_dir.save_json(
        "metrics.json",
        {"tool": tool, "metrics": metrics, "history": history, "config": cfg.model_dump(), "wall_time_s": wall},
    )
    emit(Finished(metrics=metrics, wall_time_s=wall))
    return Result(
        tool=tool,
        metrics=metrics,
        history=history,
        artifacts=list(run_dir.artifacts),
        samples=samples or [],
        config=cfg.model_dump(),
        seed=cfg.seed,
        device=str(device),
        wall_time_s=wall,
        versions=versions(),
        run_dir=str(run_dir.path),
    )


class MissingDataError(RuntimeError):
    """A dataset or weights package the user asked for is not installed / reachable.
    The message names what to install; tools never fall back to random data."""
