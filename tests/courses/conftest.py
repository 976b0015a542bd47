"""One real tutor server for every courses test (uvicorn subprocess, auth on, extractive
answers, the project corpus as the shared index, the sleeper test tool for cheap jobs) with
three courses and a key for every role:

    a      Курс A: staff-a (staff), alice (student), bot-a (a bot bound to it)
    b      Курс B: staff-b (staff), bob (student)
    c      Курс C: carol (student) — the budget test's own course, nothing else touches it
    demo   the default install's course: dana (a student key without a course)
    admin, bot (an unbound bot: each chat picks its course with /course)
"""

from __future__ import annotations

import io
import os
import time
import zipfile

import httpx
import pytest

from tests.api.conftest import ROOT, key_clients, launch_server, stop_server

KEYS = [("admin", "admin", []), ("staff-a", "staff", ["--course", "a"]), ("staff-b", "staff", ["--course", "b"]),
        ("alice", "student", ["--course", "a"]), ("bob", "student", ["--course", "b"]),
        ("carol", "student", ["--course", "c"]), ("dana", "student", []), ("bot", "bot", []),
        ("bot-a", "bot", ["--course", "a"])]


@pytest.fixture(scope="session")
def course_server(tmp_path_factory):
    data = tmp_path_factory.mktemp("courses-data")
    env = {**os.environ, "TUTOR_DATA_DIR": str(data), "TUTOR_AUTH": "on", "TUTOR_LLM_BACKEND": "none",
           "TUTOR_INDEX_DIR": str(data / "index"), "PYTHONUNBUFFERED": "1",
           "TUTOR_EXTRA_TOOLS": "sleeper=tests.jobs.sleeper_tool", "TUTOR_RATE_LIMIT_PER_MINUTE": "100000",
           "TUTOR_OWNER_MAX_CONCURRENT": "3", "TUTOR_JOB_SLOTS_CPU": "2", "TUTOR_MAX_MATERIAL_BYTES": "2000000"}
    keys = prepare(data)
    info, proc = launch_server(data, env, [], corpus=ROOT / "corpus")
    info["keys"] = keys
    yield info
    stop_server(proc)


def prepare(data) -> dict[str, str]:
    """The courses and keys, made in this process on the server's database (what `courses create` and
    `keys create --course` do, without a CLI start per key: those are tested in test_units.py)."""
    from tutor.api.keys import KeyStore
    from tutor.courses.service import CourseService
    from tutor.db import make_engine
    from tutor.settings import Settings

    st = Settings(data_dir=data, index_dir=data / "index", database_url=f"sqlite:///{data / 'tutor.db'}")
    engine = make_engine(st.database_url)
    courses = CourseService(st, engine)
    for cid, name in (("a", "Курс A"), ("b", "Курс B"), ("c", "Курс C")):
        courses.create(cid, name, created_by="test")
    store = KeyStore(engine)
    made = {}
    for name, role, extra in KEYS:
        made[name] = store.create(name, role, course=extra[1] if extra else None)
    engine.dispose()
    return made


@pytest.fixture(scope="session")
def as_(course_server):
    """as_("alice") → an httpx client with alice's key; as_(None) without a key."""
    with key_clients(course_server, timeout=180) as make:
        yield make


def wait_ready(c: httpx.Client, course: str, material_id: str, timeout: float = 60) -> dict:
    """The material once it is indexed (ready or failed); the issue's promise is 'within a minute'."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = c.get(f"/v1/courses/{course}/materials/{material_id}").json()
        if m["status"] in ("ready", "failed"):
            return m
        time.sleep(0.3)
    raise AssertionError(f"material {material_id} not indexed within {timeout} s: {m}")


def wait_job(c: httpx.Client, job_id: str, timeout: float = 180) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = c.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def chat(c: httpx.Client, message: str, thread: str, **body) -> dict:
    r = c.post("/v1/chat", json={"message": message, "thread_id": thread, **body})
    assert r.status_code == 200, r.text
    return r.json()


def search_sources(c: httpx.Client, query: str, k: int = 8) -> list[str]:
    r = c.post("/v1/search", json={"query": query, "k": k})
    assert r.status_code == 200, r.text
    return [h["source"] for h in r.json()["hits"]]


def zip_bytes(files: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()
