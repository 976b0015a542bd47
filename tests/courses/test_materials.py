"""Materials uploaded live: 202, indexed in the background, searchable by the course's
students within a minute and never by another course's; replace and delete; hostile
uploads refused with nothing left behind; the demo course's own handbook stays its own;
a bot chat picks its course with /course."""

from __future__ import annotations

import json
import time

from tests.courses.conftest import chat, search_sources, wait_ready, zip_bytes

FACT_A = ("# Организация курса A\n\n## Семинар по квантованию\n\n"
          "Семинар по квантованию нейросетей проходит в аудитории 4217 по пятницам. "
          "Преподаватель семинара — Зиновий Пафнутьевич Квантов.\n")
FACT_A2 = ("# Организация курса A\n\n## Семинар по квантованию\n\n"
           "Семинар по квантованию перенесён в аудиторию 5309 и проходит по средам.\n")
NOTEBOOK = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# Прунинг\n", "Прунинг удаляет веса с малой "
                                                                           "величиной; ноутбук курса A про прунинг."]},
                      {"cell_type": "code", "metadata": {}, "source": ["print('prune')"], "outputs": [],
                       "execution_count": None}],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_live_upload_is_searchable_by_the_course_only(as_):
    staff, alice, bob, dana = as_("staff-a"), as_("alice"), as_("bob"), as_("dana")
    t0 = time.time()
    r = staff.post("/v1/courses/a/materials", files={"file": ("seminar.md", FACT_A.encode(), "text/markdown")})
    assert r.status_code == 202, r.text
    m = r.json()
    assert m["status"] in ("queued", "indexing", "ready") and m["name"] == "seminar.md" and m["files"] == ["seminar.md"]
    assert "path" not in json.dumps(m) and "/materials/" not in json.dumps(m)
    m = wait_ready(staff, "a", m["id"])
    assert m["status"] == "ready" and m["chunks"] >= 1, m
    took = time.time() - t0
    assert took < 60, took

    query = "в какой аудитории семинар по квантованию"
    assert "courses/a/seminar.md" in search_sources(alice, query)[:3]
    assert not any(s.startswith("courses/") for s in search_sources(bob, query))  # course B never sees it
    assert not any(s.startswith("courses/") for s in search_sources(dana, query))  # nor the demo course
    # the chat of A's student answers from it, with its citation; B's student gets nothing of it
    ans = chat(alice, "В какой аудитории проходит семинар по квантованию?", "mat-1")
    assert "4217" in ans["answer"] and any(s["source"] == "courses/a/seminar.md" for s in ans["sources"]), ans
    ans_b = chat(bob, "В какой аудитории проходит семинар по квантованию?", "mat-1")
    assert "4217" not in ans_b["answer"] and not any(s["source"].startswith("courses/") for s in ans_b["sources"])
    # listed with its index status
    items = staff.get("/v1/courses/a/materials").json()["items"]
    assert [i["name"] for i in items if i["id"] == m["id"]] == ["seminar.md"]

    # a second file with the same name is a 409 (names are what students see cited); replace it instead
    r = staff.post("/v1/courses/a/materials", files={"file": ("seminar.md", FACT_A2.encode())})
    assert r.status_code == 409 and r.json()["error"]["code"] == "material_exists"
    r = staff.put(f"/v1/courses/a/materials/{m['id']}", files={"file": ("seminar.md", FACT_A2.encode())})
    assert r.status_code == 202, r.text
    assert wait_ready(staff, "a", m["id"])["status"] == "ready"
    ans = chat(alice, "В какой аудитории проходит семинар по квантованию?", "mat-2")
    assert "5309" in ans["answer"] and "4217" not in ans["answer"], ans["answer"]

    # deleted: gone from the course's search at once
    assert staff.delete(f"/v1/courses/a/materials/{m['id']}").status_code == 200
    assert not any(s.startswith("courses/a/seminar") for s in search_sources(alice, query))
    assert staff.get(f"/v1/courses/a/materials/{m['id']}").status_code == 404
    audit = [(x["actor"], x["action"]) for x in staff.get("/v1/courses/a/audit").json()["items"]]
    assert ("staff-a", "upload_material") in audit and ("staff-a", "delete_material") in audit


