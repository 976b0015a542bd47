"""Mount the Chainlit UI into the FastAPI app at / (API stays under /v1, one port)."""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
from pathlib import Path

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent


def allowed_origins(settings) -> list[str]:
    """TUTOR_PUBLIC_ORIGINS as a list ('https://tutor.example.edu'); empty means same origin only."""
    raw = getattr(settings, "public_origins", "") or ""
    return [o.strip().rstrip("/") for o in raw.split(",") if o.strip() and o.strip() != "*"]


def prepare_app_root(settings) -> Path:
    """Chainlit reads .chainlit/config.toml under its app root and writes uploads to
    .files there: both live in the data dir, the config copied from tutor/ui/config.toml
    with `allow_origins` set to the configured public origins (the UI logs in by cookie:
    never '*')."""
    import json
    import re

    root = Path(settings.data_dir).resolve() / "ui"
    (root / ".chainlit" / "translations").mkdir(parents=True, exist_ok=True)
    config = (HERE / "config.toml").read_text(encoding="utf-8")
    config = re.sub(r"(?m)^allow_origins = .*$", "allow_origins = " + json.dumps(allowed_origins(settings)), config)
    forced = getattr(settings, "ui_language", "") or ""
    if re.fullmatch(r"[a-z]{2}(-[A-Z]{2})?", forced):  # one language for every student instead of the browser's
        config = config.replace('# language = "en-US"', f'language = "{forced}"')
    elif forced:
        log.warning("ignoring TUTOR_UI_LANGUAGE=%r: expected a code like ru-RU", forced)
    (root / ".chainlit" / "config.toml").write_text(config, encoding="utf-8")
    # Chainlit ships no Russian: ours (the other languages Chainlit copies in itself)
    for f in (HERE / "translations").glob("*.json"):
        shutil.copyfile(f, root / ".chainlit" / "translations" / f.name)
    (root / "chainlit.md").write_text(
        "# Tutor\n\nПомощник курса по глубокому обучению: ответы по материалам курса со ссылками и настоящие "
        "эксперименты на PyTorch. Наберите /help.\n", encoding="utf-8")
    return root


def ensure_first_user(settings) -> None:
    """With no UI account yet, create 'admin' with a random password and print it once."""
    from tutor.ui import runtime

    store = runtime.users()
    if store.count() == 0:
        password = os.environ.get("TUTOR_UI_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        store.create("admin", password, role="admin")
        print(f"tutor UI: created user 'admin' with password: {password}  "
              "(more users: python -m tutor users create NAME)", flush=True)


def mount_ui(app, settings) -> None:
    root = prepare_app_root(settings)
    os.environ["CHAINLIT_APP_ROOT"] = str(root)  # read when chainlit is first imported
    from tutor.ui.store import auth_secret

    os.environ.setdefault("CHAINLIT_AUTH_SECRET", auth_secret(settings.data_dir))
    import chainlit.config as clconfig

    if Path(clconfig.APP_ROOT).resolve() != root:
        raise RuntimeError("chainlit was imported before the UI app root was set; mount the UI first")
    from chainlit.utils import mount_chainlit

    from tutor.ui import runtime

    runtime.configure(settings, app.state)
    from tutor.ui.files import add_file_route

    add_file_route(app, runtime.ui_storage())  # before chainlit's catch-all route
    mount_chainlit(app=app, target=str(HERE / "app.py"), path="")
    restrict_origins(settings)
    ensure_first_user(settings)


def restrict_origins(settings) -> None:
    """The chat's websocket authenticates by the login cookie, and browsers do not apply
    CORS to websockets: Chainlit's socket.io server is built with origin checks off
    (cors_allowed_origins=[]), so any page the student visits could open a socket as them.
    Here engine.io checks the Origin of every socket.io request: the configured public
    origins, or (none configured) the request's own host, as engine.io does by default."""
    from chainlit.config import config as clconfig
    from chainlit.server import sio

    origins = allowed_origins(settings)
    clconfig.project.allow_origins = origins  # the HTTP CORS middleware reads the config copy too
    sio.eio.cors_allowed_origins = origins or None  # None: same origin as the Host header
