"""The Chainlit adapter (tutor/ui/app.py) with Chainlit's context set up, no browser: the
student's actions go through Chainlit's own socket/HTTP handlers, the adapter and a real
TutorService run for real, and the assertions are on what Chainlit sends to the browser
(see conftest.py: only the socket's emit functions are recorded)."""

from __future__ import annotations

import io
import re
import uuid

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.timeout(300)


def _cited(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\[(\d+)\]", text)}


async def test_starter_question_streams_a_cited_answer(ui):
    from chainlit.config import config

    from tutor.agent.router import route

    chat = await ui.login("alice")
    opened = await chat.open()
    widgets = {w["id"]: w for w in opened.of("chat_settings")[0]}
    # a student with no allow-listed models picks the backend only (staff also type a model)
    assert set(widgets) == {"language", "mode", "llm_backend", "preset"}
    assert widgets["mode"]["initial"] == "explain" and widgets["mode"]["items"]

    # the starters the welcome screen shows ask what their labels promise
    starters = {s.label: s.message for s in await config.code.set_starters(chat.user, "ru")}
    kinds = {label: route(msg) for label, msg in starters.items()}
    assert (kinds["Обучи CNN на MNIST"].kind, kinds["Обучи CNN на MNIST"].tool) == ("experiment", "cnn")
    assert (kinds["Запусти DQN на CartPole"].kind, kinds["Запусти DQN на CartPole"].tool) == ("experiment", "dqn")
    assert (kinds["Сравни мои запуски GAN"].kind, kinds["Сравни мои запуски GAN"].tool) == ("compare", "gan")
    assert kinds["Объясни, как работает свёртка"].kind == "question"

    turn = await chat.say(starters["Объясни, как работает свёртка"])
    answer = turn.answer
    text = answer["output"]
    # streamed: the tokens sent while it was being written add up to the final text
    assert len(turn.tokens[answer["id"]]) > 3
    assert "".join(turn.tokens[answer["id"]]) == text
    assert "ядром" in text and not answer["isError"]

    # sources: side elements named [1], [2]... whose content is the passage; every number cited
    # in the text opens one
    sources = {e["name"]: e for e in turn.elements_for(answer["id"]) if e["type"] == "text"}
    assert sources and all(e["display"] == "side" for e in sources.values())
    assert set(sources) == {f"[{n}]" for n in range(1, len(sources) + 1)}
    assert _cited(text) and {f"[{n}]" for n in _cited(text)} <= set(sources)
    first = turn.content(sources["[1]"])
    assert "lectures/04_cnn.md" in first and "скользит ядром" in first

    # retrieval is a step with the query and the ranked passages, inside the turn's run
    (retrieval,) = turn.steps_of("retrieval")
    assert retrieval["input"] == starters["Объясни, как работает свёртка"]
    assert "[1] " in retrieval["output"] and "04_cnn.md" in retrieval["output"]
    run = turn.steps[answer["parentId"]]
    assert run["type"] == "run" and run["name"] == "on_message"
    assert turn.of("task_end"), "the input box must be unlocked at the end of the turn"

    # the same service state the API sees: the thread of this chat, owned by the UI user
    thread = ui.service.threads.get(f"ui/{chat.session.thread_id}")
    assert thread["user"] == "ui:alice"
    assert [m["role"] for m in ui.service.threads.history(f"ui/{chat.session.thread_id}")] == ["user", "assistant"]


async def test_rejected_parameter_is_a_clear_message(ui):
    chat = await ui.login("bob")
    await chat.open()
    turn = await chat.say("/run cnn epochs=99999")
    answer = turn.answer
    assert answer["isError"]
    assert "Не могу запустить cnn" in answer["output"] and "epochs" in answer["output"]
    assert "less than or equal to" in answer["output"]
    assert not [e for e in turn.elements if e["type"] == "tasklist"]
    assert ui.jobs.list(owner="ui:bob") == []

    turn = await chat.say("/run cnn optimizer=lion")
    assert "нет параметров: optimizer" in turn.answer["output"] and turn.answer["isError"]


async def test_experiment_progress_plot_and_actions(ui):
    chat = await ui.login("carol")
    await chat.open()
    turn = await chat.say("/run curve")  # the chat's default preset (quick: 5 epochs) is added
    answer = turn.answer
    text = answer["output"]
    assert "Готово: curve" in text and "val_accuracy" in text, text
    job = ui.jobs.list(owner="ui:carol")[0]
    assert job["status"] == "succeeded" and job["preset"] == "quick" and job["id"] in text

    # a task list and a progress step with the epochs and metrics
    tasklists = [e for e in turn.elements if e["type"] == "tasklist"]
    assert len(tasklists) >= 2
    (plan,) = [s for s in turn.steps_of("tool") if s["name"] == "plan: curve"]
    assert '"epochs": 5' in plan["input"]
    (progress,) = [s for s in turn.steps_of("run") if s["name"].startswith("Обучение curve")]
    assert job["id"] in progress["name"]
    assert "epoch 5/5: train_loss=" in progress["output"]
    # nested in the turn (the UI shows it under the question) and finished when the job is
    assert progress["parentId"] == answer["parentId"] == plan["parentId"]
    assert progress["start"] and progress["end"] and not progress["isError"]

    # the plot inline, once, and the checkpoint as a file
    shown = turn.elements_for(answer["id"])
    images = [e for e in shown if e["type"] == "image"]
    assert [e["name"] for e in images] == ["learning_curves.png"] and images[0]["display"] == "inline"
    assert chat.session.files[images[0]["chainlitKey"]]["path"].read_bytes()[:4] == b"\x89PNG"
    assert "model.pt" in [e["name"] for e in shown if e["type"] == "file"]

    # buttons: run again, compare, download (no cancel: the job has finished)
    actions = {a["name"]: a for a in turn.actions if a["forId"] == answer["id"]}
    assert set(actions) == {"run_again", "compare_runs", "download"}
    assert actions["download"]["payload"] == {"job_id": job["id"]}

    got = await chat.click(actions["download"])
    files = {e["name"] for e in got.elements if e["type"] == "file"}
    assert {"learning_curves.png", "model.pt", "metrics.json"} <= files

    got = await chat.click(actions["compare_runs"])
    assert "Сравнение запусков curve (1)" in got.answer["output"]
    plots = [e for e in got.elements_for(got.answer["id"]) if e["type"] == "plotly"]
    assert [p["name"] for p in plots] == ["parallel_coordinates"]

    # run again: the tutor asks which parameters to change; the reply is validated
    chat.socket.replies.append({"id": str(uuid.uuid4()), "threadId": chat.session.thread_id, "type": "user_message",
                                "name": "carol", "output": "epochs=99999", "createdAt": "2026-01-01T00:00:00Z"})
    got = await chat.click(actions["run_again"])
    (ask,) = got.of("ask")
    assert "Какие параметры изменить" in ask["msg"]["output"]
    assert "Не могу запустить curve" in got.answer["output"] and "epochs" in got.answer["output"]
    assert len(ui.jobs.list(owner="ui:carol")) == 1

    # a queued job: its status shows a cancel button that cancels it
    await ui.jobs.stop()
    queued = ui.jobs.submit("curve", {}, "ui:carol", preset="smoke")
    got = await chat.say(f"/status {queued}")
    cancel = [a for a in got.actions if a["name"] == "cancel_job"]
    assert cancel and cancel[0]["payload"] == {"job_id": queued}
    got = await chat.click(cancel[0])
    assert f"Задача {queued}: cancelled" in got.answer["output"]
    assert ui.jobs.get(queued)["status"] == "cancelled"

    # another student's job cannot be downloaded with a forged button
    mallory = await ui.login("mallory")
    await mallory.open()
    got = await mallory.click({**actions["download"], "id": str(uuid.uuid4())})
    assert "not found" in got.messages[-1]["output"]
    assert not [e for e in got.elements if e["type"] == "file"]


async def test_uploaded_image_reaches_the_service(ui):
    img = np.zeros((28, 28), np.uint8)
    img[6:22, 12:16] = 255
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")

    chat = await ui.login("dave")
    await chat.open()
    turn = await chat.say("", files=[("digit.png", "image/png", buf.getvalue())])
    uploads = [e for e in turn.elements if e["type"] == "image" and e["name"] == "digit.png"]
    assert [e["forId"] for e in uploads] == [turn.sent_id], "the upload is shown with the student's message"
    # routed as an image: no own model asked for, so the pretrained ImageNet classifier answers (with the
    # warning that 28 px is too small to trust) and the drawn result comes back as an image
    assert "На фото" in turn.answer["output"] and "28x28" in turn.answer["output"]
    history = ui.service.threads.history(f"ui/{chat.session.thread_id}")
    assert history[0]["content"] == "Что на этом изображении?"


async def test_mode_switch_in_settings_reaches_the_service(ui):
    chat = await ui.login("erin")
    await chat.open()
    question = "Как сделать домашнее задание 2 по CNN на MNIST?"
    explain = await chat.say(question)
    assert not explain.answer["output"].startswith("Режим подсказок")

    await chat.change_settings({"language": "ru", "mode": "hint", "llm_backend": "none", "llm_model": "",
                                "preset": "smoke"})
    hint = await chat.say(question)
    assert hint.answer["output"].startswith("Режим подсказок"), hint.answer["output"]
    assert ui.service.threads.get(f"ui/{chat.session.thread_id}")["mode"] == "hint"

    # the default preset from the settings is used by /run
    await chat.say("/run curve")
    assert ui.jobs.list(owner="ui:erin")[0]["preset"] == "smoke"

    # reopened from the history: the settings come back with it
    thread_id = chat.session.thread_id
    await chat.close()
    from tests.ui.conftest import ChatUI

    again = ChatUI(chat.user)
    again.session.thread_id = thread_id
    again.session.thread_id_to_resume = thread_id
    resumed = await again.open()
    assert resumed.of("resume_thread"), [n for n, _ in resumed.events]
    widgets = {w["id"]: w for w in resumed.of("chat_settings")[0]}
    assert widgets["mode"]["initial"] == "hint" and widgets["preset"]["initial"] == "smoke"
    turn = await again.say(question)
    assert turn.answer["output"].startswith("Режим подсказок")
    await again.close()


async def test_unreachable_llm_still_answers_and_says_so(ui):
    """Staff pick an OpenAI-compatible server that does not answer (port 9): the LLM
    calls fail, the answer comes from the course materials, and a toast says why."""
    chat = await ui.login("frank", role="staff")
    await chat.open()
    await chat.change_settings({"language": "ru", "mode": "explain", "llm_backend": "openai", "llm_model": "m",
                                "preset": "smoke"})
    turn = await chat.say("Зачем нужен паддинг в свёрточной сети?", timeout=120)
    assert "добавляет нули" in turn.answer["output"]
    assert [e for e in turn.elements_for(turn.answer["id"]) if e["name"] == "[1]"]
    toasts = turn.of("toast")
    assert toasts and "Языковая модель недоступна" in toasts[0]["message"] and toasts[0]["type"] == "warning"

    # a model that cannot even be loaded: the same, and the toast says why
    await chat.change_settings({"language": "ru", "mode": "explain", "llm_backend": "llamacpp",
                                "llm_model": "/nonexistent/model.gguf", "preset": "smoke"})
    turn = await chat.say("Что делает max pooling?", timeout=120)
    assert "максимум" in turn.answer["output"] and not turn.answer["isError"]
    (toast,) = turn.of("toast")
    assert "Языковая модель недоступна" in toast["message"] and "GGUF model not found" in toast["message"]


async def test_students_choose_llms_from_the_allow_list_only(ui):
    """A student's settings form offers the configured backend, 'none' and the allow-listed
    models; a forged form value (any backend, any model path) is ignored."""
    ui.settings.ui_llm_models = "qwen2.5-7b-instruct"
    chat = await ui.login("hana")
    widgets = {w["id"]: w for w in (await chat.open()).of("chat_settings")[0]}
    assert {i["value"] for i in widgets["llm_backend"]["items"]} == {"none"}
    assert {i["value"] for i in widgets["llm_model"]["items"]} == {"", "qwen2.5-7b-instruct"}
    await chat.change_settings({"language": "ru", "mode": "explain", "llm_backend": "llamacpp",
                                "llm_model": "/etc/passwd", "preset": "smoke"})
    turn = await chat.say("Что делает max pooling?", timeout=120)
    assert "максимум" in turn.answer["output"] and not turn.of("toast")  # nothing was loaded


async def test_service_failure_is_an_error_message_not_a_hang(ui, tmp_path):
    from sqlalchemy import create_engine, text

    from tutor.agent.threads import ThreadStore

    engine = create_engine(f"sqlite:///{tmp_path / 'broken.db'}")
    ui.service.services._threads = ThreadStore(engine)
    with engine.begin() as c:  # the threads database loses its tables
        c.execute(text("DROP TABLE chat_messages"))
        c.execute(text("DROP TABLE chat_threads"))
    chat = await ui.login("gina")
    await chat.open()
    turn = await chat.say("Зачем нужен паддинг?", timeout=60)
    answer = turn.answer
    assert answer["isError"] and "Не получилось ответить" in answer["output"]
    assert "chat_threads" not in answer["output"] and "sqlite" not in answer["output"]  # no internals leak
    assert re.search(r"код [0-9a-f]{8}", answer["output"])  # a reference the staff find in the log
    assert turn.of("task_end")


async def test_elements_are_stored_and_served_to_their_owner_only(ui, monkeypatch):
    """Source cards and plots go through the data layer into local storage, so a thread
    reopened from the history shows them; GET /ui-files/ serves them to the owner only."""
    import httpx
    from chainlit.auth import create_jwt
    from chainlit.data import get_data_layer
    from fastapi import FastAPI

    from tests.ui.conftest import settle
    from tutor.ui.files import LocalStorageClient, add_file_route

    monkeypatch.setenv("CHAINLIT_AUTH_SECRET", "test-secret-" + "x" * 32)  # signs the login tokens below
    chat = await ui.login("frank")
    await chat.open()
    turn = await chat.say("Зачем нужен паддинг в свёрточной сети?")
    await settle()
    thread = await get_data_layer().get_thread(chat.session.thread_id)
    stored = [e for e in thread["elements"] if e["name"] == "[1]"]
    assert stored, thread["elements"]
    element = stored[0]
    assert element["url"].startswith("/ui-files/") and element["objectKey"].startswith(f"{chat.user.id}/")
    storage = LocalStorageClient(ui.runtime.ui_files_dir())
    body = storage.path(element["objectKey"]).read_text(encoding="utf-8")
    assert body == turn.content([e for e in turn.elements_for(turn.answer["id"]) if e["name"] == "[1]"][0])

    app = FastAPI()
    add_file_route(app, storage)
    other = await ui.login("grace")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ui") as http:
        url = element["url"]
        owner = await http.get(url, headers={"Authorization": f"Bearer {create_jwt(chat.user)}"})
        assert owner.status_code == 200 and owner.text == body
        assert owner.headers["content-type"].startswith("text/plain")
        assert owner.headers["x-content-type-options"] == "nosniff"
        # the login cookie works as well as the header (what the browser sends)
        assert (await http.get(url, cookies={"access_token": create_jwt(chat.user)})).status_code == 200
        assert (await http.get(url)).status_code == 401
        stranger = await http.get(url, headers={"Authorization": f"Bearer {create_jwt(other.user)}"})
        assert stranger.status_code == 404
        traversal = await http.get(f"/ui-files/{chat.user.id}/..%2F..%2Fsecret",
                                   headers={"Authorization": f"Bearer {create_jwt(chat.user)}"})
        assert traversal.status_code == 404

    # deleting the thread deletes its files
    await get_data_layer().delete_thread(chat.session.thread_id)
    assert not storage.path(element["objectKey"]).exists()


async def test_local_storage_rejects_keys_outside_its_root(tmp_path):
    from tutor.ui.files import LocalStorageClient, StorageKeyError

    storage = LocalStorageClient(tmp_path / "files")
    for bad in ("", "../x", "u/../../x", "/", "u/./x", "u\\..\\x"):
        with pytest.raises(StorageKeyError):
            storage.path(bad)
    out = await storage.upload_file("u1/e1/plot.png", b"\x89PNG", mime="image/png")
    assert out == {"object_key": "u1/e1/plot.png", "url": "/ui-files/u1/e1/plot.png"}
    assert storage.mime("u1/e1/plot.png") == "image/png"
    assert await storage.upload_file("u1/e1/plot.png", b"other", overwrite=False) == out
    assert storage.path("u1/e1/plot.png").read_bytes() == b"\x89PNG"
    assert await storage.delete_file("u1/e1/plot.png") and not await storage.delete_file("u1/e1/plot.png")


async def test_staff_get_the_course_page_from_a_starter_and_students_do_not(ui):
    staff = await ui.login("gina", role="staff")
    labels = [s.label for s in await ui.app.starters(user=staff.user, language="ru-RU")]
    assert "Страница курса (для преподавателей)" in labels and len(labels) == len(ui.app.STARTERS["ru"]) + 1
    await staff.open()
    turn = await staff.say("/staff")
    assert "](/staff)" in turn.answer["output"]

    student = await ui.login("hank")
    assert [s.label for s in await ui.app.starters(user=student.user, language="en-US")] == \
        [label for label, _ in ui.app.STARTERS["en"]]
    await student.open()
    turn = await student.say("/staff")
    assert "](/staff)" not in turn.answer["output"]
