"""The staff view after a few scripted chats and runs: questions per day, topics by lecture,
'not found' and thumbs-down answers with their questions (no names), runs and failures by
reason, minutes per student; CSV/JSONL export; opening one conversation is logged; the staff
page (HTML) with its forms; students get 403."""

from __future__ import annotations

import csv
import io
import json
import time

from tests.courses.conftest import chat, wait_job, wait_ready

QUESTIONS = ["Зачем нужен паддинг в свёрточной сети?", "Что такое dropout и зачем он нужен?",
             "Что такое квантовые нейросети на кубитах?"]


def test_stats_after_scripted_chats_and_runs(as_):
    staff, alice, bob = as_("staff-a"), as_("alice"), as_("bob")
    answers = [chat(alice, q, "st-1") for q in QUESTIONS]
    not_covered = [q for q, a in zip(QUESTIONS, answers) if a["answer_style"] == "not_covered"]
    assert not_covered, [a["answer_style"] for a in answers]
    chat(bob, "Что такое квантовые нейросети на кубитах?", "st-b")  # course B: never in A's stats
    # a thumbs down on the last answer of a thread, with a comment for the staff
    chat(alice, QUESTIONS[1], "st-2")
    r = alice.post("/v1/chat/feedback", json={"thread_id": "st-2", "value": "down", "comment": "непонятно про маски"})
    assert r.status_code == 201, r.text
    assert alice.post("/v1/chat/feedback", json={"thread_id": "nope", "value": "down"}).status_code == 404
    assert bob.post("/v1/chat/feedback", json={"thread_id": "st-2", "value": "up"}).status_code == 404  # not his thread
    # runs: one through the chat, one that fails
    run = chat(alice, "/run sleeper smoke", "st-3")
    assert run["job"] and run["job"]["status"] == "succeeded", run
    r = alice.post("/v1/jobs", json={"tool": "sleeper", "preset": "smoke", "config": {"steps": 2, "crash": True}})
    assert r.status_code == 201, r.text
    assert wait_job(alice, r.json()["id"])["status"] == "failed"

    s = staff.get("/v1/courses/a/stats", params={"days": 7}).json()
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert s["course"]["id"] == "a" and s["questions"]["total"] >= 4
    assert any(d["day"] == today and d["questions"] >= 4 for d in s["questions"]["per_day"]), s["questions"]
    topics = {t["source"]: t for t in s["topics"]}
    assert topics["corpus/lectures/04_cnn.md"]["answers"] >= 1 and topics["corpus/lectures/04_cnn.md"]["title"]
    found = [x["question"] for x in s["not_found"]]
    assert all(q in found for q in not_covered) and s["answers"]["not_covered"] >= len(not_covered)
    assert not any("bob" in json.dumps(x) for x in s["not_found"])  # questions without who asked
    down = [f for f in s["thumbs_down"] if f["comment"] == "непонятно про маски"]
    assert down and down[0]["question"] == QUESTIONS[1] and down[0]["via"] == "api" and "alice" not in json.dumps(down)
    assert s["runs"]["by_tool"].get("sleeper", 0) >= 2 and s["runs"]["by_status"].get("failed", 0) >= 1
    assert any(f["reason"] == "RuntimeError" and f["tools"].get("sleeper") for f in s["failures"]), s["failures"]
    me = [u for u in s["usage"]["students"] if u["owner"] == "alice"]
    assert me and me[0]["minutes"] > 0 and me[0]["runs"] >= 2 and s["usage"]["kind"] in ("CPU", "GPU")
    # course B's stats know nothing of A
    sb = as_("staff-b").get("/v1/courses/b/stats").json()
    assert not any(u["owner"] == "alice" for u in sb["usage"]["students"])
    assert all(q not in [x["question"] for x in sb["not_found"]] for q in QUESTIONS[:2])
    assert alice.get("/v1/courses/a/stats").status_code == 403


