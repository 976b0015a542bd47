"""A test-only experiment for the UI tests: a few epochs of a decreasing loss, a PNG of the
curve and a small checkpoint file, in well under a second. Registered through
TUTOR_EXTRA_TOOLS and run by the real job scheduler in a worker process, so the chat UI
renders exactly what a real run produces (progress, a plot, artifacts) without training."""

from __future__ import annotations

import time

import numpy as np
from PIL import Image
from pydantic import Field

from tools.common import Progress, RunDir, Started, ToolConfig, finish, null_emit

PRESETS = {"smoke": {"epochs": 3}, "quick": {"epochs": 5}, "full": {"epochs": 20}}
METRIC = "val_accuracy"


class Config(ToolConfig):
    epochs: int = Field(3, ge=1, le=50, description="Epochs of the fake training.")
    lr: float = Field(0.01, gt=0.0, le=1.0, description="Learning rate (scales the loss decrease).")


def run(cfg: Config, emit=null_emit, out_dir=None):
    t0 = time.perf_counter()
    rd = RunDir(out_dir, "curve", emit)
    emit(Started(tool="curve", config=cfg.model_dump(), device="cpu", total_steps=cfg.epochs))
    history = []
    for epoch in range(1, cfg.epochs + 1):
        loss = 1.0 / (1.0 + 10 * cfg.lr * epoch)
        history.append({"epoch": epoch, "train_loss": loss, "val_accuracy": 1.0 - loss / 2})
        emit(Progress(step=epoch, total=cfg.epochs, unit="epoch", metrics={"train_loss": loss}))
    img = np.full((60, 120, 3), 255, np.uint8)
    for i, h in enumerate(history):
        y = int(55 - 50 * h["train_loss"])
        img[max(0, y - 1):y + 2, 10 + i * 100 // max(1, len(history)):14 + i * 100 // max(1, len(history))] = (200, 30, 30)
    Image.fromarray(img).save(rd.file("learning_curves.png"))
    rd.register("learning_curves.png", "image")
    rd.file("model.pt").write_bytes(b"not a real checkpoint")
    rd.register("model.pt", "checkpoint")
    return finish("curve", cfg, emit, rd, {"val_accuracy": history[-1]["val_accuracy"], "train_loss": history[-1]["train_loss"]},
                  history, "cpu", t0)
