"""The attacker's view: a real tutor server (uvicorn subprocess, auth on) with two student
keys, two bot keys, an admin key and a monitor key; the sleeper test tool for cheap jobs.
Its temporary folder (TMPDIR) is the server's own, so a test can see what uploads leave."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import ROOT, key_clients, launch_server, stop_server

SECRET = "zanzibar7secret"  # written into a temp folder that jobs must never read


@pytest.fixture(scope="session")
def sec_server(tmp_path_factory):
    data = tmp_path_factory.mktemp("sec-data")
    tmp = data / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TUTOR_DATA_DIR": str(data), "TUTOR_AUTH": "on", "TUTOR_LLM_BACKEND": "none",
           "TUTOR_INDEX_DIR": str(data / "index"), "PYTHONUNBUFFERED": "1", "TMPDIR": str(tmp),
           "TUTOR_EXTRA_TOOLS": "sleeper=tests.jobs.sleeper_tool", "TUTOR_OWNER_MAX_CONCURRENT": "2",
           "TUTOR_BOT_MAX_CONCURRENT": "3", "TUTOR_MAX_BODY_BYTES": "100000", "TUTOR_MAX_UPLOAD_BYTES": "300000",
           "TUTOR_MAX_IMAGE_PIXELS": "4000000", "TUTOR_OWNER_ARTIFACT_MB": "8", "TUTOR_RATE_LIMIT_PER_MINUTE": "100000",
           "TUTOR_JOB_SLOTS_CPU": "2"}
    keys = [("admin", "admin", []), ("bot", "bot", []), ("capped", "bot", ["--max-jobs", "2"]),
            ("alice", "student", []), ("bob", "student", []), ("monitor", "monitor", [])]
    info, proc = launch_server(data, env, keys)
    info["tmp"] = tmp
    yield info
    stop_server(proc)


@pytest.fixture(scope="session")
def as_(sec_server):
    """as_("alice") → an httpx client with alice's key; as_(None) without a key."""
    with key_clients(sec_server, timeout=120) as make:
        yield make


def wait_job(c: httpx.Client, job_id: str, timeout: float = 180) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = c.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not end in {timeout} s")


def assert_json_error(r: httpx.Response, *statuses: int) -> dict:
    """A refusal as the API promises it: one of `statuses` (any 4xx if none given), JSON
    {"error": {"code", "message"}}, and nothing that names a server folder."""
    if statuses:
        assert r.status_code in statuses, (r.status_code, r.text[:500])
    else:
        assert 400 <= r.status_code < 500, (r.status_code, r.text[:500])
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers.get("content-type")
    body = r.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    assert_no_server_paths(r.text)
    return body["error"]


SERVER_PATHS = [str(ROOT), "/tmp/", "/root", "/home/", "site-packages", "Traceback", "/usr/lib"]


def assert_no_server_paths(text: str, extra: tuple[str, ...] = ()) -> None:
    for needle in (*SERVER_PATHS, *extra):
        assert needle not in text, f"{needle!r} leaked: …{text[max(0, text.find(needle) - 200): text.find(needle) + 200]}…"
    # any absolute path of 3+ components that is not one of the API's own URLs
    m = re.search(r"(?<![\w:/.])/(?!v1/)[\w.-]+/[\w.-]+/[\w.-]+", text)
    assert m is None, f"absolute path leaked: {m.group(0)}"
