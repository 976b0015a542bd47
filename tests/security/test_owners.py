"""Cross-owner access on every route: bob (a student with no runs) and a bot try to read,
use or cancel alice's jobs, artifacts, events, comparisons, checkpoints, outputs and
threads. The route list comes from the app itself: a new route without a probe here
fails `test_every_route_has_a_cross_owner_probe`."""

from __future__ import annotations

import io
import sqlite3

import numpy as np
import pytest
from PIL import Image

from tests.security.conftest import assert_json_error, assert_no_server_paths, wait_job

# (method, path) → the test below that checks it; routes with no owner data say why
PROBES = {
    ("POST", "/v1/chat"): "test_threads_and_chat_commands_are_per_owner",
    ("POST", "/v1/chat/stream"): "test_threads_and_chat_commands_are_per_owner",
    ("POST", "/v1/chat/completions"): "test_threads_and_chat_commands_are_per_owner",
    ("GET", "/v1/models"): "no owner data (a constant list)",
    ("POST", "/v1/search"): "no owner data (the course materials are shared)",
    ("GET", "/v1/tools"): "no owner data (tool schemas)",
    ("POST", "/v1/jobs"): "test_submit_acts_only_as_the_key",
    ("GET", "/v1/jobs"): "test_job_routes_hide_other_owners",
    ("GET", "/v1/jobs/{job_id}"): "test_job_routes_hide_other_owners",
    ("POST", "/v1/jobs/{job_id}/cancel"): "test_job_routes_hide_other_owners",
    ("GET", "/v1/jobs/{job_id}/events"): "test_job_routes_hide_other_owners",
    ("GET", "/v1/jobs/{job_id}/artifacts/{name}"): "test_job_routes_hide_other_owners",
    ("GET", "/v1/runs/compare"): "test_compare_and_outputs_are_per_owner",
    ("GET", "/v1/outputs/{name}"): "test_compare_and_outputs_are_per_owner",
    ("POST", "/v1/predict/{tool}"): "test_predict_never_uses_another_owners_checkpoint",
    ("GET", "/v1/feedback"): "test_feedback_is_admin_only",
    ("GET", "/v1"): "no owner data (name and version)",
    ("GET", "/v1/vision/models"): "no owner data (the pretrained models)",
    ("POST", "/v1/vision/{model}"): "test_vision_results_are_per_owner",
    ("GET", "/v1/vision/results/{result_id}"): "test_vision_results_are_per_owner",
    ("GET", "/v1/vision/results/{result_id}/image"): "test_vision_results_are_per_owner",
    ("GET", "/v1/datasets"): "test_datasets_are_changed_by_staff_only",
    ("GET", "/v1/datasets/{name}"): "test_datasets_are_changed_by_staff_only",
    ("POST", "/v1/datasets"): "test_datasets_are_changed_by_staff_only",
    ("DELETE", "/v1/datasets/{name}"): "test_datasets_are_changed_by_staff_only",
}
# course routes (tutor/courses): every route × role, staff of one course against another, in their own suite
COURSES = "tests/courses/test_access.py (every course route × role; staff of A cannot touch B)"
PROBES.update({(m, p): COURSES for m, p in (
    ("POST", "/v1/courses"), ("GET", "/v1/courses"), ("GET", "/v1/courses/{course_id}"),
    ("PATCH", "/v1/courses/{course_id}"), ("GET", "/v1/me"),
    ("POST", "/v1/courses/{course_id}/materials"), ("GET", "/v1/courses/{course_id}/materials"),
    ("GET", "/v1/courses/{course_id}/materials/{material_id}"),
    ("PUT", "/v1/courses/{course_id}/materials/{material_id}"),
    ("DELETE", "/v1/courses/{course_id}/materials/{material_id}"),
    ("GET", "/v1/courses/{course_id}/homework"), ("POST", "/v1/courses/{course_id}/homework"),
    ("DELETE", "/v1/courses/{course_id}/homework/{item_id}"), ("GET", "/v1/courses/{course_id}/stats"),
    ("GET", "/v1/courses/{course_id}/stats/export"), ("GET", "/v1/courses/{course_id}/conversations"),
    ("GET", "/v1/courses/{course_id}/conversations/{ref}"), ("GET", "/v1/courses/{course_id}/audit"))})
PROBES[("POST", "/v1/chat/feedback")] = "tests/courses/test_stats.py (another owner's thread is a 404)"