def test_export_csv_and_jsonl(as_):
    staff = as_("staff-a")
    chat(as_("alice"), QUESTIONS[0], "ex-1")
    r = staff.get("/v1/courses/a/stats/export", params={"table": "questions", "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert any(row["question"] == QUESTIONS[0] for row in rows) and "alice" not in r.text
    assert {"day", "conversation", "question", "answer_style", "sources"} <= set(rows[0])
    r = staff.get("/v1/courses/a/stats/export", params={"table": "runs", "format": "jsonl"})
    runs = [json.loads(line) for line in r.text.splitlines()]
    assert runs and all({"tool", "status", "owner", "minutes"} <= set(x) for x in runs)
    for table in ("per_day", "topics", "not_found", "feedback", "failures", "usage"):
        r = staff.get("/v1/courses/a/stats/export", params={"table": table, "format": "jsonl"})
        assert r.status_code == 200, (table, r.text)
    assert staff.get("/v1/courses/a/stats/export", params={"table": "secrets"}).status_code == 422


def test_opening_a_conversation_is_an_audited_action(as_):
    staff = as_("staff-a")
    chat(as_("alice"), "Что такое батчнорм?", "conv-1")
    convs = staff.get("/v1/courses/a/conversations").json()["items"]
    assert convs and all(set(c) == {"conversation", "turns", "not_covered", "first_at", "last_at"} for c in convs)
    assert "alice" not in json.dumps(convs)
    ref = convs[0]["conversation"]  # the newest
    conv = staff.get(f"/v1/courses/a/conversations/{ref}").json()
    assert conv["owner"] == "alice" and any("батчнорм" in m["content"] for m in conv["messages"])
    audit = staff.get("/v1/courses/a/audit").json()["items"]
    assert (audit[0]["actor"], audit[0]["action"], audit[0]["target"]) == ("staff-a", "open_conversation", ref)
    assert audit[0]["detail"]["owner"] == "alice"
    lines = staff.get(f"/v1/courses/a/conversations/{ref}", params={"format": "jsonl"}).text.splitlines()
    assert len(lines) == len(conv["messages"])
    # another course's staff, a student, a reference that is not A's
    assert as_("staff-b").get(f"/v1/courses/a/conversations/{ref}").status_code == 403
    assert as_("alice").get(f"/v1/courses/a/conversations/{ref}").status_code == 403
    r = staff.get("/v1/courses/a/conversations/0123456789abcdef")
    assert r.status_code == 404 and r.json()["error"]["code"] == "conversation_not_found"


def test_staff_page(as_):
    staff = as_("staff-a")
    r = staff.get("/staff/courses/a")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), r.text
    page = r.text
    for part in ("Курс A", "Материалы", "Домашние задания", "Не найдено", "Запуски", "CPU-минуты" if "CPU" in page else "GPU"):
        assert part in page, part
    assert "<script" not in page and "default-src 'none'" in r.headers["content-security-policy"]
    # the forms: upload, then delete, through the page (303 back to it with a message)
    r = staff.post("/staff/courses/a/materials", files={"file": ("page-upload.md", "# С формы\n\nЗагружено через "
                                                                 "страницу преподавателя: аудитория 1001.".encode())},
                   follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/staff/courses/a?msg="), r.text
    mat = next(m for m in staff.get("/v1/courses/a/materials").json()["items"] if m["name"] == "page-upload.md")
    assert wait_ready(staff, "a", mat["id"])["status"] == "ready"
    assert "page-upload.md" in staff.get("/staff/courses/a").text
    r = staff.post(f"/staff/courses/a/materials/{mat['id']}/delete", follow_redirects=False)
    assert r.status_code == 303 and staff.get(f"/v1/courses/a/materials/{mat['id']}").status_code == 404
    # a rejected upload comes back as the page's message, not a traceback
    r = staff.post("/staff/courses/a/materials", files={"file": ("x.exe", b"MZ")}, follow_redirects=True)
    assert r.status_code == 200 and "not allowed" in r.text
    # others: 403 pages; no login: 401
    assert as_("alice").get("/staff/courses/a").status_code == 403
    assert as_("staff-b").get("/staff/courses/a").status_code == 403
    assert as_("staff-b").post("/staff/courses/a/materials/0123456789ab/delete").status_code == 403
    assert as_(None).get("/staff/courses/a").status_code == 401
    # the page's own downloads
    r = staff.get("/staff/courses/a/export", params={"table": "questions", "format": "csv"})
    assert r.status_code == 200 and r.text.startswith("day,")
