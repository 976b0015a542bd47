"""The weekly minutes budget of a course: the plan shows the run's share of the week, the
submission that would exceed it is refused with a clear message (chat and API), and the
student sees the week's usage. Course C (carol) is this test's own."""

from __future__ import annotations

from tests.courses.conftest import chat, wait_job


def test_budget_is_shown_and_enforced(as_):
    admin, carol = as_("admin"), as_("carol")
    # 0.3 min = 18 s a week; a sleeper run is estimated at 10 s by its cost model
    r = admin.patch("/v1/courses/c", json={"settings": {"minutes_per_week": 0.3}})
    assert r.status_code == 200 and r.json()["minutes_per_week"] == 0.3

    plan = chat(carol, "/run sleeper smoke steps=12 step_s=1.0", "b-1", plan_only=True)
    p = plan["plans"][0]
    assert round(p["budget_share"]) == 56 and "56 % вашего недельного лимита" in plan["answer"], plan["answer"]

    run = chat(carol, "/run sleeper smoke steps=12 step_s=1.0", "b-1")
    assert run["job"]["status"] == "succeeded", run
    assert "% вашего недельного лимита" in run["answer"]  # the queued run says its share too
    usage = carol.get("/v1/me").json()["usage"]
    assert usage["budget_minutes"] == 0.3 and usage["used_minutes"] >= 0.19 and usage["used_share"] > 60, usage

    # the next one does not fit: refused in the chat and by the API, with what is left and what to do
    again = chat(carol, "/run sleeper smoke steps=12 step_s=1.0", "b-2")
    assert again["error"] == "budget_exceeded" and not again["job_id"], again
    assert "недельном лимите" in again["answer"] and "smoke" in again["answer"]
    r = carol.post("/v1/jobs", json={"tool": "sleeper", "preset": "smoke", "config": {"steps": 1}})
    assert r.status_code == 429 and r.json()["error"]["code"] == "budget_exceeded", r.text
    assert "this week in course c" in r.json()["error"]["message"]

    # the staff see it against the budget
    s = admin.get("/v1/courses/c/stats").json()
    (u,) = [u for u in s["usage"]["students"] if u["owner"] == "carol"]
    assert u["share"] > 60 and s["usage"]["budget_minutes"] == 0.3

    # a larger budget: runs again; no budget: no share in the plan
    admin.patch("/v1/courses/c", json={"settings": {"minutes_per_week": 60}})
    job = carol.post("/v1/jobs", json={"tool": "sleeper", "preset": "smoke", "config": {"steps": 1}})
    assert job.status_code == 201 and wait_job(carol, job.json()["id"])["status"] == "succeeded"
    admin.patch("/v1/courses/c", json={"settings": {"minutes_per_week": None}})
    plan = chat(carol, "/run sleeper smoke", "b-3", plan_only=True)
    assert plan["plans"][0]["budget_share"] is None and "недельного" not in plan["answer"]
