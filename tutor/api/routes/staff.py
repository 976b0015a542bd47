"""The staff page (HTML) of a course at /staff/courses/<id>, and its forms: materials (upload,
replace, delete), homework items, settings, and an audited conversation view.

Authentication: an API key (`Authorization: Bearer`, staff or admin), or the chat UI's login
(its cookie; the account's role staff/admin and its course are read from the database on
every request, so a changed role applies at once). A form posted with the cookie must come
from the page's own origin (Origin/Referer checked; the cookie is also SameSite=Lax), so
another site cannot make a logged-in staff member's browser delete a material.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi import Path as Path_
from fastapi.responses import HTMLResponse, RedirectResponse

from tutor.api.errors import APIError
from tutor.api.keys import Principal
from tutor.courses import COURSE_ID_PATTERN, ITEM_ID_PATTERN, CourseError
from tutor.courses import page

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
CourseId = Annotated[str, Path_(pattern=COURSE_ID_PATTERN, max_length=32)]
HTML_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                                           "frame-ancestors 'none'"}


class PageAuth(Exception):
    def __init__(self, status: int, text: str) -> None:
        self.status, self.text = status, text


def _ui_principal(request: Request) -> Principal | None:
    """The chat UI's logged-in account (its cookie), as a principal 'ui:<name>'."""
    import sys

    if "chainlit" not in sys.modules:  # the UI is not mounted: no cookie logins here
        return None
    from chainlit.auth import get_token_from_cookies
    from chainlit.auth.jwt import decode_jwt

    token = get_token_from_cookies(request.cookies)
    if not token:
        return None
    try:
        user = decode_jwt(token)
    except Exception:
        return None
    from tutor.ui.store import UserStore

    account = UserStore(request.app.state.engine).account(user.identifier)
    if account is None:
        return None
    return Principal(name=f"ui:{account['username']}", role=account["role"], course=account.get("course"))


def _principal(request: Request, posting: bool = False) -> Principal:
    if request.headers.get("authorization"):
        from tutor.api.deps import _authenticate

        try:
            return _authenticate(request)
        except APIError as e:
            raise PageAuth(e.status, e.message)
    if not request.app.state.auth_enabled:
        from tutor.api.keys import LOCAL

        return LOCAL
    p = _ui_principal(request)
    if p is None:
        raise PageAuth(401, "Войдите в чат (/) учётной записью преподавателя. / Log in to the chat UI as staff first.")
    if posting and not _same_origin(request):
        raise PageAuth(403, "the form was not sent from this site")
    return p


def _same_origin(request: Request) -> bool:
    from tutor.ui.mount import allowed_origins

    sent = request.headers.get("origin") or request.headers.get("referer")
    if not sent:
        return False
    parts = urlsplit(sent)
    origin = f"{parts.scheme}://{parts.netloc}"
    own = f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"
    return origin == own or origin in allowed_origins(request.app.state.settings)


def _services(request: Request):
    return request.app.state.tutor.services


def _guard(request: Request, course_id: str, posting: bool = False) -> Principal:
    p = _principal(request, posting)
    if not _services(request).courses.may_manage(p.role, p.course, course_id):
        raise PageAuth(403, f"Страница курса {course_id} — для его преподавателей. / Course staff only.")
    return p


def _fail(e: PageAuth) -> HTMLResponse:
    return HTMLResponse(page.message_page("tutor", e.text), status_code=e.status, headers=HTML_HEADERS)


def _back(course_id: str, msg: str) -> RedirectResponse:
    return RedirectResponse(f"/staff/courses/{quote(course_id)}?msg={quote(msg[:300])}", status_code=303)


@router.get("/staff")
async def staff_home(request: Request):
    try:
        p = _principal(request)
    except PageAuth as e:
        return _fail(e)
    courses = _services(request).courses
    mine = [c for c in await asyncio.to_thread(courses.list) if courses.may_manage(p.role, p.course, c.id)]
    if not mine:
        return _fail(PageAuth(403, "Эта страница — для преподавателей курса. / Course staff only."))
    if len(mine) == 1:
        return RedirectResponse(f"/staff/courses/{quote(mine[0].id)}", status_code=303)
    return HTMLResponse(page.course_list(mine), headers=HTML_HEADERS)


