"""An uploaded image. By default pretrained models answer (tools/pretrained.py: ImageNet
classes, faces, text; COCO detection and segmentation online), picked from the student's
words, with the drawn result and the lecture that teaches the method; when the student asks
for their own model ("моей моделью") or which digit an image shows (ImageNet has none), inference with their latest checkpoint of the tool the
message points at (detection, segmentation; classification by default)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from langgraph.runtime import Runtime

from tutor.agent.context import TurnContext
from tutor.agent.events import AnswerStyle, ArtifactEvent, ErrorEvent, PredictionInfo, ToolCallEvent
from tutor.agent.messages import say
from tutor.agent.nodes.routing import images
from tutor.agent.state import TurnState
from tutor.agent.streaming import emit, stream_text
from tutor.redact import redact
from tutor.uploads import load_upload


def tool_for_upload(message: str) -> str:
    """The image tool whose upload words the message uses (classification when none does)."""
    from tools.registry import TOOLS
    from tools.spec import Upload

    low = message.lower()
    for name, entry in TOOLS.items():
        spec = entry.spec
        if spec.upload == Upload.IMAGE and name != "cnn" and any(re.search(p, low) for p in spec.upload_words):
            return name
    return "cnn"


async def predict(state: TurnState, runtime: Runtime[TurnContext]) -> dict:
    from tools.pretrained import asks_for_digit, wants_own_checkpoint

    message = state["message"]
    if wants_own_checkpoint(message):
        return await predict_own(state, runtime)
    if asks_for_digit(message) and tool_for_upload(message) == "cnn":
        # ImageNet knows no digits: the student's MNIST CNN answers, or the student is told to train one
        return await predict_own(state, runtime)
    return await predict_pretrained(state, runtime)


async def predict_pretrained(state: TurnState, runtime: Runtime[TurnContext]) -> dict:
    from tools.pretrained import ImageError
    from tutor.agent.answer import make_sources
    from tutor.agent.events import SourcesEvent
    from tutor.agent.nodes.retrieval import search
    from tutor.vision.results import VisionResults

    ctx, lang = runtime.context, state["language"]
    upload = images(state)[0]
    store = VisionResults(Path(ctx.settings.artifacts_dir) / "vision")
    try:
        found, record = await asyncio.to_thread(store.answer, upload["path"], state["message"], ctx.user, lang)
    except ImageError as e:
        text = say("predict_failed", lang, reason=str(e))
        emit(ErrorEvent(code="not_an_image", message=text))
        stream_text(text)
        return {"answer": text, "error": "not_an_image", "answer_style": AnswerStyle.REPORT}
    emit(ToolCallEvent(name=f"pretrained.{found.requested}", args={"file": upload.get("name")}))
    if record:
        emit(ArtifactEvent(name="image.jpg", path=str(store.image(record["id"]) or ""), kind="image",
                           url=record["image_url"]))
    # the lecture that teaches the method, cited after the result
    hits = [h for h in await search(ctx, found.query, lang, k=8)
            if any(h.source.endswith(lec.split("/")[-1]) for lec in found.lectures)][:2]
    sources = make_sources(hits)
    text = found.text
    if sources:
        emit(SourcesEvent(query=found.query, sources=sources))
        text += "\n\n" + say("theory", lang, refs="; ".join(f"«{s.section.split(' > ')[-1]}» [{s.n}]" for s in sources))
    stream_text(text)
    result = found.prediction.model_dump(mode="json") if found.prediction is not None else {}
    return {"answer": text, "answer_style": AnswerStyle.REPORT, "sources": [s.model_dump() for s in sources],
            "prediction": PredictionInfo(tool="pretrained", model=found.model, result=result)}


async def predict_own(state: TurnState, runtime: Runtime[TurnContext]) -> dict:
    from tools.registry import get_tool

    ctx, lang = runtime.context, state["language"]
    tool = tool_for_upload(state["message"])
    upload = images(state)[0]
    ckpt, job_id = await asyncio.to_thread(ctx.services.jobs.latest_checkpoint, ctx.user, tool)
    if ckpt is None:
        text = say("no_checkpoint", lang, tool=tool)
        stream_text(text)
        return {"answer": text, "error": "no_checkpoint", "answer_style": AnswerStyle.REPORT}
    emit(ToolCallEvent(name=f"{tool}.infer", args={"checkpoint_job": job_id, "file": upload.get("name")}))
    out_dir = ctx.services.jobs.outputs.dir_for(ctx.user)  # per-owner folder: quota + expiry (tutor.jobs.outputs)
    entry = get_tool(tool)
    try:  # the upload is checked (size, type by magic bytes, pixel count) before it is decoded: tutor.uploads
        pred = await asyncio.to_thread(lambda: entry.infer(ckpt, load_upload(upload["path"], ctx.settings), out_dir))
    except Exception as e:
        text = say("predict_failed", lang, reason=redact(str(e)) or type(e).__name__)
        emit(ErrorEvent(code="predict_failed", message=text))
        stream_text(text)
        return {"answer": text, "error": "predict_failed", "answer_style": AnswerStyle.REPORT}
    describe = entry.spec.describe_prediction
    text = (describe(pred, lang) if describe else str(pred)) + " " + say("model_from_job", lang, job=job_id)
    if pred.get("image"):
        emit(ArtifactEvent(job_id=job_id, name=Path(pred["image"]).name, path=pred["image"], kind="image"))
    stream_text(text)
    result = {k: v for k, v in pred.items() if k != "image"}
    return {"answer": text, "answer_style": AnswerStyle.REPORT,
            "prediction": PredictionInfo(tool=tool, checkpoint_job=job_id, result=result)}
