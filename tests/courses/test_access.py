"""Every course route × every role against the real server: admins everything, a course's
staff their own course only (staff of A cannot touch B), students read their course and its
deadlines and get 403 for the staff routes, bots the same as students of their course, and a
course that does not exist is 403 for non-admins (ids cannot be probed), 404 for admins."""

from __future__ import annotations

import pytest

ROLES = ("admin", "staff-a", "staff-b", "alice", "bob", "bot", "bot-a", "dana")


def statuses(as_, method: str, path: str, **kw) -> dict[str, int]:
    out = {}
    for who in ROLES:
        r = as_(who).request(method, path, **kw)
        assert r.headers["content-type"].startswith(("application/json", "text/csv", "application/x-ndjson")), r.text
        if r.status_code >= 400:
            body = r.json()["error"]
            assert body["code"] and body["message"], body
        out[who] = r.status_code
    return out


def expect(ok: tuple[str, ...], code: int = 200, denied: int = 403) -> dict[str, int]:
    return {who: code if who in ok else denied for who in ROLES}


MANAGE_A = ("admin", "staff-a")
READ_A = ("admin", "staff-a", "alice", "bot-a")


@pytest.mark.parametrize("method,path", [
    ("GET", "/v1/courses/a/materials"),
    ("GET", "/v1/courses/a/stats"),
    ("GET", "/v1/courses/a/stats/export?table=questions&format=csv"),
    ("GET", "/v1/courses/a/stats/export?table=runs&format=jsonl"),
    ("GET", "/v1/courses/a/conversations"),
    ("GET", "/v1/courses/a/audit"),
])
def test_staff_routes_of_course_a(as_, method, path):
    assert statuses(as_, method, path) == expect(MANAGE_A)


def test_course_reads_and_writes_by_role(as_):
    assert statuses(as_, "GET", "/v1/courses/a") == expect(READ_A)
    assert statuses(as_, "GET", "/v1/courses/a/homework") == expect(READ_A)
    assert statuses(as_, "GET", "/v1/courses/b") == expect(("admin", "staff-b", "bob"))
    # the demo course: its students (a key without a course) and admins
    assert statuses(as_, "GET", "/v1/courses/demo") == expect(("admin", "dana"))
    assert statuses(as_, "PATCH", "/v1/courses/b", json={"name": "Курс B"}) == expect(("admin", "staff-b"))
    # a homework item with a bad body is a 422 for staff, still a 403 for everyone else
    bad = {"id": "x", "title": "t", "deadline": "not a date", "patterns": ["дз"]}
    assert statuses(as_, "POST", "/v1/courses/a/homework", json=bad) == {
        **expect(()), "admin": 422, "staff-a": 422}
    # uploads and deletes: students and other courses' staff get 403 before anything is read
    files = {"file": ("x.md", b"# x\n\ntext", "text/markdown")}
    for who in ("staff-b", "alice", "bob", "bot", "bot-a", "dana"):
        r = as_(who).post("/v1/courses/a/materials", files=files)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", (who, r.text)
        r = as_(who).delete("/v1/courses/a/materials/0123456789ab")
        assert r.status_code == 403, (who, r.text)
        r = as_(who).delete("/v1/courses/a/homework/hw1")
        assert r.status_code == 403, (who, r.text)


def test_listing_creating_and_unknown_courses(as_):
    ids = {who: [c["id"] for c in as_(who).get("/v1/courses").json()["items"]] for who in ROLES}
    assert {"a", "b", "c", "demo"} <= set(ids["admin"])
    assert ids["staff-a"] == ["a"] and ids["alice"] == ["a"] and ids["bob"] == ["b"] and ids["bot-a"] == ["a"]
    assert ids["dana"] == ["demo"] and ids["bot"] == []
    # only admins create courses; a taken id is a 409, a bad one a 422
    new = {"id": "tmp-course", "name": "Временный"}
    assert statuses(as_, "POST", "/v1/courses", json=new) == {**expect(()), "admin": 201}
    assert as_("admin").post("/v1/courses", json=new).status_code == 409
    assert as_("admin").post("/v1/courses", json={"id": "Bad Id!", "name": "x"}).status_code == 422
    assert as_("admin").post("/v1/courses", json={"id": "ok", "name": "x",
                                                  "settings": {"minutes_per_week": -1}}).status_code == 422
    # a course that does not exist: 404 for admins, 403 for everyone else (no probing of ids)
    assert statuses(as_, "GET", "/v1/courses/nope/stats") == {**expect(()), "admin": 404}
    r = as_(None).get("/v1/courses/a")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


def test_staff_of_a_cannot_touch_b(as_):
    staff_a = as_("staff-a")
    for method, path, kw in (("GET", "/v1/courses/b/materials", {}), ("GET", "/v1/courses/b/stats", {}),
                             ("PATCH", "/v1/courses/b", {"json": {"settings": {"minutes_per_week": 1}}}),
                             ("POST", "/v1/courses/b/materials", {"files": {"file": ("x.md", b"# x\n\ny")}}),
                             ("GET", "/v1/courses/b/conversations/0123456789abcdef", {}),
                             ("GET", "/v1/courses/b/audit", {})):
        r = staff_a.request(method, path, **kw)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", (path, r.text)
    assert as_("admin").get("/v1/courses/b").json()["minutes_per_week"] is None  # the PATCH did nothing


def test_me_shows_the_course_and_the_week(as_):
    me = as_("alice").get("/v1/me").json()
    assert me["role"] == "student" and me["course"]["id"] == "a" and me["usage"]["owner"] == "alice"
    assert as_("dana").get("/v1/me").json()["course"]["id"] == "demo"
    assert as_("staff-b").get("/v1/me").json()["course"]["id"] == "b"
    assert as_("admin").get("/v1/me").json()["course"] is None
    bot = as_("bot-a").get("/v1/me", params={"user": "tg42"}).json()
    assert bot["owner"] == "bot-a:tg42" and bot["course"]["id"] == "a"


def test_chat_course_field(as_):
    """A student cannot chat in another course; an admin can name any existing one."""
    r = as_("alice").post("/v1/chat", json={"message": "привет", "thread_id": "x", "course": "b"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = as_("admin").post("/v1/chat", json={"message": "/course", "thread_id": "adm", "course": "nope"})
    assert r.status_code == 404
    r = as_("admin").post("/v1/chat", json={"message": "/course", "thread_id": "adm", "course": "b"})
    assert r.status_code == 200 and r.json()["course"] == "b" and "Курс B" in r.json()["answer"]
