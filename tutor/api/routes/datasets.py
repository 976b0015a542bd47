"""Datasets registered by course staff: upload a zip (admin/staff), list and show (everyone
authenticated: names, kinds, classes and statistics — never a server path), delete.
Students then train on one by name: `{"dataset": "registered", "dataset_name": "afhq"}`."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from tutor.api.deps import PrincipalDep, SettingsDep
from tutor.api.errors import APIError, error_body
from tutor.api.schemas import ERRORS
from tutor.datasets import KINDS, NAME_MAX, NAME_PATTERN

router = APIRouter(prefix="/v1", tags=["datasets"])
STAFF_ROLES = ("admin", "staff")


class DatasetInfo(BaseModel):
    name: str
    kind: str = Field(description=" | ".join(KINDS))
    format: str = Field(description="imagefolder | yolo | coco | masks | csv | jsonl")
    classes: list[str]
    stats: dict[str, Any] = Field(description="Counts per split and class, image size range, files, bytes.")
    course: str | None = None
    created_by: str
    created_at: float


class DatasetList(BaseModel):
    total: int
    items: list[DatasetInfo]


def _service(request: Request):
    svc = getattr(request.app.state, "datasets", None)
    if svc is None:
        from tutor.datasets.service import DatasetService

        svc = request.app.state.datasets = DatasetService(request.app.state.settings)
    return svc


def _require_staff(principal) -> None:
    if principal.role not in STAFF_ROLES:
        raise APIError(403, "forbidden", "registering and deleting datasets needs a staff or admin key")


def _visible_to(request: Request, principal) -> str | None:
    """The course whose datasets (plus the shared ones) this caller sees; None: all (admins)."""
    if principal.is_admin:
        return None
    from tutor.api.deps import courses_of

    return courses_of(request).course_of(principal.role, principal.course) or request.app.state.settings.demo_course_id


def _error(e: Exception):
    from tutor.datasets.service import DatasetError
    from tutor.datasets.validator import DatasetRejected

    if isinstance(e, DatasetRejected):
        return JSONResponse(error_body("dataset_rejected", str(e), e.problems[:50]), status_code=422)
    if isinstance(e, DatasetError):
        return JSONResponse(error_body(e.code, str(e)), status_code=e.status)
    raise e


@router.post("/datasets", status_code=201, response_model=DatasetInfo, responses={**ERRORS, 409: ERRORS[422]},
             summary="Register a dataset zip (staff)",
             description="Multipart `name` + `file` (a zip: ImageFolder, YOLO, COCO, image+mask pairs, CSV/JSONL "
                         "with text and label columns). Validated before and after extraction; a rejected zip "
                         "leaves nothing behind and the error lists what is wrong.")
async def add_dataset(request: Request, principal: PrincipalDep, st: SettingsDep,
                      name: Annotated[str, Form(min_length=2, max_length=NAME_MAX, pattern=NAME_PATTERN,
                                                description="The name students use.")],
                      file: Annotated[UploadFile, File(description="The dataset zip.")],
                      kind: Annotated[str | None, Form(pattern="^(" + "|".join(KINDS) + ")$")] = None,
                      course: Annotated[str | None, Form(max_length=128, pattern=r"^[\w.:@-]+$")] = None):
    _require_staff(principal)
    if principal.role == "staff":  # staff register for their own course
        own = _visible_to(request, principal)
        if course not in (None, own):
            raise APIError(403, "forbidden", f"staff of course {own} register datasets for that course only")
        course = own
    incoming = Path(st.data_dir) / "datasets" / "_incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    tmp = incoming / f"upload-{uuid.uuid4().hex}.zip"
    try:
        size = 0
        with open(tmp, "wb") as out:
            while chunk := await file.read(1 << 20):
                size += len(chunk)
                if size > st.max_dataset_bytes:
                    raise APIError(413, "payload_too_large", f"dataset zip larger than {st.max_dataset_bytes} bytes")
                out.write(chunk)
        try:
            record = await asyncio.to_thread(_service(request).add, name, tmp, principal.name, kind, course)
        except Exception as e:
            return _error(e)
    finally:
        tmp.unlink(missing_ok=True)
    return JSONResponse(record, status_code=201)


@router.get("/datasets", response_model=DatasetList, responses=ERRORS, summary="List registered datasets")
async def list_datasets(request: Request, principal: PrincipalDep,
                        kind: Annotated[str | None, Query(pattern="^(" + "|".join(KINDS) + ")$")] = None) -> dict:
    rows = await asyncio.to_thread(_service(request).list, kind, None, _visible_to(request, principal))
    return {"total": len(rows), "items": rows}


@router.get("/datasets/{name}", response_model=DatasetInfo, responses=ERRORS, summary="One registered dataset")
async def get_dataset(request: Request, principal: PrincipalDep, name: str):
    try:
        return await asyncio.to_thread(_service(request).get, name, _visible_to(request, principal))
    except Exception as e:
        return _error(e)


@router.delete("/datasets/{name}", responses=ERRORS, summary="Unregister a dataset and delete its files (staff)")
async def delete_dataset(request: Request, principal: PrincipalDep, name: str) -> dict:
    _require_staff(principal)
    try:
        if principal.role == "staff":  # only their course's datasets (a shared or another course's: not found)
            record = await asyncio.to_thread(_service(request).get, name, _visible_to(request, principal))
            if record.get("course") is None:
                raise APIError(403, "forbidden", "a dataset shared by all courses is removed by an admin")
        await asyncio.to_thread(_service(request).remove, name)
    except Exception as e:
        return _error(e)
    return {"deleted": name}

