"""Process-wide objects the Chainlit callbacks use: set by `tutor.ui.mount.mount_ui` from
the FastAPI app (so UI and API share one TutorService, one job scheduler, one database)."""

from __future__ import annotations

_state: dict = {}


def configure(settings, app_state=None) -> None:
    _state["settings"] = settings
    _state["app_state"] = app_state
    _state.pop("ui_storage", None)  # it lives under the data dir of these settings


def settings():
    if "settings" not in _state:
        from tutor.settings import get_settings

        _state["settings"] = get_settings()
    return _state["settings"]


def tutor():
    app_state = _state.get("app_state")
    if app_state is not None and getattr(app_state, "tutor", None) is not None:
        return app_state.tutor
    if "tutor" not in _state:
        from tutor.agent.service import TutorService

        _state["tutor"] = TutorService(settings())
    return _state["tutor"]


def users():
    if "users" not in _state:
        from tutor.db import get_engine
        from tutor.ui.store import UserStore

        _state["users"] = UserStore(get_engine(settings()))
    return _state["users"]


def async_db_url() -> str:
    url = settings().database_url
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///"):]
    if url.startswith("postgresql://") or url.startswith("postgresql+psycopg2://"):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url


def ui_files_dir():
    """Where chat element files live (tutor.ui.files.LocalStorageClient)."""
    from pathlib import Path

    return Path(settings().data_dir).resolve() / "ui" / "elements"


def ui_storage():
    """The one storage client of chat element files: the data layer writes through it and
    the /ui-files/ route reads through it."""
    if "ui_storage" not in _state:
        from tutor.ui.files import LocalStorageClient

        _state["ui_storage"] = LocalStorageClient(ui_files_dir())
    return _state["ui_storage"]
