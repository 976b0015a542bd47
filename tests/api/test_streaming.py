"""Streaming endpoints: SSE framing on the wire, and a client that disconnects mid-stream.

A disconnect cancels the turn (counted in tutor_chat_cancelled_total, nothing half-done is
stored in the thread, and the agent does not go on after the job ends), but never the job
that the turn submitted: that one still runs to `succeeded`."""

import json
import re
import sqlite3
import time
import uuid

import httpx
import pytest

from tutor.api.keys import KeyStore
from tutor.db import make_engine


@pytest.fixture(scope="module")
def streamer(server):
    """A student key of this module's own (rate limits are per key)."""
    name = f"streamer-{uuid.uuid4().hex[:6]}"
    engine = make_engine(f"sqlite:///{server['data'] / 'tutor.db'}")
    try:
        key = KeyStore(engine).create(name, "student", rate_limit_per_minute=10_000)
        monitor = KeyStore(engine).create(name + "-monitor", "monitor", rate_limit_per_minute=10_000)
    finally:
        engine.dispose()
    with httpx.Client(base_url=server["base"], headers={"Authorization": f"Bearer {key}"}, timeout=120) as c:
        c.monitor_key = monitor
        yield name, c


def cancelled(c: httpx.Client, endpoint: str) -> float:
    # /metrics needs a monitor (or admin) key: the one of this module
    text = c.get("/metrics", headers={"Authorization": f"Bearer {c.monitor_key}"}).text
    m = re.search(rf'^tutor_chat_cancelled_total{{endpoint="{endpoint}"}} ([\d.e+]+)$', text, re.M)
    return float(m.group(1)) if m else 0.0


def messages(server, thread: str) -> list[tuple[str, str]]:
    with sqlite3.connect(server["data"] / "tutor.db") as db:
        return db.execute("SELECT role, content FROM chat_messages WHERE thread_id = ? ORDER BY id", (thread,)).fetchall()


def wait_for(predicate, timeout: float, step: float = 0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def test_sse_framing(streamer):
    _, c = streamer
    with c.stream("POST", "/v1/chat/stream", json={"message": "Что такое пулинг?", "thread_id": "framing"}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        assert r.headers.get("cache-control") == "no-store" or "no-cache" in r.headers.get("cache-control", "")
        raw = b"".join(r.iter_raw()).decode()
    assert raw.endswith("\r\n\r\n")  # every event, the last one included, ends with a blank line
    blocks = [b for b in raw.split("\r\n\r\n") if b and not b.startswith(":")]  # ':' lines are keep-alive pings
    events = []
    for block in blocks:
        fields = [line.split(": ", 1) for line in block.split("\r\n")]
        assert [k for k, _ in fields] == ["id", "event", "data"], block
        eid, event, data = (v for _, v in fields)
        payload = json.loads(data)  # one line of JSON: newlines inside the answer are escaped
        assert payload["type"] == event
        events.append((int(eid), event, payload))
    assert [e[0] for e in events] == list(range(1, len(events) + 1))
    kinds = [e[1] for e in events]
    assert kinds[0] == "sources" and kinds[-1] == "final" and kinds.count("final") == 1
    assert "".join(p["text"] for _, k, p in events if k == "token") == events[-1][2]["answer"]


def test_disconnect_cancels_the_turn_but_not_its_job(server, streamer):
    name, c = streamer
    before = {ep: cancelled(c, ep) for ep in ("chat_stream", "chat_completions")}

    # 1. /v1/chat/stream: leave right after the job was submitted
    with c.stream("POST", "/v1/chat/stream", json={"message": "/run cnn smoke", "thread_id": "gone"}) as r:
        lines = r.iter_lines()
        for line in lines:
            if line.startswith("data:") and '"job_submitted"' in line:
                job_id = json.loads(line[5:])["job_id"]
                break
        else:
            pytest.fail("no job_submitted event")
    # 2. the OpenAI-compatible stream: a second, longer job (queued behind the first), leave after its id
    with c.stream("POST", "/v1/chat/completions", json={"model": "tutor", "stream": True, "user": "gone-oa",
                                                        "messages": [{"role": "user", "content": "/run dqn smoke total_steps=40000"}]}) as r:
        text = ""
        for line in r.iter_lines():
            if line.startswith("data:") and line != "data: [DONE]":
                text += json.loads(line[5:])["choices"][0]["delta"].get("content") or ""
                m = re.search(r"\b([0-9a-f]{12})\b", text)
                if m:
                    second = m.group(1)
                    break
        else:
            pytest.fail(f"no job id in {text!r}")

    for ep in before:
        assert wait_for(lambda: cancelled(c, ep) >= before[ep] + 1, 10), f"{ep} turn not cancelled"
    assert c.get("/healthz").json() == {"status": "ok"}
    # the jobs are untouched by the disconnects
    assert c.get(f"/v1/jobs/{second}").json()["status"] in ("queued", "running")
    assert c.post(f"/v1/jobs/{second}/cancel").status_code == 200  # (only to free the CPU)
    done = wait_for(lambda: c.get(f"/v1/jobs/{job_id}").json()["status"] in ("succeeded", "failed", "cancelled"), 240)
    job = c.get(f"/v1/jobs/{job_id}").json()
    assert done and job["status"] == "succeeded", job
    assert "learning_curves.png" in {a["name"] for a in job["artifacts"]}

    # the cancelled turn stored nothing, and did not resume when its job ended
    time.sleep(1.5)  # > the agent's job-event poll interval
    thread = f"{name}/gone"
    assert messages(server, thread) == []
    # the thread is usable: the next turn answers and is stored as one user/assistant pair
    r = c.post("/v1/chat", json={"message": "/jobs", "thread_id": "gone"}).json()
    assert job_id in r["answer"] and "succeeded" in r["answer"]
    assert [role for role, _ in messages(server, thread)] == ["user", "assistant"]
