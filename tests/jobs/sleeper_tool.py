"""A test-only tool for queue semantics: emits `steps` Progress events `step_s` apart,
and can crash or hang on request. Registered through TUTOR_EXTRA_TOOLS."""

from __future__ import annotations

import time
from pathlib import Path

from pydantic import Field

from tools.common import Log, Progress, RunDir, Started, ToolConfig, finish, null_emit

PRESETS = {"smoke": {"steps": 2, "step_s": 0.05}, "quick": {"steps": 5, "step_s": 0.2}, "full": {"steps": 50, "step_s": 1.0}}
METRIC = "value"


class Config(ToolConfig):
    steps: int = Field(5, ge=1, le=10_000, description="Progress events to emit.")
    step_s: float = Field(0.2, ge=0.0, le=60.0, description="Seconds between events.")
    crash: bool = Field(False, description="Raise an error halfway.")
    label: str = Field("", max_length=64, description="Free text recorded in the log (ordering tests).")


def run(cfg: Config, emit=null_emit, out_dir=None):
    t0 = time.perf_counter()
    rd = RunDir(out_dir, "sleeper", emit)
    emit(Started(tool="sleeper", config=cfg.model_dump(), device="cpu", total_steps=cfg.steps))
    emit(Log(message=f"start {cfg.label} {time.time():.6f}"))
    for i in range(1, cfg.steps + 1):
        time.sleep(cfg.step_s)
        if cfg.crash and i > cfg.steps // 2:
            raise RuntimeError("sleeper crashed on purpose")
        emit(Progress(step=i, total=cfg.steps, unit="step", metrics={"value": float(i)}))
    Path(rd.file("out.txt")).write_text(cfg.label or "done")
    rd.register("out.txt", "text")
    return finish("sleeper", cfg, emit, rd, {"value": float(cfg.steps)}, [{"step": i} for i in range(cfg.steps)], "cpu", t0)
