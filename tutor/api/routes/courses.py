"""Courses (tutor/courses): the course, its materials uploaded live, its homework items, its
staff view (stats, export, audited conversations), the caller's own budget, and feedback.

Who may do what: admins everything; a course's staff its materials, homework, settings and
stats; its students read the course and its homework deadlines; anyone else gets 403 (the
same for a course that does not exist, so ids cannot be probed). Thin handlers: the logic is
in tutor/courses.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi import Path as Path_
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from tutor.api.deps import PrincipalDep, course_binding, courses_of
from tutor.api.errors import APIError
from tutor.api.schemas import ERRORS
from tutor.courses import COURSE_ID_PATTERN, ITEM_ID_PATTERN, NotAllowed
from tutor.courses.policy import ItemInput
from tutor.courses.service import CourseSettings
from tutor.names import THREAD_ID_MAX, THREAD_ID_PATTERN

router = APIRouter(prefix="/v1", tags=["courses"])
CourseId = Annotated[str, Path_(pattern=COURSE_ID_PATTERN, max_length=32, description="Course id.")]
MaterialId = Annotated[str, Path_(pattern=r"^[0-9a-f]{12}$", description="Material id.")]
ItemId = Annotated[str, Path_(pattern=ITEM_ID_PATTERN, max_length=64, description="Homework item id.")]
STAFF_ERRORS = {**ERRORS, 403: ERRORS[422] | {"description": "Not staff of this course (or not a member)"}}


class CourseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"id": "nn-tech", "name": "Нейросетевые технологии", "settings": {"minutes_per_week": 120}}]})
    id: str = Field(pattern=COURSE_ID_PATTERN, max_length=32)
    name: str = Field(min_length=1, max_length=200)
    settings: CourseSettings = Field(default_factory=CourseSettings)


class CourseUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=200)
    settings: dict[str, Any] | None = Field(None, description="Fields of CourseSettings to change.")


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    thread_id: str = Field("default", min_length=1, max_length=THREAD_ID_MAX, pattern=THREAD_ID_PATTERN)
    value: Literal["up", "down"]
    comment: str | None = Field(None, max_length=2000)
    user: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]*$",
                             description="A bot's end user (as in /v1/chat).")


# ---- access ---------------------------------------------------------------------------------------

def _manage(request: Request, principal, course_id: str):
    """The course, if the caller may manage it (admin, or its staff); 403 otherwise (404 only for admins)."""
    courses = courses_of(request)
    if not courses.may_manage(principal.role, principal.course, course_id):
        raise NotAllowed(f"managing course {course_id} needs an admin key or a staff key of that course")
    return courses.get(course_id)


def _member(request: Request, principal, course_id: str):
    courses = courses_of(request)
    if not (courses.may_read(principal.role, principal.course, course_id)
            or courses.may_manage(principal.role, principal.course, course_id)):
        raise NotAllowed(f"course {course_id} is visible to its members only")
    return courses.get(course_id)


def managed_course(course_id: CourseId, request: Request, principal: PrincipalDep):
    """A dependency: resolved before the body is read or validated, so a caller who may not manage
    the course gets 403 whatever it sent."""
    return _manage(request, principal, course_id)


def member_course(course_id: CourseId, request: Request, principal: PrincipalDep):
    return _member(request, principal, course_id)


ManagedDep = Annotated[Any, Depends(managed_course)]
MemberDep = Annotated[Any, Depends(member_course)]


def _materials(request: Request):
    return request.app.state.tutor.services.materials


def _stats(request: Request):
    from tutor.courses.stats import CourseStats

    services = request.app.state.tutor.services

    def titles(course_id: str) -> dict[str, str]:
        try:
            files = services.index_for(course_id).manifest.get("files") or {}
        except Exception:
            return {}
        return {s: m.get("title") or "" for s, m in files.items()}

    return CourseStats(services.courses.engine, services.courses, titles)


def _course_json(course, full: bool) -> dict[str, Any]:
    out = {"id": course.id, "name": course.name, "demo": course.demo,
           "minutes_per_week": course.settings.minutes_per_week, "homework_policy": course.settings.homework_policy}
    if full:
        out.update(settings=course.settings.model_dump(), created_by=course.created_by, created_at=course.created_at)
    return out


async def _save_upload(request: Request, file: UploadFile) -> Path:
    st = request.app.state.settings
    incoming = Path(st.data_dir) / "courses" / "_incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    tmp = incoming / f"upload-{uuid.uuid4().hex}"
    size = 0
    try:
        with open(tmp, "wb") as out:
            while chunk := await file.read(1 << 20):
                size += len(chunk)
                if size > st.max_material_bytes:
                    raise APIError(413, "payload_too_large", f"material larger than {st.max_material_bytes} bytes")
                out.write(chunk)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


# ---- courses --------------------------------------------------------------------------------------

@router.post("/courses", status_code=201, responses={**ERRORS, 409: ERRORS[422]}, summary="Create a course (admin)")
async def create_course(body: CourseCreate, request: Request, principal: PrincipalDep) -> dict:
    if not principal.is_admin:
        raise APIError(403, "forbidden", "creating a course needs an admin key")
    course = await asyncio.to_thread(courses_of(request).create, body.id, body.name, body.settings.model_dump(),
                                     principal.name)
    return _course_json(course, True)


@router.get("/courses", responses=ERRORS, summary="Courses visible to the caller (admins: all)")
async def list_courses(request: Request, principal: PrincipalDep) -> dict:
    courses = courses_of(request)
    rows = await asyncio.to_thread(courses.list)
    if not principal.is_admin:
        mine = courses.course_of(principal.role, principal.course)
        rows = [c for c in rows if c.id == mine]
    return {"items": [_course_json(c, courses.may_manage(principal.role, principal.course, c.id)) for c in rows]}


@router.get("/courses/{course_id}", responses=STAFF_ERRORS, summary="One course (its members)")
async def get_course(course: MemberDep, course_id: CourseId, request: Request, principal: PrincipalDep) -> dict:
    courses = courses_of(request)
    full = courses.may_manage(principal.role, principal.course, course_id)
    out = _course_json(course, full)
    if full:
        out["members"] = await asyncio.to_thread(courses.members, course_id)
    return out


@router.patch("/courses/{course_id}", responses=STAFF_ERRORS, summary="Change a course's name or settings (staff)")
async def update_course(course: ManagedDep, course_id: CourseId, body: CourseUpdate, request: Request, principal: PrincipalDep) -> dict:
    courses = courses_of(request)
    course = await asyncio.to_thread(courses.update, course_id, body.name, body.settings)
    await asyncio.to_thread(courses.log, course_id, principal.name, "update_course", None,
                            {"name": body.name, "settings": body.settings})
    return _course_json(course, True)


@router.get("/me", responses=ERRORS, summary="The caller: role, course, and this week's minutes against its budget")
async def me(request: Request, principal: PrincipalDep,
             user: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")] = None) -> dict:
    from tutor.api.deps import owner_for

    courses = courses_of(request)
    course_id = course_binding(request, principal)
    owner = owner_for(principal, user)
    course = await asyncio.to_thread(courses.find, course_id) if course_id else None
    usage = None
    if course is not None:
        policy = await asyncio.to_thread(courses.policy, course.id, owner)
        usage = (await asyncio.to_thread(policy.usage)).to_json()
    return {"name": principal.name, "owner": owner, "role": principal.role,
            "course": _course_json(course, False) if course else None, "usage": usage}


# ---- materials ------------------------------------------------------------------------------------

@router.post("/courses/{course_id}/materials", status_code=202, responses={**STAFF_ERRORS, 409: ERRORS[422]},
             summary="Upload a material (staff): indexed in the background",
             description="Multipart `file`: md, txt, pdf, ipynb, html, or a zip of them. Answers 202 with the "
                         "material (status `queued`); it becomes `ready` (searchable by the course's students) or "
                         "`failed` with the reason, usually within seconds. File names are unique in a course.")
async def upload_material(course: ManagedDep, course_id: CourseId, request: Request, principal: PrincipalDep,
                          file: Annotated[UploadFile, File(description="The material file or a zip of them.")]) -> dict:
    tmp = await _save_upload(request, file)
    try:
        record = await asyncio.to_thread(_materials(request).add, course_id, file.filename or "", tmp, principal.name)
    finally:
        tmp.unlink(missing_ok=True)
    await asyncio.to_thread(courses_of(request).log, course_id, principal.name, "upload_material", record["id"],
                            {"name": record["name"]})
    return record


@router.get("/courses/{course_id}/materials", responses=STAFF_ERRORS, summary="A course's materials and index status")
async def list_materials(course: ManagedDep, course_id: CourseId, request: Request, principal: PrincipalDep) -> dict:
    rows = await asyncio.to_thread(_materials(request).list, course_id)
    return {"total": len(rows), "items": rows}


@router.get("/courses/{course_id}/materials/{material_id}", responses=STAFF_ERRORS, summary="One material")
async def get_material(course: ManagedDep, course_id: CourseId, material_id: MaterialId, request: Request, principal: PrincipalDep) -> dict:
    return await asyncio.to_thread(_materials(request).get, course_id, material_id)


@router.put("/courses/{course_id}/materials/{material_id}", status_code=202, responses={**STAFF_ERRORS, 409: ERRORS[422]},
            summary="Replace a material's file(s) (staff): indexed again in the background")
async def replace_material(course: ManagedDep, course_id: CourseId, material_id: MaterialId, request: Request, principal: PrincipalDep,
                           file: Annotated[UploadFile, File(description="The new file or zip.")]) -> dict:
    await asyncio.to_thread(_materials(request).get, course_id, material_id)  # 404 before reading the body
    tmp = await _save_upload(request, file)
    try:
        record = await asyncio.to_thread(_materials(request).replace, course_id, material_id, file.filename or "", tmp,
                                         principal.name)
    finally:
        tmp.unlink(missing_ok=True)
    await asyncio.to_thread(courses_of(request).log, course_id, principal.name, "replace_material", material_id,
                            {"name": record["name"]})
    return record


@router.delete("/courses/{course_id}/materials/{material_id}", responses=STAFF_ERRORS,
               summary="Delete a material (staff): it leaves the course's index")
async def delete_material(course: ManagedDep, course_id: CourseId, material_id: MaterialId, request: Request, principal: PrincipalDep) -> dict:
    await asyncio.to_thread(_materials(request).remove, course_id, material_id)
    await asyncio.to_thread(courses_of(request).log, course_id, principal.name, "delete_material", material_id)
    return {"deleted": material_id}


# ---- homework -------------------------------------------------------------------------------------

@router.get("/courses/{course_id}/homework", responses=STAFF_ERRORS, summary="Homework items and deadlines (members)")
async def list_homework(course: MemberDep, course_id: CourseId, request: Request, principal: PrincipalDep) -> dict:
    policy = await asyncio.to_thread(courses_of(request).policy, course_id, principal.name)
    manager = courses_of(request).may_manage(principal.role, principal.course, course_id)
    items = [i.to_json() for i in policy.items]
    if not manager:  # students see what and when, not how questions are recognised
        items = [{k: i[k] for k in ("id", "title", "deadline", "deadline_text", "open")} for i in items]
    return {"policy": policy.course.settings.homework_policy, "items": items}


@router.post("/courses/{course_id}/homework", status_code=201, responses=STAFF_ERRORS,
             summary="Add or change a homework item (staff)",
             description="Until the deadline, questions matching the item are answered in hint mode and its graded "
                         "configuration (tool + config values) is not run; after it, explanations are available.")
async def put_homework(course: ManagedDep, course_id: CourseId, body: ItemInput, request: Request, principal: PrincipalDep) -> dict:
    try:
        row = body.row()
    except ValueError as e:
        raise APIError(422, "validation_error", str(e))
    courses = courses_of(request)
    await asyncio.to_thread(courses.store.put_item, course_id, body.id, created_by=principal.name, **row)
    await asyncio.to_thread(courses.log, course_id, principal.name, "put_homework", body.id, {"deadline": row["deadline"]})
    policy = await asyncio.to_thread(courses.policy, course_id, principal.name)
    return next(i.to_json() for i in policy.items if i.id == body.id)


@router.delete("/courses/{course_id}/homework/{item_id}", responses=STAFF_ERRORS, summary="Remove a homework item (staff)")
async def delete_homework(course: ManagedDep, course_id: CourseId, item_id: ItemId, request: Request, principal: PrincipalDep) -> dict:
    from tutor.courses import ItemNotFound

    courses = courses_of(request)
    if not await asyncio.to_thread(courses.store.delete_item, course_id, item_id):
        raise ItemNotFound(f"no homework item '{item_id}' in course {course_id}")
    await asyncio.to_thread(courses.log, course_id, principal.name, "delete_homework", item_id)
    return {"deleted": item_id}


# ---- the staff view -------------------------------------------------------------------------------

Days = Annotated[int, Query(ge=1, le=3650, description="The period: the last N days.")]


@router.get("/courses/{course_id}/stats", responses=STAFF_ERRORS, summary="How the course's students are doing (staff)",
            description="Aggregates: questions per day, topics by lecture, 'not found' and thumbs-down answers with "
                        "their questions (no names; `conversation` is a reference), runs, failures by reason, "
                        "minutes per student this week against the budget, homework items.")
async def course_stats(course: ManagedDep, course_id: CourseId, request: Request, principal: PrincipalDep, days: Days = 30) -> dict:
    return await asyncio.to_thread(_stats(request).summary, course_id, days)


@router.get("/courses/{course_id}/stats/export", responses={**STAFF_ERRORS, 200: {
    "content": {"text/csv": {}, "application/x-ndjson": {}}, "description": "The table as CSV or JSON Lines."}},
    summary="One table of the stats as CSV or JSONL (staff)")
async def export_stats(course: ManagedDep, course_id: CourseId, request: Request, principal: PrincipalDep,
                       table: Annotated[Literal["questions", "per_day", "topics", "not_found", "feedback", "runs",
                                                "failures", "usage"], Query()] = "questions",
                       format: Annotated[Literal["csv", "jsonl"], Query()] = "csv", days: Days = 30):
    from tutor.courses.stats import to_csv, to_jsonl

    rows = await asyncio.to_thread(_stats(request).table, course_id, table, days)
    await asyncio.to_thread(courses_of(request).log, course_id, principal.name, "export", table, {"format": format})
    body, mime = (to_csv(rows), "text/csv; charset=utf-8") if format == "csv" else \
        (to_jsonl(rows), "application/x-ndjson; charset=utf-8")
    return PlainTextResponse(body, media_type=mime, headers={
        "Content-Disposition": f'attachment; filename="{course_id}-{table}.{format}"'})


@router.get("/courses/{course_id}/conversations", responses=STAFF_ERRORS,
            summary="Conversations as references with counts (staff; no names)")
async def list_conversations(course: ManagedDep, course_id: CourseId, request: Request, principal: PrincipalDep, days: Days = 30) -> dict:
    return {"items": await asyncio.to_thread(_stats(request).conversations, course_id, days)}


@router.get("/courses/{course_id}/conversations/{ref}", responses=STAFF_ERRORS,
            summary="Open one student's conversation (staff; logged in the course's audit)")
async def open_conversation(course: ManagedDep, course_id: CourseId, ref: Annotated[str, Path_(pattern=r"^[0-9a-f]{16}$")],
                            request: Request, principal: PrincipalDep,
                            format: Annotated[Literal["json", "jsonl"], Query()] = "json"):
    conv = await asyncio.to_thread(_stats(request).conversation, course_id, ref)
    await asyncio.to_thread(courses_of(request).log, course_id, principal.name, "open_conversation", ref,
                            {"owner": conv["owner"], "format": format})
    if format == "jsonl":
        from tutor.courses.stats import to_jsonl

        return PlainTextResponse(to_jsonl(conv["messages"]), media_type="application/x-ndjson; charset=utf-8")
    return conv


@router.get("/courses/{course_id}/audit", responses=STAFF_ERRORS, summary="Who did what in the course (staff)")
async def course_audit(course: ManagedDep, course_id: CourseId, request: Request, principal: PrincipalDep) -> dict:
    return {"items": await asyncio.to_thread(courses_of(request).store.audit, course_id)}


# ---- feedback through the API ---------------------------------------------------------------------

@router.post("/chat/feedback", tags=["chat"], status_code=201, responses=ERRORS,
             summary="Thumbs up/down on the thread's last answer (reaches the course's staff)")
async def chat_feedback(body: FeedbackRequest, request: Request, principal: PrincipalDep) -> dict:
    from tutor.api.deps import owner_for

    tutor = request.app.state.tutor
    owner = owner_for(principal, body.user)
    thread_id = f"{principal.name}/{body.thread_id}"  # the chat routes' thread key
    thread = await asyncio.to_thread(tutor.threads.get, thread_id)
    if thread is None or thread.get("user") != owner:
        raise APIError(404, "not_found", f"no conversation '{body.thread_id}' of this user")
    last = [m for m in await asyncio.to_thread(tutor.threads.history, thread_id, 20) if m["role"] == "assistant"]
    if not last:
        raise APIError(404, "not_found", "this conversation has no answer to rate yet")
    fid = await asyncio.to_thread(courses_of(request).store.add_feedback, thread_id, last[-1]["id"], owner,
                                  1 if body.value == "up" else 0, body.comment)
    return {"id": fid, "message_id": last[-1]["id"], "value": body.value}
