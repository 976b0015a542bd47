"""An uploaded image: inference with the student's own latest checkpoint of the tool the
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
    out_dir = Path(ctx.settings.artifacts_dir) / "predictions"
    out_dir.mkdir(parents=True, exist_ok=True)
    entry = get_tool(tool)
    try:
        pred = await asyncio.to_thread(entry.infer, ckpt, upload["path"], out_dir)
    except Exception as e:
        text = say("predict_failed", lang, reason=type(e).__name__)
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