@router.get("/staff/courses/{course_id}")
async def course_page(course_id: CourseId, request: Request, msg: str | None = None):
    from tutor.api.routes.courses import _stats

    try:
        p = _guard(request, course_id)
    except PageAuth as e:
        return _fail(e)
    services = _services(request)
    courses = services.courses

    def gather():
        course = courses.get(course_id)
        stats = _stats(request).summary(course_id, 30)
        others = [c for c in courses.list() if courses.may_manage(p.role, p.course, c.id)]
        return page.course_page(course, stats, services.materials.list(course_id), stats["homework"],
                                courses.store.audit(course_id, 50), _stats(request).conversations(course_id, 30),
                                (msg or "")[:300] or None, others)

    try:
        return HTMLResponse(await asyncio.to_thread(gather), headers=HTML_HEADERS)
    except CourseError as e:
        return _fail(PageAuth(e.status, e.message))


@router.get("/staff/courses/{course_id}/conversations/{ref}")
async def conversation_page(course_id: CourseId, ref: Annotated[str, Path_(pattern=r"^[0-9a-f]{16}$")], request: Request):
    from tutor.api.routes.courses import _stats

    try:
        p = _guard(request, course_id)
    except PageAuth as e:
        return _fail(e)
    courses = _services(request).courses
    try:
        conv = await asyncio.to_thread(_stats(request).conversation, course_id, ref)
    except CourseError as e:
        return _fail(PageAuth(e.status, e.message))
    await asyncio.to_thread(courses.log, course_id, p.name, "open_conversation", ref, {"owner": conv["owner"], "via": "page"})
    return HTMLResponse(page.conversation_page(courses.get(course_id), conv), headers=HTML_HEADERS)


@router.get("/staff/courses/{course_id}/export")
async def export_page(course_id: CourseId, request: Request, table: str = "questions", format: str = "csv"):
    """The page's download links (the same tables as GET /v1/courses/{id}/stats/export)."""
    import json

    from fastapi.responses import PlainTextResponse

    from tutor.api.routes.courses import _stats
    from tutor.courses.stats import TABLES, to_csv, to_jsonl

    try:
        p = _guard(request, course_id)
    except PageAuth as e:
        return _fail(e)
    if table == "summary":
        data = await asyncio.to_thread(_stats(request).summary, course_id, 30)
        return PlainTextResponse(json.dumps(data, ensure_ascii=False, indent=1), media_type="application/json")
    if table not in TABLES or format not in ("csv", "jsonl"):
        return _fail(PageAuth(422, f"table: one of {', '.join(TABLES)}; format: csv or jsonl"))
    rows = await asyncio.to_thread(_stats(request).table, course_id, table, 30)
    await asyncio.to_thread(_services(request).courses.log, course_id, p.name, "export", table,
                            {"format": format, "via": "page"})
    body, mime = (to_csv(rows), "text/csv; charset=utf-8") if format == "csv" else \
        (to_jsonl(rows), "application/x-ndjson; charset=utf-8")
    return PlainTextResponse(body, media_type=mime, headers={
        "Content-Disposition": f'attachment; filename="{course_id}-{table}.{format}"'})


# ---- forms ------------------------------------------------------------------------------------------

async def _upload(request: Request, course_id: str, file: UploadFile, material_id: str | None):
    from tutor.api.routes.courses import _save_upload

    try:
        p = _guard(request, course_id, posting=True)
    except PageAuth as e:
        return _fail(e)
    services = _services(request)
    try:
        tmp = await _save_upload(request, file)
    except APIError as e:
        return _back(course_id, e.message)
    try:
        if material_id is None:
            rec = await asyncio.to_thread(services.materials.add, course_id, file.filename or "", tmp, p.name)
        else:
            rec = await asyncio.to_thread(services.materials.replace, course_id, material_id, file.filename or "", tmp,
                                          p.name)
    except CourseError as e:
        return _back(course_id, e.message)
    finally:
        tmp.unlink(missing_ok=True)
    await asyncio.to_thread(services.courses.log, course_id, p.name,
                            "upload_material" if material_id is None else "replace_material", rec["id"],
                            {"name": rec["name"], "via": "page"})
    return _back(course_id, f"{rec['name']}: принято, индексируется / accepted, indexing")