def test_every_route_has_a_cross_owner_probe():
    from fastapi.routing import APIRoute

    from tutor.api.main import create_app
    from tutor.settings import Settings

    app = create_app(Settings(auth="on", ui=False), tutor=object(), jobs=object(), start_scheduler=False,
                     mount_ui=False)
    spec = app.openapi()
    routes = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops if p.startswith("/v1")}
    hidden = {(m, r.path) for r in app.routes if isinstance(r, APIRoute) and r.path.startswith("/v1")
              and not r.include_in_schema and "{rest:path}" not in r.path and r.path != "/v1/"
              for m in r.methods}
    missing = (routes | hidden) - set(PROBES)
    assert not missing, f"routes without a cross-owner probe in {__file__}: {sorted(missing)}"
    for name in PROBES.values():
        assert name.startswith(("no owner data", "tests/courses/")) or name in globals(), name


@pytest.fixture(scope="module")
def alice_job(as_):
    """A finished job of alice's with an artifact."""
    c = as_("alice")
    r = c.post("/v1/jobs", json={"tool": "sleeper", "preset": "smoke", "config": {"label": "alice-private"}})
    assert r.status_code == 201, r.text
    return wait_job(c, r.json()["id"])


@pytest.fixture(scope="module")
def alice_cnn(as_):
    c = as_("alice")
    r = c.post("/v1/jobs", json={"tool": "cnn", "preset": "smoke", "config": {"channels": 4}})
    assert r.status_code == 201, r.text
    job = wait_job(c, r.json()["id"], timeout=600)
    assert job["status"] == "succeeded", job
    return job


