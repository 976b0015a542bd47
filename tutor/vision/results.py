"""Predictions of the pretrained vision models, kept for their owner.

DATA_DIR/artifacts/vision/<id>/ holds the drawn image and result.json (owner, model, the
prediction, the phrased answer). The API (routes/vision.py) hands out the id and serves the
files by id to the owner only; chat uploads answered by `answer()` are kept the same way, so
the UI and the bots fetch their drawing from the same owner-checked URL. No server path leaves
this module's records."""

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


def image_url(rid: str) -> str:
    return f"/v1/vision/results/{rid}/image"


class VisionResults:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def run(self, model: str, image, owner: str, options=None, lang: str = "ru") -> dict[str, Any]:
        """Predict with one model, keep the drawing and the record; returns the record. Exceptions of
        tools.pretrained.predict (ImageError, ModelUnavailable, KeyError) pass through, leaving nothing."""
        from tools.pretrained import describe, predict

        def work(folder: Path):
            pred = predict(model, image, options, out_dir=folder)
            return pred, describe(pred, lang), model

        return self._keep(owner, work)[1]

    def answer(self, image, message: str, owner: str, lang: str = "ru", options=None, model: str | None = None):
        """A chat upload: tools.pretrained.answer_upload (model from the student's words, the offline
        fallback, the phrased answer), kept like run(). Returns (UploadAnswer, record or None when
        nothing ran); record["image_url"] is the owner-checked URL of the drawing."""
        from tools.pretrained import answer_upload

        answers = []

        def work(folder: Path):
            ans = answer_upload(image, message, lang, out_dir=folder, options=options, model=model)
            answers.append(ans)
            return ans.prediction, ans.text, ans.requested

        try:
            _, record = self._keep(owner, work)
        except _NothingRan:
            return answers[0], None
        return answers[0], record

    def _keep(self, owner: str, work):
        from tools.pretrained import get_model, lecture_files

        rid = uuid.uuid4().hex
        folder = self.root / rid
        try:
            pred, text, requested = work(folder)
            if pred is None:
                raise _NothingRan
            Path(pred.image_path).rename(folder / IMAGE)
            spec = get_model(requested)
            record = {"id": rid, "owner": owner, "model": pred.model, "task": pred.task, "created_at": time.time(),
                      "text": text, "lectures": lecture_files(requested), "query": spec.query,
                      "prediction": pred.model_dump(mode="json"), "image_url": image_url(rid)}
            (folder / "result.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)  # a failed prediction leaves no half-written folder
            raise
        return pred, record

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


class _NothingRan(Exception):
    """answer_upload ran no model (even the offline fallback was unavailable): nothing to keep."""
