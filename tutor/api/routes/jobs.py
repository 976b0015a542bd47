"""Jobs: submit, list, show, cancel, live events (SSE, resumable with Last-Event-ID),
artifacts, run comparison, and inference with a trained checkpoint (multipart upload)."""

from __future__ import annotations

import asyncio
import json
import mimetypes
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, Query, Request, UploadFile
from fastapi.responses import FileResponse
from sse_starlette.sse import EventSourceResponse

from tutor.api.deps import JobsDep, PrincipalDep, SettingsDep, TutorDep, owner_for
from tutor.api.errors import APIError
from tutor.api.schemas import ERRORS, JobInfo, JobList, JobRequest, sse_response

router = APIRouter(prefix="/v1", tags=["jobs"])

IMAGE_TYPES = {"image/png", "image/jpeg", "image/bmp", "image/gif", "image/webp"}


def _public(job: dict) -> dict:
    keys = ("id", "tool", "preset", "status", "owner", "priority", "config", "metrics", "error", "device",
            "created_at", "started_at", "finished_at", "artifacts")
    out = {k: job.get(k) for k in keys}
    out["artifacts"] = [{k: a.get(k) for k in ("name", "kind", "size")} for a in job.get("artifacts") or []]
    return out


def _owned(jobs, job_id: str, principal) -> dict:
    job = jobs.get(job_id)
    if job is None or (not principal.is_admin and not _may_see(principal, job.get("owner"))):
        raise APIError(404, "not_found", f"job '{job_id}' not found")
    return job


def _may_see(principal, owner: str | None) -> bool:
    return owner == principal.name or (principal.role == "bot" and str(owner).startswith(principal.name + ":"))


def _job_error(e: Exception) -> APIError:
    from tutor.jobs.service import QuotaExceeded

    if isinstance(e, QuotaExceeded):
        return APIError(429, "quota_exceeded", str(e), {"Retry-After": "30"})
    if isinstance(e, KeyError):
        return APIError(404, "unknown_tool", e.args[0] if e.args else str(e))
    return APIError(422, "invalid_config", str(e))


@router.post("/jobs", status_code=201, response_model=JobInfo, responses=ERRORS, summary="Submit an experiment job")
async def submit(body: JobRequest, principal: PrincipalDep, jobs: JobsDep) -> dict:
    from pydantic import ValidationError

    from tools.registry import TOOLS
    from tutor.jobs.service import JobError

    if body.tool not in TOOLS:
        raise APIError(404, "unknown_tool", f"unknown tool '{body.tool}'; available: {', '.join(TOOLS)}")
    owner = owner_for(principal, body.user)
    try:
        job_id = await asyncio.to_thread(jobs.submit, body.tool, body.config, owner, preset=body.preset,
                                         priority=body.priority, max_concurrent=principal.max_concurrent_jobs)
    except (JobError, ValidationError, KeyError, ValueError) as e:
        raise _job_error(e)
    return _public(jobs.get(job_id))


