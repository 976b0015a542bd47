"""Leaks, names and limits against the real server: a failed job tells the student one line
and a reference (the traceback is in the log and for admins), events and comparisons carry
URLs not paths, key and user names cannot step into another namespace, a bot cannot
multiply its job limit by varying `user`, students cannot raise priority, compare/predict
files stay under a per-owner quota, and a damaged database stops the server with one
paragraph."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

from tests.api.conftest import ROOT
from tests.security.conftest import assert_json_error, assert_no_server_paths, wait_job
from tutor.names import KEY_NAME_MAX, OWNER_MAX, THREAD_ID_MAX, THREAD_KEY_MAX, USER_MAX


def test_failed_job_error_is_one_line_with_a_reference(as_, sec_server):
    c = as_("alice")
    job = wait_job(c, c.post("/v1/jobs", json={"tool": "sleeper", "preset": "smoke",
                                               "config": {"crash": True, "steps": 4}}).json()["id"])
    assert job["status"] == "failed"
    err = job["error"]
    assert "crashed on purpose" in err and "Traceback" not in err and "\n" not in err and "reference" in err
    assert job["error_detail"] is None  # students never get the traceback
    assert_no_server_paths(json.dumps(job))
    with c.stream("GET", f"/v1/jobs/{job['id']}/events") as s:
        assert_no_server_paths(s.read().decode())
    ref = err.rsplit("reference ", 1)[1].rstrip(")")
    log = (sec_server["data"] / "server.log").read_text()
    assert ref in log and "Traceback" in log.split(ref, 1)[1][:3000]  # the operator finds it by reference
    admin = as_("admin").get(f"/v1/jobs/{job['id']}").json()
    assert "Traceback" in admin["error_detail"] and "sleeper_tool.py" in admin["error_detail"]


def test_events_and_job_carry_urls_not_paths(as_):
    c = as_("alice")
    job = wait_job(c, c.post("/v1/jobs", json={"tool": "sleeper", "preset": "smoke"}).json()["id"])
    with c.stream("GET", f"/v1/jobs/{job['id']}/events") as s:
        text = s.read().decode()
    assert_no_server_paths(text)
    arts = [json.loads(line[5:]) for line in text.splitlines() if line.startswith("data:") and '"artifact"' in line]
    assert arts and all(a["payload"]["url"].startswith(f"/v1/jobs/{job['id']}/artifacts/") for a in arts)
    assert all(c.get(a["payload"]["url"]).status_code == 200 for a in arts)
    assert all(a["url"] == f"/v1/jobs/{job['id']}/artifacts/{a['name']}" for a in job["artifacts"])


def test_key_names_cannot_enter_another_namespace(sec_server):
    env = sec_server["env"]
    for bad in ("tgbot:u2", "bot:u1", "a/b", "ui", "local", "x" * (KEY_NAME_MAX + 1), "-x", "ключ", "a b", ""):
        r = subprocess.run([sys.executable, "-m", "tutor", "keys", "create", bad, "--role", "student"], cwd=ROOT,
                           env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and "error" in r.stderr and "Traceback" not in r.stderr, (bad, r.stderr)


def test_a_legacy_key_with_a_colon_is_refused(sec_server, as_):
    """A key named 'bot:u1' made before names were checked would act as the bot's user u1."""
    import httpx

    from tutor.api.keys import hash_key

    key = "tk_legacy-colon-key-for-the-test-0001"
    with sqlite3.connect(sec_server["data"] / "tutor.db") as db:
        db.execute("INSERT INTO api_keys (name, prefix, key_hash, role, revoked, created_at) VALUES (?,?,?,?,0,0)",
                   ("bot:u1", key[:10], hash_key(key), "student"))
    r = httpx.get(sec_server["base"] + "/v1/jobs", headers={"Authorization": f"Bearer {key}"})
    err = assert_json_error(r, 401)
    assert "name" in err["message"]


