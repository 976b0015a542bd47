"""Jobs: submit, list, show, cancel, live events (SSE, resumable with Last-Event-ID),
artifacts, run comparison, and inference with a trained checkpoint (multipart upload)."""

from __future__ import annotations

import asyncio
import json
import mimetypes
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, Query, Request, UploadFile
from fastapi import Path as Path_
from fastapi.responses import FileResponse
from sse_starlette.sse import EventSourceResponse

from tutor.api.deps import JobsDep, PrincipalDep, SettingsDep, course_binding, owner_for
from tutor.api.errors import APIError
from tutor.api.public import MAX_SEQ, output_url, public_event, public_job as _public
from tutor.api.schemas import ERRORS, JobInfo, JobList, JobRequest, sse_response
from tutor.names import KEY_NAME_MAX, USER_MAX
from tutor.redact import failure, redact, scrub
from tutor.uploads import UploadRejected, load_image, read_upload

router = APIRouter(prefix="/v1", tags=["jobs"])

def _owned(jobs, job_id: str, principal) -> dict:
    job = jobs.get(job_id)
    demo = getattr(getattr(jobs, "settings", None), "demo_course_id", "demo")
    if job is None or (not principal.is_admin and not _may_see(principal, job.get("owner"), job, demo)):
        raise APIError(404, "not_found", f"job '{job_id[:64]}' not found")
    return job


def _may_see(principal, owner: str | None, job: dict | None = None, demo: str = "demo") -> bool:
    if owner == principal.name or (principal.role == "bot" and str(owner).startswith(principal.name + ":")):
        return True
    # a course's staff read (and may cancel) the jobs run for their course
    return (principal.role == "staff" and job is not None
            and (job.get("course") or demo) == (principal.course or demo))


def _job_error(e: Exception) -> APIError:
    from tutor.jobs.service import HomeworkLocked, QuotaExceeded

    if isinstance(e, QuotaExceeded):  # also a course's weekly budget (code budget_exceeded)
        return APIError(429, e.code, str(e), {"Retry-After": "30"})
    if isinstance(e, HomeworkLocked):
        return APIError(403, e.code, str(e))
    if isinstance(e, KeyError):
        return APIError(404, "unknown_tool", e.args[0] if e.args else str(e))
    return APIError(422, "invalid_config", redact(str(e)))


@router.post("/jobs", status_code=201, response_model=JobInfo, responses=ERRORS, summary="Submit an experiment job")
async def submit(body: JobRequest, principal: PrincipalDep, jobs: JobsDep, request: Request) -> dict:
    from pydantic import ValidationError

    from tools.registry import TOOLS
    from tutor.jobs.service import JobError

    if body.tool not in TOOLS:
        raise APIError(404, "unknown_tool", f"unknown tool '{body.tool}'; available: {', '.join(TOOLS)}")
    if body.priority > 0 and not principal.is_admin:
        # refused rather than clamped: a silently lowered priority would look like a queue bug
        raise APIError(403, "forbidden", "priority above 0 needs an admin key (0 or below is allowed)")
    owner = owner_for(principal, body.user)
    # the course's rules (homework deadlines, weekly budget) apply to its members; an unbound bot's users: the demo's
    course = course_binding(request, principal) or (request.app.state.settings.demo_course_id
                                                    if principal.role == "bot" else None)
    try:
        job_id = await asyncio.to_thread(jobs.submit, body.tool, body.config, owner, preset=body.preset,
                                         priority=body.priority,
                                         max_concurrent=principal.max_concurrent_jobs if principal.role != "bot" else None,
                                         course=course)
    except (JobError, ValidationError, KeyError, ValueError) as e:
        raise _job_error(e)
    return _public(jobs.get(job_id), principal)


