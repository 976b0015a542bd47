import io
import json
import time

import httpx
import numpy as np
import pytest
from PIL import Image


def sse_events(response) -> list[tuple[str, dict, str | None]]:
    out, event, eid = [], None, None
    for line in response.iter_lines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("id:"):
            eid = line[3:].strip()
        elif line.startswith("data:"):
            data = line[5:].strip()
            out.append((event, json.loads(data) if data != "[DONE]" else data, eid))
    return out


def test_health_ready_and_metrics(client):
    assert client(None).get("/healthz").json() == {"status": "ok"}  # liveness: open, says nothing else
    for path in ("/readyz", "/metrics"):  # details of the server: admin (or monitor) keys only
        assert client(None).get(path).status_code == 401
        assert client("alice").get(path).status_code == 403
    c = client("admin")
    ready = c.get("/readyz").json()
    assert ready["checks"]["index"]["ok"] and ready["checks"]["database"]["ok"]
    assert "tutor_http_requests_total" in c.get("/metrics").text


def test_auth_errors_are_json(client):
    r = client(None).post("/v1/search", json={"query": "свёртка"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    r = httpx.post(client(None).base_url.join("/v1/search"), json={"query": "x"}, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.json()["error"]["message"] == "invalid API key"
    r = client("revoked").post("/v1/search", json={"query": "x"})
    assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]


def test_rate_limit_429_with_retry_after(client):
    c = client("limited")
    codes = [c.get("/v1/tools").status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3] == 429
    r = c.get("/v1/tools")
    assert int(r.headers["Retry-After"]) >= 1 and r.json()["error"]["code"] == "rate_limited"


def test_validation_and_limits(client):
    c = client()
    r = c.post("/v1/chat", json={"message": ""})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
    r = c.post("/v1/chat", json={"message": "hi", "unexpected": 1})
    assert r.status_code == 422
    r = c.post("/v1/chat", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    r = c.post("/v1/chat", json={"message": "a" * 300_000})
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    r = c.get("/v1/jobs/doesnotexist")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert c.post("/v1/search", json={"query": "x", "k": 0}).status_code == 422


def test_search_and_tools(client):
    c = client()
    hits = c.post("/v1/search", json={"query": "буфер воспроизведения DQN", "k": 3}).json()["hits"]
    assert hits[0]["source"].endswith("17_rl_dqn.md") and set(hits[0]) == {"text", "source", "section", "anchor", "score"}
    tools = {t["name"]: t for t in c.get("/v1/tools").json()}
    assert set(tools) == {"cnn", "detection", "segmentation", "rnn", "transformer", "gan", "dqn"}
    assert "epochs" in tools["cnn"]["config_schema"]["properties"] and "smoke" in tools["gan"]["presets"]


def test_chat_json_and_stream(client):
    c = client()
    r = c.post("/v1/chat", json={"message": "Зачем нужен паддинг в свёрточной сети?", "thread_id": "t1"}).json()
    assert r["intent"] == "question" and "[1]" in r["answer"] and r["sources"][0]["source"].endswith("04_cnn.md")
    with c.stream("POST", "/v1/chat/stream", json={"message": "What is experience replay?", "thread_id": "t2"}) as s:
        assert s.headers["content-type"].startswith("text/event-stream")
        events = sse_events(s)
    kinds = [e for e, _, _ in events]
    assert kinds[0] == "sources" and "token" in kinds and kinds[-1] == "final"
    assert "".join(d["text"] for e, d, _ in events if e == "token") == events[-1][1]["answer"]


def test_openai_client_compatibility(server):
    from openai import OpenAI

    oa = OpenAI(base_url=server["base"] + "/v1", api_key=server["keys"]["alice"])
    assert [m.id for m in oa.models.list().data] == ["tutor"]
    r = oa.chat.completions.create(model="tutor", messages=[{"role": "user", "content": "Что такое пулинг?"}])
    text = r.choices[0].message.content
    assert "[1]:" in text and "04_cnn.md" in text  # footnotes
    stream = oa.chat.completions.create(model="tutor", stream=True,
                                        messages=[{"role": "user", "content": "Что такое пулинг?"}])
    chunks = [ch.choices[0].delta.content or "" for ch in stream if ch.choices]
    assert "".join(chunks).strip() == text.strip()


def test_jobs_lifecycle_events_artifacts_compare_and_predict(client):
    c = client()
    r = c.post("/v1/jobs", json={"tool": "cnn", "preset": "smoke", "config": {"channels": 4}})
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["status"] in ("queued", "running") and job["config"]["channels"] == 4
    with c.stream("GET", f"/v1/jobs/{job['id']}/events") as s:
        events = sse_events(s)
    assert events[-1][1]["payload"]["status"] == "succeeded"
    seqs = [int(i) for _, _, i in events]
    assert seqs == sorted(seqs)
    with c.stream("GET", f"/v1/jobs/{job['id']}/events", headers={"Last-Event-ID": str(seqs[2])}) as s:
        resumed = sse_events(s)
    assert [int(i) for _, _, i in resumed] == seqs[3:]
    done = c.get(f"/v1/jobs/{job['id']}").json()
    assert done["status"] == "succeeded" and "test_accuracy" in done["metrics"]
    names = {a["name"] for a in done["artifacts"]}
    png = c.get(f"/v1/jobs/{job['id']}/artifacts/learning_curves.png")
    assert "learning_curves.png" in names and png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
    assert c.get(f"/v1/jobs/{job['id']}/artifacts/nope.png").status_code == 404
    assert client("bot").get(f"/v1/jobs/{job['id']}").status_code == 404  # not the bot's job

    buf = io.BytesIO()
    Image.fromarray((np.random.default_rng(0).random((28, 28)) * 255).astype(np.uint8)).save(buf, "PNG")
    r = c.post("/v1/predict/cnn", files={"file": ("digit.png", buf.getvalue(), "image/png")})
    assert r.status_code == 200, r.text
    assert r.json()["prediction"]["label"] in [str(i) for i in range(10)]
    r = c.post("/v1/predict/cnn", files={"file": ("x.txt", b"hello", "text/plain")})
    assert r.status_code == 415
    r = c.post("/v1/predict/cnn", files={"file": ("x.png", b"not an image", "image/png")})
    assert r.status_code == 415

    cmp = c.get("/v1/runs/compare", params={"tool": "cnn"}).json()
    assert cmp["metric"] == "test_accuracy" and cmp["rows"][0]["id"] == job["id"]
    assert c.get("/v1/runs/compare", params={"tool": "gan"}).status_code == 404


def test_job_validation_quota_and_cancel(client):
    c = client("bot")
    assert c.post("/v1/jobs", json={"tool": "teleport"}).json()["error"]["code"] == "unknown_tool"
    r = c.post("/v1/jobs", json={"tool": "dqn", "preset": "smoke", "config": {"total_steps": -1}})
    assert r.status_code == 422 and "total_steps" in r.json()["error"]["message"]
    a = c.post("/v1/jobs", json={"tool": "dqn", "preset": "full", "user": "u1"}).json()
    b = c.post("/v1/jobs", json={"tool": "dqn", "preset": "full", "user": "u1"}).json()
    r = c.post("/v1/jobs", json={"tool": "dqn", "preset": "full", "user": "u1"})
    assert r.status_code == 429 and r.json()["error"]["code"] == "quota_exceeded" and "Retry-After" in r.headers
    for j in (a, b):
        c.post(f"/v1/jobs/{j['id']}/cancel")
    deadline = time.time() + 30
    while time.time() < deadline:
        states = {c.get(f"/v1/jobs/{j['id']}").json()["status"] for j in (a, b)}
        if states == {"cancelled"}:
            break
        time.sleep(0.5)
    assert states == {"cancelled"}
    listed = c.get("/v1/jobs").json()
    assert {a["id"], b["id"]} <= {j["id"] for j in listed["items"]}


def test_openapi_documents_every_model(client):
    spec = client(None).get("/openapi.json").json()
    assert {"/v1/chat", "/v1/chat/completions", "/v1/jobs", "/v1/search", "/v1/predict/{tool}"} <= set(spec["paths"])
    assert spec["components"]["schemas"]["ChatRequest"].get("examples")