def test_longest_names_fit_the_columns(as_, sec_server):
    """The longest thread key and owner the code can build are stored and read back (SQLite
    does not enforce VARCHAR lengths, so the columns are also checked against the bounds
    that PostgreSQL would enforce)."""
    from tutor.agent.threads import messages, threads
    from tutor.jobs.store import jobs

    assert threads.c.id.type.length >= THREAD_KEY_MAX and messages.c.thread_id.type.length >= THREAD_KEY_MAX
    assert threads.c.user.type.length >= OWNER_MAX and jobs.c.owner.type.length >= OWNER_MAX
    name = "b" * KEY_NAME_MAX
    r = subprocess.run([sys.executable, "-m", "tutor", "keys", "create", name, "--role", "bot", "--json"], cwd=ROOT,
                       env=sec_server["env"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    import httpx

    c = httpx.Client(base_url=sec_server["base"], headers={"Authorization": f"Bearer {json.loads(r.stdout)['key']}"},
                     timeout=120)
    tid, user = "t" * THREAD_ID_MAX, "u" * USER_MAX
    assert c.post("/v1/chat", json={"message": "/mode hint", "thread_id": tid, "user": user}).status_code == 200
    job = c.post("/v1/jobs", json={"tool": "sleeper", "preset": "smoke", "user": user}).json()
    assert job["owner"] == f"{name}:{user}"
    wait_job(c, job["id"])
    with sqlite3.connect(sec_server["data"] / "tutor.db") as db:
        row = db.execute("SELECT id, user FROM chat_threads WHERE id = ?", (f"{name}/{tid}",)).fetchone()
    assert row == (f"{name}/{tid}", f"{name}:{user}") and len(row[0]) <= THREAD_KEY_MAX
    assert_json_error(c.post("/v1/chat", json={"message": "x", "thread_id": tid + "t", "user": user}), 422)
    assert_json_error(c.post("/v1/chat", json={"message": "x", "user": user + "u"}), 422)
    c.close()


def test_bot_cannot_multiply_its_job_limit_by_varying_user(as_):
    """TUTOR_BOT_MAX_CONCURRENT=3 on this server; 'capped' has --max-jobs 2."""
    for who, limit in (("bot", 3), ("capped", 2)):
        c = as_(who)
        made, codes = [], []
        for i in range(limit + 2):
            r = c.post("/v1/jobs", json={"tool": "sleeper", "config": {"steps": 200, "step_s": 0.1},
                                         "user": f"evader{i}"})
            codes.append(r.status_code)
            if r.status_code == 201:
                made.append(r.json()["id"])
            else:
                err = assert_json_error(r, 429)
                assert err["code"] == "quota_exceeded" and who in err["message"]
        assert codes == [201] * limit + [429, 429], (who, codes)
        for j in made:
            c.post(f"/v1/jobs/{j}/cancel")
        for j in made:
            wait_job(c, j)


def test_students_and_bots_cannot_raise_priority(as_):
    for who in ("alice", "bot"):
        err = assert_json_error(as_(who).post("/v1/jobs", json={"tool": "sleeper", "preset": "smoke", "priority": 5}),
                                403)
        assert "priority" in err["message"]
    low = as_("alice").post("/v1/jobs", json={"tool": "sleeper", "preset": "smoke", "priority": -3})
    assert low.status_code == 201 and low.json()["priority"] == -3  # yielding is allowed
    high = as_("admin").post("/v1/jobs", json={"tool": "sleeper", "preset": "smoke", "priority": 50})
    assert high.status_code == 201 and high.json()["priority"] == 50
    for j, c in ((low.json(), as_("alice")), (high.json(), as_("admin"))):
        wait_job(c, j["id"])


def test_compare_outputs_stay_under_the_owner_quota(as_, sec_server):
    """TUTOR_OWNER_ARTIFACT_MB=8 here; each comparison writes a ~5 MB HTML and a PNG."""
    from tutor.jobs.outputs import OwnerOutputs
    from tutor.settings import Settings

    c = as_("bob")
    wait_job(c, c.post("/v1/jobs", json={"tool": "sleeper", "preset": "smoke"}).json()["id"])
    outputs = OwnerOutputs(Settings(data_dir=sec_server["data"], owner_artifact_mb=8))
    urls = []
    for _ in range(3):
        cmp = c.get("/v1/runs/compare", params={"tool": "sleeper"}).json()
        urls.append(cmp["html"])
        assert outputs.usage("bob") <= 8_000_000
        import time

        time.sleep(1.1)  # the file names carry the second
    assert c.get(urls[-1]).status_code == 200
    assert_json_error(c.get(urls[0]), 404)  # the oldest went first


def test_damaged_database_stops_the_server_with_one_paragraph(tmp_path):
    (tmp_path / "tutor.db").write_bytes(b"this is not a database" * 100)
    env = {"PATH": "/usr/bin:/bin", "TUTOR_DATA_DIR": str(tmp_path), "TUTOR_INDEX_DIR": str(tmp_path / "index"),
           "HOME": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "tutor", "serve", "--no-ui", "--port", "1"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert str(tmp_path / "tutor.db") in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "move it aside" in r.stderr
