"""OAuth login for the chat UI: registered only when a provider's OAUTH_* variables are set;
a provider account becomes the tutor UI user '<provider>:<login>' with role student (its
history and feedback persist like a password user's), never a local account of the same
name; TUTOR_OAUTH_ALLOWED_DOMAINS limits logins to verified e-mails of those domains."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(300)


def _start_flow(data: Path, **env) -> subprocess.Popen:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OAUTH_", "CHAINLIT_", "TUTOR_"))}
    env = {**clean, "TUTOR_DATA_DIR": str(data), "TUTOR_LLM_BACKEND": "none", "TUTOR_UI_ADMIN_PASSWORD": "local-admin-1",
           "NO_PROXY": "127.0.0.1,localhost,testserver", "HF_HUB_OFFLINE": "1", **env}
    return subprocess.Popen([sys.executable, str(ROOT / "tests" / "ui" / "oauth_flow.py")], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _result(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err[-3000:]
    line = next(ln for ln in out.splitlines() if ln.startswith("OAUTH-FLOW "))
    return json.loads(line.removeprefix("OAUTH-FLOW "))


def test_github_login_through_chainlit_routes(tmp_path):
    from tutor.db import make_engine
    from tutor.ui.store import UserStore

    res = _result(_start_flow(tmp_path / "gh", TUTOR_OAUTH_ALLOWED_DOMAINS="students.example.edu"))
    assert res["config"]["oauthProviders"] == ["github"] and res["config"]["passwordAuth"]
    octo = res["logins"]["code-octo"]
    assert octo["authorize"].endswith("/login/oauth/authorize") and octo["client_id"] == "gh-client"
    assert octo["redirect_uri"] == "http://testserver/auth/oauth/github/callback"
    assert octo["callback_status"] == 302 and octo["callback_location"].startswith("/login/callback")
    assert octo["user"]["identifier"] == "github:octocat"
    meta = octo["user"]["metadata"]
    assert (meta["role"], meta["provider"], meta["email"]) == ("student", "github", "octo@students.example.edu")

    # only a verified address counts for the allowed domains
    eve = res["logins"]["code-eve"]
    assert "error=oauthSignin" in eve["callback_location"] and eve["user_status"] == 401

    # GitHub's "admin" is not the local admin
    admin = res["logins"]["code-admin"]
    assert admin["user"]["identifier"] == "github:admin" and admin["user"]["metadata"]["role"] == "student"
    assert "error=oauthSignin" in res["forged_state_location"]

    store = UserStore(make_engine(f"sqlite:///{tmp_path / 'gh' / 'tutor.db'}"))
    assert store.verify("admin", "local-admin-1")["role"] == "admin"
    for name in ("github:octocat", "github:admin"):
        assert store.ensure_external(name, "github")["role"] == "student"
        assert store.verify(name, "") is None and store.verify(name, "!") is None  # no password login

    # staff promote an OAuth account from the command line
    env = {**os.environ, "TUTOR_DATA_DIR": str(tmp_path / "gh")}
    r = subprocess.run([sys.executable, "-m", "tutor", "users", "role", "github:octocat", "staff"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert store.ensure_external("github:octocat", "github")["role"] == "staff"
    r = subprocess.run([sys.executable, "-m", "tutor", "users", "role", "github:nobody", "staff"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "no UI user" in r.stderr


async def test_oauth_callback_maps_accounts(ui, monkeypatch):
    import chainlit as cl
    from chainlit.auth import get_configuration
    from chainlit.config import config

    if not any(k.startswith("OAUTH_") for k in os.environ):
        # without provider variables there is no OAuth at all, only the password form
        assert config.code.oauth_callback is None
        assert get_configuration()["oauthProviders"] == [] and get_configuration()["passwordAuth"]

    oauth = ui.app.oauth
    google = cl.User(identifier="ann@uni.example.org", metadata={"image": "https://img.example/a", "provider": "google"})
    user = await oauth("google", "tok", {"email": "ann@uni.example.org", "verified_email": True}, google)
    assert user.identifier == "google:ann@uni.example.org"
    assert user.metadata == {"image": "https://img.example/a", "role": "student", "provider": "google",
                             "email": "ann@uni.example.org"}

    # staff promote an account once (python -m tutor users role ...); later logins keep the role
    ui.users.set_role("google:ann@uni.example.org", "staff")
    assert (await oauth("google", "tok", {"email": "ann@uni.example.org"}, google)).metadata["role"] == "staff"

    monkeypatch.setattr(ui.settings, "oauth_allowed_domains", "uni.example.org, @Students.Example.org")
    kc = cl.User(identifier="bo@students.example.org", metadata={"provider": "keycloak"})
    assert await oauth("keycloak", "t", {"email": "bo@students.example.org", "email_verified": False}, kc) is None
    assert (await oauth("keycloak", "t", {"email": "bo@students.example.org", "email_verified": True}, kc)).identifier \
        == "keycloak:bo@students.example.org"
    gh = cl.User(identifier="octo", metadata={"provider": "github"})
    assert await oauth("github", "t", {"login": "octo", "email": "o@uni.example.org", "emails": []}, gh) is not None
    assert await oauth("github", "t", {"login": "octo", "email": None,
                                       "emails": [{"email": "o@gmail.example.com", "verified": True}]}, gh) is None
    assert ui.users.verify("google:ann@uni.example.org", "") is None
