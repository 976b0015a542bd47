"""The parts of tutor/courses without a server: an old database gets its course columns,
homework matching on student wording, failure reasons, file names and content checks, the
budget arithmetic, and the CLI's refusals."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from tests.api.conftest import ROOT


def test_an_old_database_gets_the_course_columns(tmp_path):
    """Tables made before courses (no `course` columns) are upgraded in place on start; rows stay."""
    db = tmp_path / "old.db"
    eng = create_engine(f"sqlite:///{db}")
    with eng.begin() as c:
        c.execute(text("CREATE TABLE api_keys (id INTEGER PRIMARY KEY, name VARCHAR(128) NOT NULL UNIQUE, "
                       "prefix VARCHAR(16) NOT NULL, key_hash VARCHAR(64) NOT NULL UNIQUE, role VARCHAR(16) NOT NULL, "
                       "rate_limit_per_minute INTEGER, max_concurrent_jobs INTEGER, revoked BOOLEAN NOT NULL, "
                       "created_at FLOAT NOT NULL, last_used_at FLOAT)"))
        c.execute(text("INSERT INTO api_keys VALUES (1, 'old', 'tk_x', 'h', 'student', NULL, NULL, 0, 1.0, NULL)"))
        c.execute(text("CREATE TABLE chat_threads (id VARCHAR(256) PRIMARY KEY, user VARCHAR(256) NOT NULL, "
                       "mode VARCHAR(16) NOT NULL, language VARCHAR(8), pending JSON, created_at FLOAT NOT NULL, "
                       "updated_at FLOAT NOT NULL)"))
        c.execute(text("INSERT INTO chat_threads VALUES ('old/t', 'old', 'explain', 'ru', NULL, 1.0, 1.0)"))
        c.execute(text("CREATE TABLE jobs (id VARCHAR(32) PRIMARY KEY, tool VARCHAR(64) NOT NULL, preset VARCHAR(16), "
                       "config JSON NOT NULL, owner VARCHAR(256) NOT NULL, priority INTEGER NOT NULL, "
                       "status VARCHAR(16) NOT NULL, cancel_requested INTEGER NOT NULL, error TEXT, device VARCHAR(32), "
                       "uses_gpu INTEGER NOT NULL, metrics JSON, result JSON, run_dir TEXT, worker_pid INTEGER, "
                       "attempts INTEGER NOT NULL, created_at FLOAT NOT NULL, started_at FLOAT, finished_at FLOAT)"))
        c.execute(text("CREATE TABLE ui_users (username VARCHAR(128) PRIMARY KEY, salt VARCHAR(64) NOT NULL, "
                       "pw_hash VARCHAR(128) NOT NULL, role VARCHAR(16) NOT NULL, created_at FLOAT NOT NULL)"))
    from tutor.agent.threads import ThreadStore
    from tutor.api.keys import KeyStore
    from tutor.db import make_engine
    from tutor.jobs.store import JobStore
    from tutor.ui.store import UserStore

    eng = make_engine(f"sqlite:///{db}")
    KeyStore(eng), ThreadStore(eng), JobStore(eng), UserStore(eng)
    insp = inspect(eng)
    for table in ("api_keys", "chat_threads", "jobs", "ui_users"):
        assert "course" in {c["name"] for c in insp.get_columns(table)}, table
    assert "estimate_s" in {c["name"] for c in insp.get_columns("jobs")}
    assert ThreadStore(eng).get("old/t")["course"] is None  # an old thread: the demo course's
    assert KeyStore(eng).list()[0]["name"] == "old"


def test_homework_items_match_student_wording():
    from tutor.courses.policy import HomeworkItem, ItemInput

    item = ItemInput(id="hw2", title="ДЗ 2: CNN на MNIST", patterns=["дз 2", "cnn mnist", "свёрточная сеть mnist"],
                     deadline="2030-01-01T00:00:00", tool="cnn", config={"dataset": "mnist"})
    hw = HomeworkItem.of({"id": item.id, **item.row()})
    assert hw.deadline == pytest.approx(1893456000.0)  # a time without a zone is UTC
    for q in ("как сделать ДЗ №2?", "второе дз: не понимаю", "Свёрточную сеть на MNIST как обучить?",
              "help with CNN on mnist"):
        assert hw.matches_question(q), q
    for q in ("как сделать дз 3?", "что такое mnist?", "свёртка"):
        assert not hw.matches_question(q), q
    assert hw.matches_config("cnn", {"dataset": "MNIST", "epochs": 3}) and not hw.matches_config("cnn", {"dataset": "digits"})
    assert not hw.matches_config("rnn", {"dataset": "mnist"})
    assert hw.open(now=time.time()) and not hw.open(now=1893456001.0)

    class H:  # a retrieved passage from the item's section
        source, section = "courses/a/homework.md", "ДЗ > Задание 2"

    sec = HomeworkItem(id="x", title="x", deadline=0.0, section="homework.md")
    assert sec.matches_question("а что там сдавать?", [H()]) and not sec.matches_question("а что там сдавать?", [])
    with pytest.raises(ValueError):
        ItemInput(id="hw", title="t", deadline="2030-01-01", patterns=["и в на"])  # no words to match
    with pytest.raises(ValueError):
        ItemInput(id="hw", title="t", deadline="2030-01-01", tool="teleporter")
    with pytest.raises(ValueError):
        ItemInput(id="hw", title="t", deadline="2030-01-01").row()  # nothing would recognise it


def test_failure_reasons_names_and_contents(tmp_path):
    from tutor.courses.materials import check_content, safe_filename, source_name
    from tutor.courses.stats import failure_reason, to_csv

    assert failure_reason("timeout: ran longer than 3600 s") == "timeout"
    assert failure_reason("worker killed by SIGKILL (out of memory or killed by the system)") == "worker killed by SIGKILL"
    assert failure_reason("RuntimeError: sleeper crashed on purpose (reference ab12cd34)") == "RuntimeError"
    assert failure_reason(None) == "unknown"
    assert safe_filename("../../etc/Лекция 1 (v2).MD") == "Лекция_1_v2.md"
    assert safe_filename("C:\\Users\\x\\hw.ipynb") == "hw.ipynb"
    assert source_name("a", "data/courses/a/materials/0123456789ab/week1/lec.md") == "courses/a/week1/lec.md"
    assert source_name("a", "corpus/lectures/04_cnn.md") == "corpus/lectures/04_cnn.md"
    f = tmp_path / "f"
    f.write_bytes("Лекция в cp1251".encode("cp1251"))
    assert check_content(f, "lec.txt") is None
    f.write_bytes(b"\x89PNG\r\n\x1a\n....")
    assert "binary" in check_content(f, "lec.md")
    f.write_text(json.dumps({"cells": "nope"}))
    assert "cells" in check_content(f, "nb.ipynb")
    assert to_csv([{"question": "=HYPERLINK(\"http://x\")"}]).splitlines()[1].startswith("\"'=")


def test_week_usage_counts_the_counted_device(tmp_path):
    from tutor.courses.budget import week_usage
    from tutor.db import make_engine
    from tutor.jobs.store import JobStore

    eng = make_engine(f"sqlite:///{tmp_path / 'b.db'}")
    store = JobStore(eng)
    now = time.time()
    done = store.insert("cnn", "smoke", {}, "ann", 0, False, course="a", estimate_s=30)
    old = store.insert("cnn", "smoke", {}, "ann", 0, False)
    with eng.begin() as c:  # ran 120 s, finished a minute ago; one run 8 days ago does not count
        c.execute(text("UPDATE jobs SET status='succeeded', started_at=:s, finished_at=:f WHERE id=:i"),
                  {"s": now - 180, "f": now - 60, "i": done})
        c.execute(text("UPDATE jobs SET status='succeeded', started_at=:s, finished_at=:f WHERE id=:i"),
                  {"s": now - 8 * 86400, "f": now - 8 * 86400 + 600, "i": old})
    store.insert("cnn", "smoke", {}, "ann", 0, False, estimate_s=90)  # queued: its estimate counts
    u = week_usage(eng, "ann", 5.0, on_gpu_server=False, now=now)
    assert u.used_minutes == pytest.approx(2.0, abs=0.01) and u.queued_minutes == pytest.approx(1.5)
    assert u.left_minutes == pytest.approx(1.5, abs=0.01) and u.fits(60) and not u.fits(120)
    assert u.share(60) == pytest.approx(20.0)
    gpu = week_usage(eng, "ann", 5.0, on_gpu_server=True, now=now)  # on a GPU server only GPU jobs count
    assert gpu.used_minutes == 0 and gpu.kind == "GPU"


def test_catalogue_has_both_languages():
    from tutor.agent.messages import CATALOGUE

    for key in ("budget_share", "budget_exceeded", "homework_locked", "homework_hints", "course_set", "course_bound",
                "course_unknown", "course_current"):
        ru, en = CATALOGUE[key]
        assert ru and en and ru != en


def test_cli_refuses_unknown_courses_and_roles(tmp_path):
    import os

    env = {**os.environ, "TUTOR_DATA_DIR": str(tmp_path), "TUTOR_INDEX_DIR": str(tmp_path / "index")}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "tutor", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=120)

    r = run("keys", "create", "x", "--role", "staff", "--course", "nope")
    assert r.returncode == 2 and "no course 'nope'" in r.stderr
    r = run("keys", "create", "x", "--role", "admin", "--course", "demo")
    assert r.returncode == 2 and "--course is for" in r.stderr
    r = run("courses", "create", "Bad!", "--name", "x")
    assert r.returncode == 2 and "course id" in r.stderr
    assert run("courses", "create", "ok-1", "--name", "Курс", "--minutes-per-week", "90").returncode == 0
    r = run("courses", "homework", "ok-1", "add", "hw1", "--title", "T", "--deadline", "not-a-date", "--pattern", "дз")
    assert r.returncode == 2 and "deadline" in r.stderr
    r = run("users", "create", "u1", "--password", "12345678", "--role", "staff", "--course", "nope")
    assert r.returncode == 2 and "no course 'nope'" in r.stderr
    bad = Path(tmp_path / "x.exe")
    bad.write_bytes(b"MZ")
    r = run("courses", "materials", "ok-1", "add", str(bad))
    assert r.returncode == 2 and "not allowed" in r.stderr
