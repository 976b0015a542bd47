"""The homework policy with deadlines in the future and in the past: before its deadline a
question about an item is answered in hint mode whatever the student's mode, and its graded
configuration is not run (chat and API alike); after it, the explanation is available and the
configuration runs. Another course's students are not affected."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.courses.conftest import chat

FUTURE = (datetime.now(timezone.utc) + timedelta(days=30)).isoformat()
PAST = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()


def put_items(staff):
    items = [
        {"id": "hw-gan", "title": "ДЗ 5: GAN", "patterns": ["дз gan", "домашн gan", "дз ган"], "deadline": FUTURE,
         "tool": "cnn", "config": {"dataset": "fashion_mnist"}},
        {"id": "hw-rnn", "title": "ДЗ 4: RNN", "patterns": ["дз rnn", "домашн rnn"], "deadline": PAST,
         "tool": "cnn", "config": {"dataset": "digits"}},
    ]
    for item in items:
        r = staff.post("/v1/courses/a/homework", json=item)
        assert r.status_code == 201, r.text
        assert r.json()["open"] is (item["deadline"] == FUTURE)


def test_hints_before_the_deadline_explanations_after(as_):
    staff, alice, bob = as_("staff-a"), as_("alice"), as_("bob")
    put_items(staff)
    listed = alice.get("/v1/courses/a/homework").json()
    assert {i["id"]: i["open"] for i in listed["items"]} == {"hw-gan": True, "hw-rnn": False}
    assert "patterns" not in listed["items"][0]  # students see what and when, not how questions are matched

    # future deadline: hint mode although the student asked for explanations
    q = "Как сделать дз по GAN? Объясни, как устроен генератор и дискриминатор"
    ans = chat(alice, q, "hw-1", mode="explain")
    assert ans["homework"] and ans["homework_item"] == "hw-gan" and ans["answer_style"] == "hint", ans
    assert "ДЗ 5: GAN" in ans["answer"] and "подсказки" in ans["answer"]
    assert ans["mode"] == "explain"  # the student's own setting is kept; only this answer is a hint
    en = chat(alice, "How do I do the GAN homework (дз gan)? Explain the generator, give me the code", "hw-1e")
    assert en["homework_item"] == "hw-gan" and "hints only" in en["answer"] and "```" not in en["answer"], en

    # past deadline: the explanation is available again
    past = chat(alice, "Как сделать дз по RNN? Объясни, как работает LSTM", "hw-2", mode="explain")
    assert not past["homework_item"] and past["answer_style"] in ("extractive", "generative"), past

    # another course: its students ask the same and get an explanation
    other = chat(bob, q, "hw-3", mode="explain")
    assert not other["homework_item"] and other["answer_style"] != "hint", other


def test_graded_configuration_is_not_run_before_the_deadline(as_):
    staff, alice, bob = as_("staff-a"), as_("alice"), as_("bob")
    put_items(staff)
    # chat: refused with the item and its deadline, nothing submitted
    ans = chat(alice, "/run cnn smoke dataset=fashion_mnist", "hw-run-1")
    assert ans["error"] == "homework_locked" and "ДЗ 5: GAN" in ans["answer"] and not ans["job_id"], ans
    chat(alice, "Hello! What is a convolution in a neural network?", "hw-run-1e")  # the thread speaks English
    en = chat(alice, "/run cnn smoke dataset=fashion_mnist", "hw-run-1e")
    assert en["error"] == "homework_locked" and "graded homework" in en["answer"], en["answer"]
    # the API refuses the same config with a clear 403
    r = alice.post("/v1/jobs", json={"tool": "cnn", "preset": "smoke", "config": {"dataset": "fashion_mnist"}})
    assert r.status_code == 403 and r.json()["error"]["code"] == "homework_locked", r.text
    assert "ДЗ 5: GAN" in r.json()["error"]["message"]
    # the past item's configuration and other configurations are planned normally
    ok = chat(alice, "/run cnn smoke dataset=digits", "hw-run-2", plan_only=True)
    assert not ok["error"] and ok["plans"] and ok["plans"][0]["config"]["dataset"] == "digits", ok
    ok = chat(alice, "/run cnn smoke", "hw-run-3", plan_only=True)
    assert not ok["error"] and ok["plans"], ok
    # course B has no such homework
    other = chat(bob, "/run cnn smoke dataset=fashion_mnist", "hw-run-4", plan_only=True)
    assert not other["error"] and other["plans"], other


def test_policy_off_and_item_removal(as_):
    staff, alice = as_("staff-a"), as_("alice")
    put_items(staff)
    try:
        assert staff.patch("/v1/courses/a", json={"settings": {"homework_policy": "off"}}).status_code == 200
        ans = chat(alice, "Как сделать дз по GAN?", "hw-off-1", mode="explain")
        assert not ans["homework_item"]
        ok = chat(alice, "/run cnn smoke dataset=fashion_mnist", "hw-off-2", plan_only=True)
        assert not ok["error"], ok
    finally:
        assert staff.patch("/v1/courses/a", json={"settings": {"homework_policy": "deadline"}}).status_code == 200
    assert staff.delete("/v1/courses/a/homework/hw-gan").status_code == 200
    assert staff.delete("/v1/courses/a/homework/hw-gan").status_code == 404
    ok = chat(alice, "/run cnn smoke dataset=fashion_mnist", "hw-off-3", plan_only=True)
    assert not ok["error"], ok
    put_items(staff)  # the other tests' state
