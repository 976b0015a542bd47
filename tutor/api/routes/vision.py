"""Pretrained vision models on an uploaded photo: list them, run one, fetch the drawn result.

The models and their results are tools/pretrained.py's; results are kept per owner by
tutor/vision/results.py and served by id to that owner only (no server paths in responses)."""

from __future__ import annotations

import asyncio
import io
import logging
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from tutor.api.deps import PrincipalDep, SettingsDep, owner_for
from tutor.api.errors import APIError
from tutor.api.schemas import ERRORS

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/vision", tags=["vision"])
RESPONSES = {**ERRORS, 503: ERRORS[404] | {"description": "The model's weights are not available (offline)"}}


class VisionModelInfo(BaseModel):
    name: str
    task: str
    title: str
    description: str
    offline: bool = Field(description="Its weights ship in an installed package: works without a network.")
    available: bool = Field(description="Usable now without a network (package installed / weights downloaded).")
    needs: str = Field(description="What to install or download for it.")
    lectures: list[str] = Field(description="Course lectures that teach the method.")


class VisionModels(BaseModel):
    models: list[VisionModelInfo]


class VisionResult(BaseModel):
    id: str
    model: str
    task: str
    created_at: float
    text: str = Field(description="The result phrased for the student, with the lecture that teaches the method.")
    lectures: list[str]
    query: str = Field(description="A retrieval query for the method's theory (POST /v1/search).")
    image_url: str = Field(description="The drawn result (boxes, landmarks, mask, text boxes): GET it with your key.")
    prediction: dict[str, Any] = Field(description="classes / faces / lines / boxes / segments, summary, sizes, "
                                                   "warnings, latency; coordinates in pixels of the uploaded image.")


def _results(st):
    from tutor.vision.results import VisionResults

    return VisionResults(Path(st.artifacts_dir) / "vision")


def _public(record: dict) -> dict:
    from tutor.vision.results import image_url

    return {k: v for k, v in record.items() if k != "owner"} | {"image_url": image_url(record["id"])}


def _owned(st, rid: str, principal) -> dict:
    from tutor.api.routes.jobs import _may_see  # one ownership rule for jobs and vision results

    record = _results(st).get(rid)
    if record is None or (not principal.is_admin and not _may_see(principal, record.get("owner"))):
        raise APIError(404, "not_found", f"vision result '{rid}' not found")
    return record


# TODO: use tutor.uploads (the shared upload checks of the security work) once it lands; until then
# the minimal check: the bytes must start like an image we decode, and the header's pixel count is
# read lazily (nothing decoded) before any model sees the file.
MAGIC = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"), (b"BM", "BMP"))


def _check_image(data: bytes) -> None:
    from PIL import Image, UnidentifiedImageError

    from tools.pretrained import MAX_PIXELS

    if not data:
        raise APIError(422, "validation_error", "the uploaded file is empty")
    webp = data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    kind = "WEBP" if webp else next((k for magic, k in MAGIC if data.startswith(magic)), None)
    if kind is None:
        raise APIError(415, "unsupported_media_type", "the file is not a PNG, JPEG, GIF, BMP or WEBP image")
    try:
        with Image.open(io.BytesIO(data)) as im:  # lazy: reads the header only
            w, h = im.size
    except Image.DecompressionBombError:
        raise APIError(413, "payload_too_large", f"the image has more than {MAX_PIXELS:,} pixels")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise APIError(415, "unsupported_media_type", f"the file starts like a {kind} image but is not a readable one")
    if w * h > MAX_PIXELS:
        raise APIError(413, "payload_too_large", f"the image has {w}x{h} = {w * h:,} pixels; the limit is {MAX_PIXELS:,}")


