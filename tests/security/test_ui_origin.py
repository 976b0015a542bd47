"""With the chat UI mounted at / (one port): /v1 keeps its JSON contract instead of the UI's
catch-all page, the UI's CORS allows only TUTOR_PUBLIC_ORIGINS, and its websocket
(engine.io, authenticated by the login cookie, not covered by browsers' CORS) refuses
handshakes from other origins — a page on another site cannot open a socket as the student."""

from __future__ import annotations

import os

import httpx
import pytest

from tests.api.conftest import launch_server, stop_server
from tests.security.conftest import assert_json_error

PUBLIC = "https://tutor.example.edu"


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory):
    data = tmp_path_factory.mktemp("sec-ui")
    env = {**os.environ, "TUTOR_DATA_DIR": str(data), "TUTOR_AUTH": "on", "TUTOR_LLM_BACKEND": "none",
           "TUTOR_INDEX_DIR": str(data / "index"), "TUTOR_PUBLIC_ORIGINS": PUBLIC,
           "TUTOR_UI_ADMIN_PASSWORD": "ui-admin-pass-1"}
    info, proc = launch_server(data, env, [("alice", "student", [])], serve_args=())
    yield info
    stop_server(proc)


def test_v1_stays_json_under_the_ui(ui_server):
    c = httpx.Client(base_url=ui_server["base"], headers={"Authorization": f"Bearer {ui_server['keys']['alice']}"})
    for method in ("GET", "POST", "DELETE"):
        assert_json_error(c.request(method, "/v1/definitely-not-a-route"), 404)
    r = c.delete("/v1/jobs")
    assert_json_error(r, 405)
    assert "GET" in r.headers["allow"]
    assert c.get("/v1/tools").status_code == 200
    assert "<html" in httpx.get(ui_server["base"] + "/").text.lower()  # the UI itself is still there


def test_cors_only_for_the_public_origin(ui_server):
    base = ui_server["base"]
    pre = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    evil = httpx.options(base + "/project/settings", headers={"Origin": "https://evil.example", **pre})
    assert evil.headers.get("access-control-allow-origin") in (None, "")
    good = httpx.options(base + "/project/settings", headers={"Origin": PUBLIC, **pre})
    assert good.headers.get("access-control-allow-origin") == PUBLIC
    import tomllib

    config = tomllib.loads((ui_server["data"] / "ui" / ".chainlit" / "config.toml").read_text())
    assert config["project"]["allow_origins"] == [PUBLIC]


def test_websocket_handshake_checks_the_origin(ui_server):
    url = ui_server["base"] + "/ws/socket.io/"
    params = {"EIO": "4", "transport": "polling"}
    evil = httpx.get(url, params=params, headers={"Origin": "https://evil.example"})
    assert evil.status_code == 400 and "not an accepted origin" in evil.text
    sibling = httpx.get(url, params=params, headers={"Origin": "https://student-pages.example.edu"})
    assert sibling.status_code == 400
    ok = httpx.get(url, params=params, headers={"Origin": PUBLIC})
    assert ok.status_code == 200 and '"sid"' in ok.text
