"""End to end in a real browser: Debian's chromium driven by Playwright against a real
tutor server (API + Chainlit UI on one port). Screenshots of each flow go to
test-output/ui/ (and the test's tmp dir)."""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "e2e-pass-123"
CITATION = re.compile(r"\[\d+\]")  # an answer cites a numbered source

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")]


@pytest.fixture(scope="module")
def ui_data(tmp_path_factory):
    return tmp_path_factory.mktemp("ui-data")


def _env(data: Path, **extra) -> dict:
    # API keys are required (as when served publicly), so /v1/feedback can be checked per role
    return {**os.environ, "TUTOR_DATA_DIR": str(data), "TUTOR_LLM_BACKEND": "none", "TUTOR_AUTH": "on",
            "TUTOR_UI_ADMIN_PASSWORD": PASSWORD, "TUTOR_INDEX_DIR": str(data / "index"), **extra}


@pytest.fixture(scope="module")
def ui_server(ui_data):
    data = ui_data
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = _env(data, TUTOR_PORT=str(port))
    subprocess.run([sys.executable, "-m", "tutor", "index", "build", str(ROOT / "corpus"), "--quiet"], cwd=ROOT,
                   env=env, check=True, capture_output=True, timeout=600)
    log = open(data / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "tutor", "serve"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    yield base
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    out = ROOT / "test-output" / "ui"
    out.mkdir(parents=True, exist_ok=True)
    return out


def _ready(page) -> None:
    """The chat's websocket is up and on_chat_start has run: Chainlit enables the settings
    button only then, and silently drops a message (or a starter click) sent earlier."""
    from playwright.sync_api import expect

    page.wait_for_selector("#chat-input")
    expect(page.locator("#chat-settings-open-modal")).to_be_enabled(timeout=120_000)


def _send(page, text: str) -> None:
    from playwright.sync_api import expect

    page.fill("#chat-input", text)
    expect(page.locator("#chat-submit")).to_be_enabled(timeout=120_000)  # also waits for uploads
    page.keyboard.press("Enter")


def test_flows_in_a_real_browser(ui_server, shots, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    digit = tmp_path / "digit.png"
    img = np.zeros((28, 28), np.uint8)
    img[6:22, 12:16] = 255  # a "1"
    Image.fromarray(img).save(digit)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="ru-RU")
        page.set_default_timeout(120_000)

        # log in
        page.goto(ui_server + "/")
        page.wait_for_selector("input[type=password]")
        page.fill("#email", "admin")
        page.fill("#password", PASSWORD)
        page.keyboard.press("Enter")
        _ready(page)
        page.screenshot(path=str(shots / "1-logged-in.png"))

        # a course question: streamed answer with a source element
        _send(page, "Зачем нужен паддинг в свёрточной сети?")
        expect(page.get_by_text("По материалам курса").first).to_be_visible(timeout=180_000)
        expect(page.get_by_text(CITATION).first).to_be_visible(timeout=180_000)
        expect(page.get_by_text(re.compile(r"(Used|Использовано) retrieval")).first).to_be_visible()  # the retrieval step is shown
        page.screenshot(path=str(shots / "2-answer-with-sources.png"))

        # a starter that runs a CNN smoke experiment: progress, then a plot
        page.goto(ui_server + "/")
        _ready(page)
        page.get_by_text("Обучи CNN на MNIST").click()
        expect(page.get_by_text("поставлена в очередь").first).to_be_visible(timeout=180_000)
        page.wait_for_selector("img[src*='learning_curves'], img[alt*='learning_curves']", timeout=240_000)
        expect(page.get_by_text("Готово: cnn").first).to_be_visible(timeout=180_000)
        expect(page.get_by_text("Обучение cnn").first).to_be_visible()  # the progress step is shown
        page.screenshot(path=str(shots / "3-experiment-plot.png"), full_page=True)

        # reload: the history is there
        page.reload()
        page.wait_for_selector("#chat-input")
        expect(page.get_by_text("Зачем нужен паддинг").first).to_be_visible(timeout=180_000)
        page.screenshot(path=str(shots / "4-history-after-reload.png"))

        # reopen the experiment thread from the history: its plot comes back from the element
        # store (/ui-files/, sent with the login cookie) and really loads
        page.get_by_role("link", name="/run cnn smoke").first.click()
        plot = page.locator("img[src*='/ui-files/']").first
        plot.wait_for(timeout=120_000)
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=plot.element_handle(),
                               timeout=60_000)
        page.screenshot(path=str(shots / "4b-resumed-thread-plot.png"), full_page=True)

        # upload an image: a prediction with the trained checkpoint
        page.goto(ui_server + "/")
        _ready(page)
        page.set_input_files("input[type=file]", str(digit))
        _send(page, "Что это за цифра?")
        expect(page.get_by_text("Класс:").first).to_be_visible(timeout=180_000)
        page.screenshot(path=str(shots / "5-prediction.png"))
        browser.close()
    for f in shots.glob("*.png"):
        shutil.copy(f, tmp_path / f.name)


def test_feedback_click_is_listed_by_the_api(ui_server, ui_data, shots, tmp_path):
    """A thumbs-up clicked in the browser is stored through Chainlit's data layer in the
    tutor database and listed by GET /v1/feedback for an admin API key (403 for a student)."""
    import json

    from playwright.sync_api import expect, sync_playwright

    question = "Что делает max pooling?"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="ru-RU")
        page.set_default_timeout(120_000)
        page.goto(ui_server + "/")
        page.wait_for_selector("input[type=password]")
        page.fill("#email", "admin")
        page.fill("#password", PASSWORD)
        page.keyboard.press("Enter")
        _ready(page)
        _send(page, question)
        expect(page.get_by_text(CITATION).first).to_be_visible(timeout=180_000)
        up = page.locator(".positive-feedback-off").last
        expect(up).to_be_enabled(timeout=60_000)
        up.click()
        page.get_by_role("dialog").locator("textarea").fill("понятно, спасибо")
        page.click("#submit-feedback")
        expect(page.locator(".positive-feedback-on").last).to_be_visible(timeout=30_000)
        page.screenshot(path=str(shots / "6-feedback.png"))
        browser.close()
    shutil.copy(shots / "6-feedback.png", tmp_path / "6-feedback.png")

    def key(name, role):
        r = subprocess.run([sys.executable, "-m", "tutor", "keys", "create", name, "--role", role, "--json"], cwd=ROOT,
                           env=_env(ui_data), capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)["key"]

    admin, student = key("staff", "admin"), key("student-1", "student")
    r = httpx.get(ui_server + "/v1/feedback", headers={"Authorization": f"Bearer {admin}"}, timeout=30)
    assert r.status_code == 200, r.text
    items = [i for i in r.json()["items"] if i["question"] == question]
    assert len(items) == 1, r.json()
    item = items[0]
    assert (item["value"], item["comment"], item["user"]) == (1, "понятно, спасибо", "admin")
    assert "По материалам курса" in item["answer"] and CITATION.search(item["answer"])
    r = httpx.get(ui_server + "/v1/feedback", headers={"Authorization": f"Bearer {student}"}, timeout=30)
    assert r.status_code == 403
