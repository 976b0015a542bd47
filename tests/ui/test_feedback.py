"""Thumbs up/down in the chat UI: stored by Chainlit's feedback route through its SQLAlchemy
data layer in the tutor database, listed by `GET /v1/feedback` for admin API keys only.
(The same flow with a real click in chromium is in test_browser.py.)"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.timeout(300)


async def test_feedback_is_stored_and_listed_for_admin_keys(ui):
    from fastapi.testclient import TestClient

    from tutor.api.keys import KeyStore
    from tutor.api.main import create_app

    chat = await ui.login("hana")
    await chat.open()
    question = "Зачем нужен паддинг в свёрточной сети?"
    turn = await chat.say(question)
    answer = turn.answer

    # the browser rates the turn (Chainlit's frontend sends the id of the message's run step)
    res = await chat.feedback(answer["parentId"], 1, comment="понятно")
    feedback_id = json.loads(res.body)["feedbackId"]
    (row,) = ui.users.feedback()
    assert (row["id"], row["value"], row["comment"], row["user"]) == (feedback_id, 1, "понятно", "hana")
    assert row["question"] == question
    assert row["answer"] == answer["output"] and "добавляет нули" in row["answer"]
    assert row["threadId"] == chat.session.thread_id

    # changing the vote updates the same feedback (the browser sends its id back)
    from chainlit.server import update_feedback
    from chainlit.types import Feedback, UpdateFeedbackRequest

    await update_feedback(None, UpdateFeedbackRequest(
        feedback=Feedback(id=feedback_id, forId=answer["parentId"], threadId=chat.session.thread_id, value=0),
        sessionId=chat.session.id), chat.user)
    (row,) = ui.users.feedback()
    assert (row["id"], row["value"]) == (feedback_id, 0)

    # the course staff read it through the API, students may not
    keys = KeyStore(ui.engine)
    admin, student = keys.create("staff", role="admin"), keys.create("student1", role="student")
    app = create_app(ui.settings.model_copy(update={"auth": "on"}), tutor=ui.service, jobs=ui.jobs,
                     start_scheduler=False, mount_ui=False)
    with TestClient(app) as client:
        r = client.get("/v1/feedback", headers={"Authorization": f"Bearer {admin}"})
        assert r.status_code == 200, r.text
        (item,) = r.json()["items"]
        assert item["value"] == 0 and item["question"] == question and item["answer"] == answer["output"]
        r = client.get("/v1/feedback", headers={"Authorization": f"Bearer {student}"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        assert client.get("/v1/feedback").status_code == 401
