"""Run by test_oauth.py in a fresh process, because Chainlit reads the OAUTH_* variables
when it is first imported: the tutor app with the UI mounted (tutor.api.main.create_app),
a stand-in for GitHub's OAuth endpoints on loopback (the only fake: GitHub itself), and
GitHub logins through Chainlit's real routes /auth/oauth/github and
/auth/oauth/github/callback. Prints one JSON line with what happened.

    TUTOR_DATA_DIR=... python tests/ui/oauth_flow.py
"""

from __future__ import annotations

import json
import os
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

ACCOUNTS = {  # code -> (GitHub /user, /user/emails)
    "code-octo": ({"login": "octocat", "avatar_url": "https://avatars.example/octo.png", "email": None},
                  [{"email": "octo@old.example.com", "primary": False, "verified": True},
                   {"email": "Octo@Students.Example.EDU", "primary": True, "verified": True}]),
    "code-eve": ({"login": "eve", "avatar_url": "https://avatars.example/eve.png", "email": "eve@students.example.edu"},
                 [{"email": "eve@students.example.edu", "primary": True, "verified": False},
                  {"email": "eve@mail.example.com", "primary": False, "verified": True}]),
    "code-admin": ({"login": "admin", "avatar_url": "https://avatars.example/a.png", "email": None},
                   [{"email": "admin@students.example.edu", "primary": True, "verified": True}]),
}


class FakeGitHub(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _send(self, body: bytes, ctype: str, status: int = 200):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):  # token exchange
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        ok = form.get("client_secret") == ["gh-secret"] and form.get("code", [""])[0] in ACCOUNTS
        body = f"access_token=tok-{form['code'][0]}&token_type=bearer" if ok else "error=bad_verification_code"
        self._send(body.encode(), "application/x-www-form-urlencoded")

    def do_GET(self):
        code = self.headers.get("Authorization", "").removeprefix("token tok-")
        if code not in ACCOUNTS:
            return self._send(b'{"message": "Bad credentials"}', "application/json", 401)
        user, emails = ACCOUNTS[code]
        self._send(json.dumps(emails if self.path.endswith("/emails") else user).encode(), "application/json")


def main() -> dict:
    gh = ThreadingHTTPServer(("127.0.0.1", 0), FakeGitHub)
    threading.Thread(target=gh.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{gh.server_address[1]}"
    os.environ.update({"OAUTH_GITHUB_CLIENT_ID": "gh-client", "OAUTH_GITHUB_CLIENT_SECRET": "gh-secret",
                       "OAUTH_GITHUB_AUTH_URL": f"{base}/login/oauth/authorize",
                       "OAUTH_GITHUB_TOKEN_URL": f"{base}/login/oauth/access_token",
                       "OAUTH_GITHUB_USER_INFO_URL": f"{base}/user"})
    from fastapi.testclient import TestClient

    from tutor.api.main import create_app
    from tutor.settings import Settings

    app = create_app(Settings(), start_scheduler=False, mount_ui=True)
    out: dict = {"logins": {}}
    with TestClient(app) as client:
        out["config"] = client.get("/auth/config").json()
        for code in ACCOUNTS:
            client.cookies.clear()
            r = client.get("/auth/oauth/github", follow_redirects=False)
            loc = urllib.parse.urlsplit(r.headers["location"])
            q = urllib.parse.parse_qs(loc.query)
            r = client.get("/auth/oauth/github/callback", params={"code": code, "state": q["state"][0]},
                           follow_redirects=False)
            me = client.get("/user")
            out["logins"][code] = {
                "authorize": f"{loc.scheme}://{loc.netloc}{loc.path}", "client_id": q["client_id"][0],
                "redirect_uri": q["redirect_uri"][0], "callback_status": r.status_code,
                "callback_location": r.headers.get("location", ""), "user_status": me.status_code,
                "user": me.json() if me.status_code == 200 else None}
        # a forged state (CSRF) is refused
        client.cookies.clear()
        client.get("/auth/oauth/github", follow_redirects=False)
        r = client.get("/auth/oauth/github/callback", params={"code": "code-octo", "state": "forged"},
                       follow_redirects=False)
        out["forged_state_location"] = r.headers.get("location", "")
    gh.shutdown()
    return out


if __name__ == "__main__":
    print("OAUTH-FLOW " + json.dumps(main()), flush=True)