def _png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray((np.random.default_rng(0).random((28, 28)) * 255).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def test_job_routes_hide_other_owners(as_, alice_job):
    jid = alice_job["id"]
    assert alice_job["status"] == "succeeded" and alice_job["artifacts"]
    name = alice_job["artifacts"][0]["name"]
    for who in ("bob", "bot", "capped"):
        c = as_(who)
        assert jid not in {j["id"] for j in c.get("/v1/jobs", params={"limit": 500}).json()["items"]}
        for method, path in [("GET", f"/v1/jobs/{jid}"), ("POST", f"/v1/jobs/{jid}/cancel"),
                             ("GET", f"/v1/jobs/{jid}/events"), ("GET", f"/v1/jobs/{jid}/artifacts/{name}")]:
            err = assert_json_error(c.request(method, path), 404)
            assert "alice" not in err["message"]
        # same answer as for a job that does not exist: nothing tells bob the id is taken
        assert c.get(f"/v1/jobs/{jid}").json()["error"]["message"] == \
            c.get("/v1/jobs/000000000000").json()["error"]["message"].replace("000000000000", jid)
    c = as_("alice")
    assert c.get(f"/v1/jobs/{jid}/artifacts/{name}").status_code == 200
    assert c.get(f"/v1/jobs/{jid}").json()["status"] == "succeeded"  # bob's cancel did nothing


def test_bot_sees_only_its_own_users(as_):
    bot, capped = as_("bot"), as_("capped")
    mine = bot.post("/v1/jobs", json={"tool": "sleeper", "preset": "smoke", "user": "u1"}).json()
    other = capped.post("/v1/jobs", json={"tool": "sleeper", "preset": "smoke", "user": "u1"}).json()
    assert mine["owner"] == "bot:u1" and other["owner"] == "capped:u1"
    assert bot.get(f"/v1/jobs/{mine['id']}").status_code == 200
    assert_json_error(bot.get(f"/v1/jobs/{other['id']}"), 404)
    assert_json_error(capped.get(f"/v1/jobs/{mine['id']}"), 404)
    ids = {j["id"] for j in bot.get("/v1/jobs", params={"limit": 500}).json()["items"]}
    assert mine["id"] in ids and other["id"] not in ids
    assert_json_error(as_("alice").get(f"/v1/jobs/{mine['id']}"), 404)
    for c, j in ((bot, mine), (capped, other)):
        wait_job(c, j["id"])


def test_submit_acts_only_as_the_key(as_):
    r = as_("bob").post("/v1/jobs", json={"tool": "sleeper", "preset": "smoke", "user": "alice"})
    assert r.status_code == 201 and r.json()["owner"] == "bob"  # a student's `user` is ignored
    wait_job(as_("bob"), r.json()["id"])
    for user in ("alice/../bob", "u:2", "a" * 65, "../../etc", "ü", "a b"):
        assert_json_error(as_("bot").post("/v1/jobs", json={"tool": "sleeper", "preset": "smoke", "user": user}), 422)


def test_compare_and_outputs_are_per_owner(as_, alice_job):
    a = as_("alice")
    cmp = a.get("/v1/runs/compare", params={"tool": "sleeper"}).json()
    assert cmp["png"].startswith("/v1/outputs/") and cmp["html"].startswith("/v1/outputs/")
    assert_no_server_paths(str(cmp))
    png = a.get(cmp["png"])
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    html = a.get(cmp["html"])
    assert html.status_code == 200 and "attachment" in html.headers["content-disposition"]
    b = as_("bob")
    assert_json_error(b.get(cmp["png"]), 404)
    assert_json_error(b.get("/v1/runs/compare", params={"tool": "sleeper", "ids": alice_job["id"]}), 404)
    err = assert_json_error(as_("capped").get("/v1/runs/compare", params={"tool": "sleeper"}), 404)
    assert err["code"] == "no_runs"  # not alice's runs
    assert_json_error(as_("bot").get(cmp["png"], params={"user": "alice"}), 404)  # that is bot:alice, not alice
    for name in ("..%2F..%2Ftutor.db", "%2E%2E", "%2E", "%2Fetc%2Fpasswd", "a" * 200, "x.png%00.txt"):
        assert_json_error(a.get("/v1/outputs/" + name), 404, 422)


def test_predict_never_uses_another_owners_checkpoint(as_, alice_cnn):
    files = {"file": ("digit.png", _png(), "image/png")}
    r = as_("alice").post("/v1/predict/cnn", files=files)
    assert r.status_code == 200 and r.json()["job_id"] == alice_cnn["id"]
    for who in ("bob", "bot"):
        err = assert_json_error(as_(who).post("/v1/predict/cnn", files=files), 404)
        assert err["code"] == "no_checkpoint" and alice_cnn["id"] not in err["message"]
        assert_json_error(as_(who).post("/v1/predict/cnn", files=files, data={"job_id": alice_cnn["id"]}), 404)


def test_latest_checkpoint_is_exact_owner(sec_server, alice_cnn):
    """JobService.latest_checkpoint (used by the API and the chat agent): only that owner."""
    from tutor.jobs.service import JobService
    from tutor.settings import Settings

    svc = JobService(Settings(data_dir=sec_server["data"]))
    path, job_id = svc.latest_checkpoint("alice", "cnn")
    assert job_id == alice_cnn["id"] and path.endswith(".pt")
    for owner in ("bob", "alice:x", "ali", "ALICE", "bot:alice", ""):
        assert svc.latest_checkpoint(owner, "cnn") == (None, None)


def test_threads_and_chat_commands_are_per_owner(as_, alice_job, sec_server):
    a, b = as_("alice"), as_("bob")
    assert a.post("/v1/chat", json={"message": "/mode hint", "thread_id": "shared"}).json()["mode"] == "hint"
    r = b.post("/v1/chat", json={"message": "/mode", "thread_id": "shared"}).json()
    assert "explain" in r["answer"]  # bob's thread 'shared' is his own
    jid = alice_job["id"]
    for message in ("/jobs", f"/status {jid}", f"/cancel {jid}", "/compare sleeper"):
        echoes = jid in message  # "/status ID" may repeat the id it was given, nothing more

        def private(text: str) -> bool:
            return "alice-private" in text or "alice" in text or (not echoes and jid in text)

        r = b.post("/v1/chat", json={"message": message, "thread_id": "probe"})
        assert r.status_code == 200 and not private(r.text), r.text
        if echoes:
            assert "не найдена" in r.json()["answer"] or "not found" in r.json()["answer"]
        with b.stream("POST", "/v1/chat/stream", json={"message": message, "thread_id": "probe2"}) as s:
            assert not private(s.read().decode())
        oa = b.post("/v1/chat/completions", json={"model": "tutor", "messages": [{"role": "user", "content": message}]})
        assert oa.status_code == 200 and not private(oa.text)
        # a bot speaking for user 'alice' is bot:alice, not the student alice
        r = as_("bot").post("/v1/chat", json={"message": message, "thread_id": "probe", "user": "alice"})
        assert "alice-private" not in r.text and (echoes or jid not in r.text)
    assert a.get(f"/v1/jobs/{jid}").json()["status"] == "succeeded"
    with sqlite3.connect(sec_server["data"] / "tutor.db") as db:
        owners = dict(db.execute("SELECT id, user FROM chat_threads WHERE id LIKE '%/shared'").fetchall())
    assert owners == {"alice/shared": "alice", "bob/shared": "bob"}
    # a thread id is a database key, never a file name; '/' would step into another key's threads
    for tid in ("../alice/shared", "a/b", "x" * 129, "x" * 1000, "t\x00", "t t", "a\\b", ""):
        assert_json_error(b.post("/v1/chat", json={"message": "hi", "thread_id": tid}), 422)


def test_feedback_is_admin_only(as_):
    for who in ("alice", "bot", "monitor"):
        assert_json_error(as_(who).get("/v1/feedback"), 403)
    assert as_("admin").get("/v1/feedback").status_code == 200


async def test_chat_upload_is_checked_and_uses_only_the_own_checkpoint(sec_server, alice_cnn, tmp_path):
    """The chat path (UI and CLI attachments → TutorService.node_predict): the same owner-only
    checkpoint lookup and the same upload checks as the API."""
    from tests.security.test_uploads import png_declaring
    from tutor.agent.service import TutorService
    from tutor.jobs.service import JobService
    from tutor.settings import Settings

    st = Settings(data_dir=sec_server["data"], index_dir=sec_server["data"] / "index", llm_backend="none",
                  max_image_pixels=4_000_000)
    svc = TutorService(st, jobs=JobService(st))
    good, bomb = tmp_path / "digit.png", tmp_path / "bomb.png"
    good.write_bytes(_png())
    bomb.write_bytes(png_declaring(20000, 20000))

    async def turn(user, path):
        final = None
        async for ev in svc.chat(f"sec/{user}-{path.name}", user, "Что на этом изображении? Проверь моей моделью", attachments=[
                {"name": path.name, "path": str(path), "mime": "image/png"}]):
            final = ev if ev.type == "final" else final
        return final

    ok = await turn("alice", good)
    assert ok.prediction is not None and ok.prediction.checkpoint_job == alice_cnn["id"], ok.answer
    refused = await turn("alice", bomb)
    assert "too many pixels" in refused.answer or "pixels" in refused.answer, refused.answer
    assert str(tmp_path) not in refused.answer
    none = await turn("bob", good)
    assert none.error == "no_checkpoint" and alice_cnn["id"] not in none.answer


def test_vision_results_are_per_owner(as_):
    """A pretrained model's result (and its drawing) belongs to whoever uploaded the photo."""
    a, b = as_("alice"), as_("bob")
    r = a.post("/v1/vision/imagenet", files={"file": ("digit.png", _png(), "image/png")})
    assert r.status_code == 200, r.text
    rid = r.json()["id"]
    assert a.get(f"/v1/vision/results/{rid}").status_code == 200
    assert a.get(f"/v1/vision/results/{rid}/image").status_code == 200
    for who in (b, as_("bot")):
        assert_json_error(who.get(f"/v1/vision/results/{rid}"), 404)
        assert_json_error(who.get(f"/v1/vision/results/{rid}/image"), 404)


def test_datasets_are_changed_by_staff_only(as_, sec_server):
    """Registered datasets are course data: everyone may list them (never their paths), only
    staff/admins add or remove them."""
    from tutor.datasets.samples import sample_zip

    zip_path = sample_zip("csv", sec_server["data"] / "probe.zip")
    for who in ("alice", "bot"):
        c = as_(who)
        with open(zip_path, "rb") as f:
            assert_json_error(c.post("/v1/datasets", data={"name": "probe"}, files={"file": ("p.zip", f, "application/zip")}), 403)
        assert_json_error(c.delete("/v1/datasets/probe"), 403)
    admin = as_("admin")
    with open(zip_path, "rb") as f:
        r = admin.post("/v1/datasets", data={"name": "probe"}, files={"file": ("p.zip", f, "application/zip")})
    assert r.status_code in (200, 201), r.text
    listed = as_("alice").get("/v1/datasets")
    assert listed.status_code == 200 and "probe" in listed.text and str(sec_server["data"]) not in listed.text
    assert as_("alice").get("/v1/datasets/probe").status_code == 200
    assert_json_error(as_("alice").get("/v1/datasets/nosuch"), 404)
    assert admin.delete("/v1/datasets/probe").status_code in (200, 204)
