"""A real tutor server (uvicorn, subprocess) on loopback with auth on, a small index,
the extractive (no-LLM) backend and the embedded job scheduler."""

import json
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(env: dict, *args: str) -> str:
    r = subprocess.run([sys.executable, "-m", "tutor", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    return r.stdout


def launch_server(data: Path, env: dict, keys: list[tuple[str, str, list[str]]], revoke: tuple[str, ...] = (),
                  serve_args: tuple[str, ...] = ("--no-ui",), corpus: Path = ROOT / "corpus" / "lectures"):
    """Build a small index, create the keys (name, role, extra CLI args), start `tutor serve`
    on a free loopback port; returns (info dict, process). The caller stops the process."""
    cli(env, "index", "build", str(corpus), "--quiet")
    made = {name: json.loads(cli(env, "keys", "create", name, "--role", role, "--json", *extra))["key"]
            for name, role, extra in keys}
    for name in revoke:
        cli(env, "keys", "revoke", name)
    port = free_port()
    log = open(data / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "tutor", "serve", "--port", str(port), *serve_args], cwd=ROOT,
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
    return {"base": base, "keys": made, "data": data, "proc": proc, "env": env}, proc


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test against a server subprocess shows that server's log tail in its report
    (the cause of a 500 or a hang is in the server, not in the client's traceback)."""
    report = yield
    if report.when == "call" and report.failed:
        info = item.funcargs.get("server") if hasattr(item, "funcargs") else None
        log = Path(info["data"]) / "server.log" if isinstance(info, dict) and "data" in info else None
        if log is not None and log.exists():
            report.sections.append(("server log (last 60 lines)", "\n".join(log.read_text(errors="replace").splitlines()[-60:])))
    return report


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("api-data")
    env = {**os.environ, "TUTOR_DATA_DIR": str(data), "TUTOR_AUTH": "on", "TUTOR_LLM_BACKEND": "none",
           "TUTOR_OWNER_MAX_CONCURRENT": "2", "TUTOR_INDEX_DIR": str(data / "index"), "PYTHONUNBUFFERED": "1",
           "TUTOR_MAX_BODY_BYTES": "200000", "TUTOR_MAX_DATASET_BYTES": "3000000"}
    info, proc = launch_server(data, env, [("admin", "admin", []), ("bot", "bot", []), ("alice", "student", []),
                                           ("limited", "student", ["--rate-limit", "3"]),
                                           ("revoked", "student", [])], revoke=("revoked",))
    yield info
    stop_server(proc)


@pytest.fixture
def client(server):
    def make(key="alice"):
        headers = {"Authorization": f"Bearer {server['keys'][key]}"} if key else {}
        return httpx.Client(base_url=server["base"], headers=headers, timeout=300)

    return make


@contextmanager
def key_clients(server: dict, timeout: float):
    """make("alice") → an httpx client on `server` (launch_server's info) with alice's key; make(None)
    without a key. Every client made is closed on exit."""
    made = []

    def make(who: str | None = "alice", **kw) -> httpx.Client:
        headers = {"Authorization": f"Bearer {server['keys'][who]}"} if who else {}
        c = httpx.Client(base_url=server["base"], headers=headers, timeout=kw.pop("timeout", timeout), **kw)
        made.append(c)
        return c

    try:
        yield make
    finally:
        for c in made:
            c.close()