@router.get("/models", response_model=VisionModels, responses=ERRORS, summary="Pretrained vision models")
async def models(principal: PrincipalDep) -> dict:
    from tools.pretrained import MODELS

    rows = [VisionModelInfo(name=m.name, task=m.task, title=m.title, description=m.description, offline=m.offline,
                            available=await asyncio.to_thread(m.available), needs=m.needs,
                            lectures=[f"corpus/lectures/{f}" for f in m.lectures]) for m in MODELS.values()]
    return {"models": rows}


@router.post("/{model}", response_model=VisionResult, responses=RESPONSES, summary="Run a pretrained model on a photo",
             description="Upload an image in `file` (multipart). Models: imagenet (top-k ImageNet classes), faces "
                         "(MTCNN boxes + 5 landmarks), ocr (PP-OCRv4 text lines) work offline; coco_detection and "
                         "segmentation need torchvision's weights download (503 with what is missing when offline). "
                         "The drawn result is at `image_url`.")
async def run(model: str, principal: PrincipalDep, st: SettingsDep,
              file: Annotated[UploadFile, File(description="The photo: PNG, JPEG, GIF, BMP or WEBP.")],
              lang: Annotated[str, Form(pattern="^(ru|en)$", description="Language of `text`.")] = "ru",
              top_k: Annotated[int | None, Form()] = None,
              score_threshold: Annotated[float | None, Form()] = None,
              max_side: Annotated[int | None, Form()] = None,
              detector: Annotated[str | None, Form(max_length=64)] = None,
              segmenter: Annotated[str | None, Form(max_length=64)] = None,
              user: Annotated[str | None, Form(max_length=128, pattern=r"^[\w.:@-]+$")] = None) -> dict:
    from pydantic import ValidationError

    from tools.pretrained import MODELS, ImageError, ModelUnavailable, Options

    if model not in MODELS:
        raise APIError(404, "unknown_model", f"unknown vision model '{model}'; available: {', '.join(MODELS)}")
    given = {"top_k": top_k, "score_threshold": score_threshold, "max_side": max_side, "detector": detector,
             "segmenter": segmenter}
    try:
        options = Options(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as e:
        first = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()[:3])
        raise APIError(422, "validation_error", f"invalid options: {first}")
    data = await file.read(st.max_upload_bytes + 1)
    if len(data) > st.max_upload_bytes:
        raise APIError(413, "payload_too_large", f"upload larger than {st.max_upload_bytes} bytes")
    _check_image(data)
    owner = owner_for(principal, user)
    # the bytes go to the model straight from memory: no temporary file to leak
    try:
        record = await asyncio.to_thread(_results(st).run, model, data, owner, options, lang)
    except ImageError as e:
        raise APIError(413 if e.code == "too_many_pixels" else 415,
                       "payload_too_large" if e.code == "too_many_pixels" else "unsupported_media_type", str(e))
    except ModelUnavailable as e:
        raise APIError(503, "model_unavailable", str(e))
    except Exception as e:  # a model failing on an odd image is the upload's problem, never a 500
        log.exception("vision model %s failed", model)
        raise APIError(422, "predict_failed", f"{model} could not process this image ({type(e).__name__})")
    return _public(record)


@router.get("/results/{result_id}", response_model=VisionResult, responses=ERRORS, summary="A kept vision result")
async def result(result_id: str, principal: PrincipalDep, st: SettingsDep) -> dict:
    return _public(await asyncio.to_thread(_owned, st, result_id, principal))


@router.get("/results/{result_id}/image", response_class=FileResponse, summary="The drawn image of a vision result",
            responses={**ERRORS, 200: {"description": "JPEG with the boxes, landmarks, mask or text boxes drawn",
                                       "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}}})
async def result_image(result_id: str, principal: PrincipalDep, st: SettingsDep):
    await asyncio.to_thread(_owned, st, result_id, principal)
    path = _results(st).image(result_id)
    if path is None:
        raise APIError(404, "not_found", f"vision result '{result_id}' has no image")
    return FileResponse(path, media_type="image/jpeg", filename=f"{result_id}.jpg")