def test_zip_of_materials_and_a_notebook(as_):
    staff, alice = as_("staff-a"), as_("alice")
    data = zip_bytes({"week5/pruning.ipynb": json.dumps(NOTEBOOK), "week5/notes.txt": "Заметки недели 5: дистилляция "
                      "знаний переносит поведение большой модели в маленькую.", "week5/page.html":
                      "<html><body><h1>Страница</h1><p>Доклад про LoRA адаптеры в четверг.</p></body></html>"})
    r = staff.post("/v1/courses/a/materials", files={"file": ("week5.zip", data, "application/zip")})
    assert r.status_code == 202, r.text
    m = wait_ready(staff, "a", r.json()["id"])
    assert m["status"] == "ready" and m["kind"] == "zip" and sorted(m["files"]) == ["notes.txt", "page.html",
                                                                                      "pruning.ipynb"], m
    assert "courses/a/pruning.ipynb" in search_sources(alice, "ноутбук про прунинг весов")[:3]
    assert "courses/a/page.html" in search_sources(alice, "доклад про LoRA адаптеры")[:3]


def test_hostile_uploads_are_refused_and_leave_nothing(as_, course_server):
    staff = as_("staff-a")
    before = staff.get("/v1/courses/a/materials").json()["total"]
    cases = [
        ("lecture.md", b"%PDF-1.4 binary pretending to be markdown\x00\x01"),  # content is not what the name says
        ("slides.pdf", b"just text, not a PDF at all"),
        ("nb.ipynb", b"{not json"),
        ("virus.exe", b"MZ\x90\x00"),
        ("noext", b"text"),
        ("evil.zip", zip_bytes({"../../escape.md": "# x\n\nescape"})),
        ("mixed.zip", zip_bytes({"ok.md": "# ok\n\ntext", "run.sh": "rm -rf /"})),
        ("fake.zip", b"PK\x03\x04 this is not really a zip"),
        ("bomb.zip", zip_bytes({"big.txt": "a" * 30_000_000})),
    ]
    for name, data in cases:
        r = staff.post("/v1/courses/a/materials", files={"file": (name, data)})
        assert r.status_code == 422, (name, r.status_code, r.text)
        err = r.json()["error"]
        assert err["code"] == "material_rejected" and str(course_server["data"]) not in err["message"], (name, err)
    r = staff.post("/v1/courses/a/materials", files={"file": ("huge.md", b"x" * 2_100_000)})
    assert r.status_code == 413
    assert staff.get("/v1/courses/a/materials").json()["total"] == before
    incoming = course_server["data"] / "courses" / "_incoming"
    assert not incoming.exists() or not any(incoming.iterdir())


def test_other_courses_never_see_the_demo_handbook(as_):
    """The demo course's own handbook (corpus/course/: dates, homework, grading) answers the demo's
    students; a student of another course gets the shared lectures, never another course's logistics."""
    q = "какой датасет в дз по детекции"
    assert any(s.startswith("corpus/course/") for s in search_sources(as_("dana"), q))
    for who in ("alice", "bob"):
        srcs = search_sources(as_(who), q)
        assert srcs and not any(s.startswith("corpus/course/") for s in srcs), (who, srcs)
    ans = chat(as_("bob"), "Когда лекция про трансформеры?", "hb-1")
    assert not any(s["source"].startswith("corpus/course/") for s in ans["sources"]), ans["sources"]


def test_a_bot_chat_picks_its_course(as_):
    staff, bot, bot_a = as_("staff-a"), as_("bot"), as_("bot-a")
    r = staff.post("/v1/courses/a/materials", files={"file": ("bot-facts.md", "# Консультации\n\nКонсультации по курсу "
                                                              "A проходят в кабинете 777 по вторникам.".encode())})
    assert wait_ready(staff, "a", r.json()["id"])["status"] == "ready"
    q = "Где проходят консультации по курсу?"
    first = chat(bot, q, "tg-100", user="u1")
    assert first["course"] == "demo" and "777" not in first["answer"]
    assert chat(bot, "/course a", "tg-100", user="u1")["course"] == "a"
    again = chat(bot, q, "tg-100", user="u1")
    assert again["course"] == "a" and "777" in again["answer"], again["answer"]
    # an unknown course: a clear error, the chat keeps its course
    bad = chat(bot, "/course zzz", "tg-100", user="u1")
    assert bad["error"] == "course_not_found" and chat(bot, "/course", "tg-100", user="u1")["course"] == "a"
    # a bot bound to a course cannot switch; its chats are in its course from the first message
    bound = chat(bot_a, "/course b", "tg-200", user="u2")
    assert bound["error"] == "course_bound" and bound["course"] == "a"
    assert "777" in chat(bot_a, q, "tg-200", user="u2")["answer"]