@router.get("/jobs", response_model=JobList, responses=ERRORS, summary="List jobs (yours; admins see all)")
async def list_jobs(principal: PrincipalDep, jobs: JobsDep,
                    tool: Annotated[str | None, Query(max_length=64)] = None,
                    status: Annotated[str | None, Query(pattern="^(queued|running|succeeded|failed|cancelled)$")] = None,
                    limit: Annotated[int, Query(ge=1, le=500)] = 50,
                    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> dict:
    if principal.is_admin:
        rows = await asyncio.to_thread(jobs.list, tool=tool, status=status)
    elif principal.role == "staff":  # the jobs of their course (tutor/courses), their own among them
        course = principal.course or jobs.settings.demo_course_id
        rows = [j for j in await asyncio.to_thread(jobs.list, tool=tool, status=status)
                if (j.get("course") or jobs.settings.demo_course_id) == course or j.get("owner") == principal.name]
    else:  # a bot's own jobs and its users' ('<bot>:<user>'), a student's own
        rows = await asyncio.to_thread(jobs.list, owner=principal.name, tool=tool, status=status,
                                       group=principal.name if principal.role == "bot" else None)
    return {"total": len(rows), "items": [_public(j, principal) for j in rows[offset: offset + limit]]}


@router.get("/jobs/{job_id}", response_model=JobInfo, responses=ERRORS, summary="One job with its metrics and artifacts")
async def get_job(job_id: str, principal: PrincipalDep, jobs: JobsDep) -> dict:
    return _public(await asyncio.to_thread(_owned, jobs, job_id, principal), principal)


@router.post("/jobs/{job_id}/cancel", response_model=JobInfo, responses=ERRORS,
             summary="Cancel a queued or running job")
async def cancel(job_id: str, principal: PrincipalDep, jobs: JobsDep) -> dict:
    await asyncio.to_thread(_owned, jobs, job_id, principal)
    return _public(await asyncio.to_thread(jobs.cancel, job_id), principal)


def _resume_from(last_event_id: str | None, since: int) -> int:
    """Where a reconnecting client resumes: Last-Event-ID (our ids are plain decimal
    numbers) wins over ?since. Anything else in the header is a 400, not a crash."""
    if last_event_id is None or not last_event_id.strip():
        return since
    value = last_event_id.strip()
    if not (value.isascii() and value.isdigit() and len(value) <= 10 and int(value) <= MAX_SEQ):
        raise APIError(400, "bad_request", f"Last-Event-ID must be an event id (an integer 0-{MAX_SEQ})")
    return int(value)


@router.get("/jobs/{job_id}/events", response_class=EventSourceResponse, summary="Live job events (SSE, resumable)",
            responses={**ERRORS, 200: sse_response(
                "Server-Sent Events: `event: <type>` (status, progress, log, metric, artifact...), `id: <seq>`.",
                "The stored event as JSON: `seq`, `type`, `payload`, `ts`; an artifact's payload has its `url`.")},
            description="History first, then live events until the job ends. Each event's `id` is its sequence "
                        "number: reconnect with `Last-Event-ID` to resume without duplicates.")
async def events(job_id: str, principal: PrincipalDep, jobs: JobsDep,
                 last_event_id: Annotated[str | None, Header(max_length=64)] = None,
                 since: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0):
    await asyncio.to_thread(_owned, jobs, job_id, principal)
    start = _resume_from(last_event_id, since)

    async def gen():
        async for ev in jobs.events(job_id, since=start):
            yield {"event": ev.get("type", "event"), "id": str(ev.get("seq")),
                   "data": json.dumps(public_event(ev), default=str)}

    return EventSourceResponse(gen(), ping=15)


@router.get("/jobs/{job_id}/artifacts/{name}", response_class=FileResponse, summary="Download an artifact",
            responses={**ERRORS, 200: {"description": "The file (PNG plots, HTML, metrics.json, model.pt...)",
                                       "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}})
async def artifact(job_id: str, name: str, principal: PrincipalDep, jobs: JobsDep, st: SettingsDep):
    job = await asyncio.to_thread(_owned, jobs, job_id, principal)
    art = next((a for a in job.get("artifacts") or [] if a.get("name") == name), None)
    root = Path(st.artifacts_dir).resolve()
    path = Path(art["path"]).resolve() if art and art.get("path") else None
    # only files inside the artifacts folder are ever served, whatever a result names
    if path is None or not path.is_relative_to(root) or not path.is_file():
        raise APIError(404, "not_found", f"job '{job_id[:64]}' has no artifact '{name[:128]}'")
    return _file(path, name)


def _file(path: Path, name: str) -> FileResponse:
    media = mimetypes.guess_type(name)[0] or "application/octet-stream"
    inline = media in ("image/png", "image/jpeg", "image/gif", "image/webp", "application/json", "text/plain")
    # an HTML plot or any other file is a download, never a page run in the API's origin
    return FileResponse(path, media_type=media, filename=name, content_disposition_type="inline" if inline else "attachment",
                        headers={"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"})


@router.get("/outputs/{name}", response_class=FileResponse, summary="Download a comparison plot or prediction image",
            responses={**ERRORS, 200: {"description": "A file made by /v1/runs/compare or /v1/predict (they give its URL)",
                                       "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}},
            description="Only the caller's own files (a bot names its user with `user`). They expire after "
                        "TUTOR_ARTIFACT_TTL_HOURS, and the oldest go first above TUTOR_OWNER_ARTIFACT_MB.")
async def output(name: Annotated[str, Path_(max_length=128)], principal: PrincipalDep, jobs: JobsDep,
                 user: Annotated[str | None, Query(max_length=KEY_NAME_MAX + 1 + USER_MAX)] = None):
    path = await asyncio.to_thread(jobs.outputs.find, owner_for(principal, user), name)
    if path is None:
        raise APIError(404, "not_found", f"no file '{name}' (files expire after a while: make it again)")
    return _file(path, name)


def _output_ref(path: str | None, principal, user: str | None) -> str | None:
    if not path:
        return None
    return output_url(Path(path).name, user if principal.role in ("bot", "admin") else None)


@router.get("/runs/compare", responses=ERRORS, summary="Compare runs of a tool (table + parallel coordinates)")
async def compare(principal: PrincipalDep, jobs: JobsDep, tool: Annotated[str, Query(max_length=64)],
                  ids: Annotated[str | None, Query(max_length=4000, description="comma-separated job ids")] = None,
                  user: Annotated[str | None, Query(max_length=KEY_NAME_MAX + 1 + USER_MAX, description="a bot's end user")] = None
                  ) -> dict:
    from tools.registry import TOOLS

    if tool not in TOOLS:
        raise APIError(404, "unknown_tool", f"unknown tool '{tool}'")
    job_ids = [i for i in (ids or "").split(",") if i] or None
    if job_ids:
        if len(job_ids) > 100:
            raise APIError(422, "validation_error", "compare at most 100 runs at once")
        for j in job_ids:
            await asyncio.to_thread(_owned, jobs, j, principal)
    owner = owner_for(principal, user)
    try:
        cmp = await asyncio.to_thread(jobs.compare, tool, job_ids=job_ids,
                                      owner=None if (principal.is_admin and not user) or job_ids else owner,
                                      requester=owner)
    except ValueError as e:
        raise APIError(404, "no_runs", str(e))
    out = scrub({k: v for k, v in cmp.items() if k not in ("png", "html")})
    out["png"], out["html"] = (_output_ref(cmp.get(k), principal, user) for k in ("png", "html"))
    return out


IMAGE_TOOLS = ("cnn", "detection", "segmentation")


@router.post("/predict/{tool}", responses={**ERRORS, 415: ERRORS[415]}, summary="Inference with a trained checkpoint",
             description="Upload an image (cnn, detection, segmentation: PNG, JPEG, GIF, BMP or WebP, checked by its "
                         "bytes, at most TUTOR_MAX_IMAGE_PIXELS pixels) or text (rnn, transformer). Uses the newest "
                         "checkpoint of the caller's own runs of that tool (a bot's: of its `user`), or `job_id`'s.")
async def predict(tool: str, principal: PrincipalDep, jobs: JobsDep, st: SettingsDep,
                  file: Annotated[UploadFile | None, File()] = None,
                  text: Annotated[str | None, Form(max_length=8000)] = None,
                  job_id: Annotated[str | None, Form(max_length=64)] = None,
                  user: Annotated[str | None, Form(max_length=KEY_NAME_MAX + 1 + USER_MAX)] = None) -> dict[str, Any]:
    from tools.registry import TOOLS

    if tool not in TOOLS or TOOLS[tool].infer is None:
        raise APIError(404, "unknown_tool", f"no inference for tool '{tool}'")
    owner = owner_for(principal, user)
    inputs: Any
    try:
        if tool in IMAGE_TOOLS:
            if file is None:
                raise APIError(422, "validation_error", "upload an image in the 'file' field")
            data = await read_upload(file, st.max_upload_bytes)  # never a temporary file: checked in memory
            inputs = await asyncio.to_thread(load_image, data, st.max_image_pixels, 1024, st.max_upload_bytes)
        elif not text:
            raise APIError(422, "validation_error", "send the input text in the 'text' form field")
        else:
            inputs = {"text": text, "prompt": text}
    except UploadRejected as e:
        raise APIError(e.status, e.code, e.message)
    finally:
        if file is not None:
            await file.close()  # Starlette spools big parts to a temporary file: gone now
    if job_id:
        job = await asyncio.to_thread(_owned, jobs, job_id, principal)
        ckpt = next((a["path"] for a in job.get("artifacts") or [] if a.get("kind") == "checkpoint"), None)
    else:
        ckpt, job_id = await asyncio.to_thread(jobs.latest_checkpoint, owner, tool)
    if not ckpt:
        raise APIError(404, "no_checkpoint", f"no trained {tool} checkpoint of yours yet: submit a job first "
                                             f"(POST /v1/jobs {{\"tool\": \"{tool}\", \"preset\": \"smoke\"}})")
    out_dir = jobs.outputs.dir_for(owner)
    try:
        result = await asyncio.to_thread(TOOLS[tool].infer, ckpt, inputs, out_dir)
    except Exception as e:
        message, _, _ = failure(e, f"predict {tool} for {owner}")
        raise APIError(422, "predict_failed", f"inference failed: {message}")
    finally:
        await asyncio.to_thread(jobs.outputs.enforce, owner)
    result = json.loads(json.dumps(result, default=str))
    image = result.pop("image", None) if isinstance(result, dict) else None
    prediction = scrub(result)
    if image:
        prediction["image"] = _output_ref(image, principal, user)
    return {"tool": tool, "job_id": job_id, "prediction": prediction}
