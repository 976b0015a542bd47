"""Predictions of the pretrained vision models, kept for their owner.

DATA_DIR/artifacts/vision/<id>/ holds the drawn image and result.json (owner, model, the
prediction, the phrased answer). The API hands out the id and serves the files by id to the
owner only; no server path leaves this module's records."""

from __future__ import annotations

import json
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

ID = re.compile(r"^[0-9a-f]{32}$")  # uuid4 hex: the only ids we create, so nothing else can name a folder
IMAGE = "image.jpg"


class VisionResults:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def run(self, model: str, image, owner: str, options=None, lang: str = "ru") -> dict[str, Any]:
        """Predict, keep the drawing and the record; returns the record. Exceptions of
        tools.pretrained.predict (ImageError, ModelUnavailable, KeyError) pass through, leaving nothing."""
        from tools.pretrained import describe, get_model, lecture_files, predict

        spec = get_model(model)
        rid = uuid.uuid4().hex
        folder = self.root / rid
        try:
            pred = predict(model, image, options, out_dir=folder)
            Path(pred.image_path).rename(folder / IMAGE)
            record = {"id": rid, "owner": owner, "model": model, "task": spec.task, "created_at": time.time(),
                      "text": describe(pred, lang), "lectures": lecture_files(model), "query": spec.query,
                      "prediction": pred.model_dump(mode="json")}
            (folder / "result.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)  # a failed prediction leaves no half-written folder
            raise
        return record

    def get(self, rid: str) -> dict[str, Any] | None:
        if not ID.match(rid or ""):
            return None
        try:
            return json.loads((self.root / rid / "result.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def image(self, rid: str) -> Path | None:
        path = self.root / rid / IMAGE
        return path if ID.match(rid or "") and path.is_file() else None
