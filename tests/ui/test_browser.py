"""End to end in a real browser: Debian's chromium driven by Playwright against a real
tutor server (API + Chainlit UI on one port). Screenshots of each flow go to
test-output/ui/ (and the test's tmp dir)."""

import os
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

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")]


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory):
    data = tmp_path_factory.mktemp("ui-data")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "TUTOR_DATA_DIR": str(data), "TUTOR_LLM_BACKEND": "none", "TUTOR_PORT": str(port),
           "TUTOR_UI_ADMIN_PASSWORD": PASSWORD, "TUTOR_INDEX_DIR": str(data / "index")}
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


def test_flows_in_a_real_browser(ui_server, shots, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    digit = tmp_path / "digit.png"
    img = np.zeros((28, 28), np.uint8)
    img[6:22, 12:16] = 255  # a "1"
    Image.fromarray(img).save(digit)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(120_000)

        # log in
        page.goto(ui_server + "/")
        page.wait_for_selector("input[type=password]")
        page.fill("#email", "admin")
        page.fill("#password", PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_selector("#chat-input")
        page.screenshot(path=str(shots / "1-logged-in.png"))

        # a course question: streamed answer with a source element
        page.fill("#chat-input", "Зачем нужен паддинг в свёрточной сети?")
        page.keyboard.press("Enter")
        expect(page.get_by_text("По материалам курса").first).to_be_visible(timeout=180_000)
        expect(page.get_by_text("[1]").first).to_be_visible(timeout=180_000)
        page.screenshot(path=str(shots / "2-answer-with-sources.png"))

        # a starter that runs a CNN smoke experiment: progress, then a plot
        page.goto(ui_server + "/")
        page.get_by_text("Обучи CNN на MNIST").click()
        expect(page.get_by_text("поставлена в очередь").first).to_be_visible(timeout=180_000)
        page.wait_for_selector("img[src*='learning_curves'], img[alt*='learning_curves']", timeout=240_000)
        expect(page.get_by_text("Готово: cnn").first).to_be_visible(timeout=180_000)
        page.screenshot(path=str(shots / "3-experiment-plot.png"), full_page=True)

        # reload: the history is there
        page.reload()
        page.wait_for_selector("#chat-input")
        expect(page.get_by_text("Зачем нужен паддинг").first).to_be_visible(timeout=180_000)
        page.screenshot(path=str(shots / "4-history-after-reload.png"))

        # upload an image: a prediction with the trained checkpoint
        page.goto(ui_server + "/")
        page.wait_for_selector("#chat-input")
        page.get_by_text("Обучи CNN на MNIST").wait_for()  # the session's websocket is up
        page.wait_for_timeout(1500)
        page.set_input_files("input[type=file]", str(digit))
        page.wait_for_timeout(5000)  # let the upload finish before sending
        page.fill("#chat-input", "Что это за цифра?")
        page.keyboard.press("Enter")
        expect(page.get_by_text("Класс:").first).to_be_visible(timeout=180_000)
        page.screenshot(path=str(shots / "5-prediction.png"))
        browser.close()
    for f in shots.glob("*.png"):
        shutil.copy(f, tmp_path / f.name)