@router.get("/jobs", response_model=JobList, responses=ERRORS, summary="List jobs (yours; admins see all)")
async def list_jobs(principal: PrincipalDep, jobs: JobsDep,
                    tool: Annotated[str | None, Query(max_length=64)] = None,
                    status: Annotated[str | None, Query(pattern="^(queued|running|succeeded|failed|cancelled)$")] = None,
                    limit: Annotated[int, Query(ge=1, le=500)] = 50,
                    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> dict:
    owner = None if principal.is_admin else principal.name
    rows = await asyncio.to_thread(jobs.list, owner=owner, tool=tool, status=status)
    if principal.role == "bot":
        rows += [r for r in await asyncio.to_thread(jobs.list, tool=tool, status=status)
                 if str(r.get("owner", "")).startswith(principal.name + ":")]
    return {"total": len(rows), "items": [_public(j) for j in rows[offset: offset + limit]]}


@router.get("/jobs/{job_id}", response_model=JobInfo, responses=ERRORS, summary="One job with its metrics and artifacts")
async def get_job(job_id: str, principal: PrincipalDep, jobs: JobsDep) -> dict:
    return _public(await asyncio.to_thread(_owned, jobs, job_id, principal))


@router.post("/jobs/{job_id}/cancel", response_model=JobInfo, responses=ERRORS,
             summary="Cancel a queued or running job")
async def cancel(job_id: str, principal: PrincipalDep, jobs: JobsDep) -> dict:
    await asyncio.to_thread(_owned, jobs, job_id, principal)
    return _public(await asyncio.to_thread(jobs.cancel, job_id))


@router.get("/jobs/{job_id}/events", response_class=EventSourceResponse, summary="Live job events (SSE, resumable)",
            responses={**ERRORS, 200: sse_response(
                "Server-Sent Events: `event: <type>` (status, progress, log, metric, artifact...), `id: <seq>`.",
                "The stored event as JSON: `seq`, `type`, `payload`, `ts`.")},
            description="History first, then live events until the job ends. Each event's `id` is its sequence "
                        "number: reconnect with `Last-Event-ID` to resume without duplicates.")
async def events(job_id: str, principal: PrincipalDep, jobs: JobsDep,
                 last_event_id: Annotated[str | None, Header()] = None,
                 since: Annotated[int, Query(ge=0)] = 0):
    await asyncio.to_thread(_owned, jobs, job_id, principal)
    start = int(last_event_id) if last_event_id and last_event_id.isdigit() else since

    async def gen():
        async for ev in jobs.events(job_id, since=start):
            yield {"event": ev.get("type", "event"), "id": str(ev.get("seq")), "data": json.dumps(ev, default=str)}

    return EventSourceResponse(gen(), ping=15)


@router.get("/jobs/{job_id}/artifacts/{name}", response_class=FileResponse, summary="Download an artifact",
            responses={**ERRORS, 200: {"description": "The file (PNG plots, HTML, metrics.json, model.pt...)",
                                       "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}})
async def artifact(job_id: str, name: str, principal: PrincipalDep, jobs: JobsDep):
    job = await asyncio.to_thread(_owned, jobs, job_id, principal)
    art = next((a for a in job.get("artifacts") or [] if a.get("name") == name), None)
    if art is None or not Path(art["path"]).is_file():
        raise APIError(404, "not_found", f"job '{job_id}' has no artifact '{name}'")
    media = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return FileResponse(art["path"], media_type=media, filename=name)


@router.get("/runs/compare", responses=ERRORS, summary="Compare runs of a tool (table + parallel coordinates)")
async def compare(principal: PrincipalDep, jobs: JobsDep, tool: Annotated[str, Query(max_length=64)],
                  ids: Annotated[str | None, Query(max_length=4000, description="comma-separated job ids")] = None) -> dict:
    from tools.registry import TOOLS

    if tool not in TOOLS:
        raise APIError(404, "unknown_tool", f"unknown tool '{tool}'")
    job_ids = [i for i in (ids or "").split(",") if i] or None
    if job_ids:
        for j in job_ids:
            await asyncio.to_thread(_owned, jobs, j, principal)
    try:
        cmp = await asyncio.to_thread(jobs.compare, tool, job_ids=job_ids,
                                      owner=None if (principal.is_admin or job_ids) else principal.name)
    except ValueError as e:
        raise APIError(404, "no_runs", str(e))
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in cmp.items()}


@router.post("/predict/{tool}", responses={**ERRORS, 415: ERRORS[415]}, summary="Inference with a trained checkpoint",
             description="Upload an image (cnn, detection, segmentation) or text (rnn, transformer). Uses the newest "
                         "checkpoint of the caller's runs of that tool, or `job_id`'s.")
async def predict(tool: str, principal: PrincipalDep, jobs: JobsDep, st: SettingsDep,
                  file: Annotated[UploadFile | None, File()] = None,
                  text: Annotated[str | None, Form(max_length=8000)] = None,
                  job_id: Annotated[str | None, Form(max_length=64)] = None) -> dict[str, Any]:
    from tools.registry import TOOLS

    if tool not in TOOLS or TOOLS[tool].infer is None:
        raise APIError(404, "unknown_tool", f"no inference for tool '{tool}'")
    image_tool = tool in ("cnn", "detection", "segmentation")
    if image_tool:
        if file is None:
            raise APIError(422, "validation_error", "upload an image in the 'file' field")
        if (file.content_type or "") not in IMAGE_TYPES:
            raise APIError(415, "unsupported_media_type", f"expected an image ({', '.join(sorted(IMAGE_TYPES))}), "
                                                          f"got '{file.content_type}'")
        data = await file.read(st.max_upload_bytes + 1)
        if len(data) > st.max_upload_bytes:
            raise APIError(413, "payload_too_large", f"upload larger than {st.max_upload_bytes} bytes")
    elif not text:
        raise APIError(422, "validation_error", "send the input text in the 'text' form field")
    if job_id:
        job = await asyncio.to_thread(_owned, jobs, job_id, principal)
        ckpt = next((a["path"] for a in job.get("artifacts") or [] if a.get("kind") == "checkpoint"), None)
    else:
        ckpt = None
        for owner in (principal.name, None):
            for j in await asyncio.to_thread(jobs.list, owner=owner, tool=tool, status="succeeded"):
                ckpt = next((a["path"] for a in j.get("artifacts") or [] if a.get("kind") == "checkpoint"), None)
                if ckpt:
                    job_id = j["id"]
                    break
            if ckpt:
                break
    if not ckpt:
        raise APIError(404, "no_checkpoint", f"no trained {tool} checkpoint yet: submit a job first "
                                             f"(POST /v1/jobs {{\"tool\": \"{tool}\", \"preset\": \"smoke\"}})")
    out_dir = Path(st.artifacts_dir) / "predictions"
    out_dir.mkdir(parents=True, exist_ok=True)
    if image_tool:
        from PIL import Image, UnidentifiedImageError

        with tempfile.NamedTemporaryFile(suffix=Path(file.filename or "x.png").suffix or ".png", dir=out_dir,
                                         delete=False) as tmp:
            tmp.write(data)
        try:
            Image.open(tmp.name).verify()
        except (UnidentifiedImageError, OSError):
            Path(tmp.name).unlink(missing_ok=True)
            raise APIError(415, "unsupported_media_type", "the file is not a readable image")
        inputs: Any = tmp.name
    else:
        inputs = {"text": text, "prompt": text}
    try:
        result = await asyncio.to_thread(TOOLS[tool].infer, ckpt, inputs, out_dir)
    except Exception as e:
        raise APIError(422, "predict_failed", f"inference failed: {type(e).__name__}: {e}")
    return {"tool": tool, "job_id": job_id, "prediction": json.loads(json.dumps(result, default=str))}
