"""A real tutor server (uvicorn subprocess, loopback, auth on, extractive backend, a small
index of three lectures) for the bots, and the platforms replaced at their HTTP boundary
(tests/bots/fakes.py). The bots' own code (aiogram Bot/Dispatcher, discord.py Client and
its HTTP layer, tutor.bots.*) runs unchanged."""

import asyncio
import os
import subprocess
import sys
import time

import httpx
import pytest

from tests.api.conftest import ROOT, free_port
from tests.bots.fakes import FakeDiscord, FakeTelegram
from tutor.api.keys import KeyStore
from tutor.db import make_engine

LECTURES = ["04_cnn.md", "07_augmentation.md", "17_rl_dqn.md"]


@pytest.fixture(scope="session")
def tutor_api(tmp_path_factory):
    data = tmp_path_factory.mktemp("bots-data")
    env = {**os.environ, "TUTOR_DATA_DIR": str(data), "TUTOR_INDEX_DIR": str(data / "index"), "TUTOR_AUTH": "on",
           "TUTOR_LLM_BACKEND": "none", "TUTOR_OWNER_MAX_CONCURRENT": "2", "PYTHONUNBUFFERED": "1"}
    r = subprocess.run([sys.executable, "-m", "tutor", "index", "build",
                        *[str(ROOT / "corpus" / "lectures" / f) for f in LECTURES], "--quiet"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    engine = make_engine(f"sqlite:///{data / 'tutor.db'}")
    store = KeyStore(engine)
    keys = {"telegram": store.create("telegram", "bot"), "discord": store.create("discord", "bot"),
            "tight": store.create("tight", "bot", rate_limit_per_minute=3), "admin": store.create("admin", "admin")}
    engine.dispose()
    port = free_port()
    log = open(data / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "tutor", "serve", "--port", str(port), "--no-ui"], cwd=ROOT,
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError((data / "server.log").read_text()[-3000:])
    yield {"base": base, "keys": keys, "data": data}
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def api(tutor_api):
    """A plain HTTP client of the tutor, for checks behind the bots' back."""
    with httpx.Client(base_url=tutor_api["base"], headers={"Authorization": f"Bearer {tutor_api['keys']['admin']}"},
                      timeout=60) as c:
        yield c


@pytest.fixture
async def fake_telegram():
    fake = await FakeTelegram().start()
    yield fake
    await fake.stop()


@pytest.fixture
async def fake_discord():
    fake = await FakeDiscord().start()
    yield fake
    await fake.stop()


def wait_until(predicate, timeout: float, step: float = 0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if value := predicate():
            return value
        time.sleep(step)
    return predicate()


async def settle(name_prefix: str) -> None:
    """Wait for the event-handler tasks a library scheduled (discord.py dispatches as tasks)."""
    tasks = [t for t in asyncio.all_tasks() if t.get_name().startswith(name_prefix) and t is not asyncio.current_task()]
    if tasks:
        await asyncio.gather(*tasks)