@router.post("/staff/courses/{course_id}/materials")
async def upload_form(course_id: CourseId, request: Request, file: Annotated[UploadFile, File()]):
    return await _upload(request, course_id, file, None)


@router.post("/staff/courses/{course_id}/materials/{material_id}/replace")
async def replace_form(course_id: CourseId, material_id: Annotated[str, Path_(pattern=r"^[0-9a-f]{12}$")],
                       request: Request, file: Annotated[UploadFile, File()]):
    return await _upload(request, course_id, file, material_id)


@router.post("/staff/courses/{course_id}/materials/{material_id}/delete")
async def delete_form(course_id: CourseId, material_id: Annotated[str, Path_(pattern=r"^[0-9a-f]{12}$")],
                      request: Request):
    try:
        p = _guard(request, course_id, posting=True)
    except PageAuth as e:
        return _fail(e)
    services = _services(request)
    try:
        await asyncio.to_thread(services.materials.remove, course_id, material_id)
    except CourseError as e:
        return _back(course_id, e.message)
    await asyncio.to_thread(services.courses.log, course_id, p.name, "delete_material", material_id, {"via": "page"})
    return _back(course_id, "удалено / deleted")


@router.post("/staff/courses/{course_id}/homework")
async def homework_form(course_id: CourseId, request: Request, id: Annotated[str, Form()], title: Annotated[str, Form()],
                        deadline: Annotated[str, Form()], patterns: Annotated[str, Form()] = "",
                        section: Annotated[str, Form()] = "", tool: Annotated[str, Form()] = "",
                        config: Annotated[str, Form()] = ""):
    from pydantic import ValidationError

    from tutor.courses.policy import ItemInput

    try:
        p = _guard(request, course_id, posting=True)
    except PageAuth as e:
        return _fail(e)
    cfg = dict(kv.split("=", 1) for kv in config.split() if "=" in kv)
    try:
        item = ItemInput(id=id.strip(), title=title.strip(), deadline=deadline.strip(),
                         patterns=[x.strip() for x in patterns.split(",") if x.strip()],
                         section=section.strip() or None, tool=tool.strip() or None, config=cfg)
        row = item.row()
    except (ValidationError, ValueError) as e:
        detail = "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors()) \
            if isinstance(e, ValidationError) else str(e)
        return _back(course_id, f"не сохранено / not saved: {detail}")
    courses = _services(request).courses
    await asyncio.to_thread(courses.store.put_item, course_id, item.id, created_by=p.name, **row)
    await asyncio.to_thread(courses.log, course_id, p.name, "put_homework", item.id, {"via": "page"})
    return _back(course_id, f"{item.id}: сохранено / saved")


@router.post("/staff/courses/{course_id}/homework/{item_id}/delete")
async def homework_delete_form(course_id: CourseId, item_id: Annotated[str, Path_(pattern=ITEM_ID_PATTERN)],
                               request: Request):
    try:
        p = _guard(request, course_id, posting=True)
    except PageAuth as e:
        return _fail(e)
    courses = _services(request).courses
    await asyncio.to_thread(courses.store.delete_item, course_id, item_id)
    await asyncio.to_thread(courses.log, course_id, p.name, "delete_homework", item_id, {"via": "page"})
    return _back(course_id, f"{item_id}: удалено / deleted")


@router.post("/staff/courses/{course_id}/settings")
async def settings_form(course_id: CourseId, request: Request, minutes_per_week: Annotated[str, Form()] = "",
                        homework_policy: Annotated[str, Form()] = "deadline"):
    try:
        p = _guard(request, course_id, posting=True)
    except PageAuth as e:
        return _fail(e)
    courses = _services(request).courses
    try:
        minutes = float(minutes_per_week) if minutes_per_week.strip() else None
        await asyncio.to_thread(courses.update, course_id, None,
                                {"minutes_per_week": minutes, "homework_policy": homework_policy})
    except (ValueError, CourseError) as e:
        return _back(course_id, f"не сохранено / not saved: {getattr(e, 'message', e)}")
    await asyncio.to_thread(courses.log, course_id, p.name, "update_course", None, {"via": "page"})
    return _back(course_id, "сохранено / saved")
