"""The platforms' side of the bots, replaced at its HTTP boundary: small aiohttp servers on
loopback that speak enough of the Telegram Bot API and the Discord REST API for the bots,
record every call, and enforce the platforms' real limits (message length, "message is
not modified", flood control on request)."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tutor.bots.client import utf16_len


@dataclass
class Call:
    method: str  # Telegram method or "VERB /path" for Discord
    chat: str | None  # Telegram chat id / Discord channel id
    fields: dict[str, Any]  # form / JSON fields
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # field -> (file name, content)
    status: int = 200
    result: Any = None  # what the platform answered (the sent message...)

    @property
    def text(self) -> str:
        return str(self.fields.get("text") or self.fields.get("content") or "")


class FakeServer:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    def app(self) -> web.Application:
        raise NotImplementedError

    async def start(self) -> "FakeServer":
        self.runner = web.AppRunner(self.app())
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        host, port = self.runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def ok(self, chat: str | None = None) -> list[Call]:
        """Successful calls, optionally only those for one chat/channel."""
        return [c for c in self.calls if c.status < 300 and (chat is None or c.chat == str(chat))]


async def read_form(request: web.Request) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
    fields: dict[str, Any] = {}
    files: dict[str, tuple[str, bytes]] = {}
    if request.content_type == "application/json":
        return await request.json(), files
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        async for part in reader:
            data = await part.read()
            if part.filename:
                files[part.name] = (part.filename, bytes(data))
            else:
                fields[part.name] = data.decode()
        return fields, files
    form = await request.post()
    return dict(form), files


class FakeTelegram(FakeServer):
    """POST /bot<token>/<method> with form data, answers {"ok", "result"} like the Bot API."""

    LIMIT = 4096

    def __init__(self) -> None:
        super().__init__()
        self.ids = itertools.count(1)
        self.texts: dict[tuple[str, int], str] = {}  # (chat, message id) -> current text
        self.flood: dict[str, int] = {}  # method -> how many next calls get 429 retry_after=1
        self.me = {"id": 999, "is_bot": True, "first_name": "Tutor", "username": "tutor_test_bot"}

    def app(self) -> web.Application:
        app = web.Application(client_max_size=20_000_000)
        app.router.add_post("/bot{token}/{method}", self.handle)
        return app

    def message(self, chat: str, **extra) -> dict:
        cid = int(chat)
        chat_obj = {"id": cid, "type": "private", "first_name": "Student"} if cid > 0 else \
            {"id": cid, "type": "supergroup", "title": "DL course"}
        return {"message_id": next(self.ids), "date": int(time.time()), "chat": chat_obj, "from": self.me, **extra}

    @staticmethod
    def error(code: int, description: str, **parameters) -> web.Response:
        body = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=code)

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        fields, files = await read_form(request)
        for name, value in list(fields.items()):  # a file sent as a separate part: "photo": "attach://<part>"
            if isinstance(value, str) and value.startswith("attach://") and value[9:] in files:
                files[name] = files.pop(value[9:])
        chat = fields.get("chat_id")
        call = Call(method, chat, fields, files)
        self.calls.append(call)
        response = self.respond(method, chat, fields, files)
        call.status, call.result = response.status, json.loads(response.body).get("result")
        return response

    def respond(self, method: str, chat: str | None, fields: dict, files: dict) -> web.Response:
        if self.flood.get(method):
            self.flood[method] -= 1
            return self.error(429, "Too Many Requests: retry after 1", retry_after=1)
        if method == "getMe":
            return web.json_response({"ok": True, "result": self.me})
        if method == "sendChatAction":
            return web.json_response({"ok": True, "result": True})
        if chat is None:
            return self.error(400, "Bad Request: chat_id is empty")
        if method in ("sendMessage", "editMessageText"):
            text = fields.get("text", "")
            if not text.strip():
                return self.error(400, "Bad Request: message text is empty")
            if utf16_len(text) > self.LIMIT:
                return self.error(400, "Bad Request: message is too long")
            if method == "sendMessage":
                msg = self.message(chat, text=text)
                self.texts[(chat, msg["message_id"])] = text
                return web.json_response({"ok": True, "result": msg})
            key = (chat, int(fields.get("message_id", 0)))
            if key not in self.texts:
                return self.error(400, "Bad Request: message to edit not found")
            if self.texts[key] == text:
                return self.error(400, "Bad Request: message is not modified: specified new message content and "
                                       "reply markup are exactly the same as a current content and reply markup")
            self.texts[key] = text
            msg = self.message(chat, text=text, edit_date=int(time.time()))
            msg["message_id"] = key[1]
            return web.json_response({"ok": True, "result": msg})
        if method in ("sendPhoto", "sendDocument"):
            kind = "photo" if method == "sendPhoto" else "document"
            if kind not in files:
                return self.error(400, f"Bad Request: there is no {kind} in the request")
            if len(fields.get("caption", "")) > 1024:
                return self.error(400, "Bad Request: message caption is too long")
            media = [{"file_id": "AgAD", "file_unique_id": "AQAD", "width": 640, "height": 480}] \
                if kind == "photo" else {"file_id": "BQAD", "file_unique_id": "AQAE"}
            return web.json_response({"ok": True, "result": self.message(chat, caption=fields.get("caption"),
                                                                         **{kind: media})})
        return self.error(404, "Not Found: method not found")


def jresp(data: Any, status: int = 200) -> web.Response:
    # Discord sends exactly "application/json" (discord.py compares the header verbatim)
    return web.Response(body=json.dumps(data).encode(), status=status, content_type="application/json")


class FakeDiscord(FakeServer):
    """The REST routes discord.py uses for login, messages, edits, uploads and typing."""

    LIMIT = 2000

    def __init__(self) -> None:
        super().__init__()
        self.ids = itertools.count(5000)
        self.messages: dict[str, dict] = {}
        self.me = {"id": "1000", "username": "tutor", "discriminator": "0", "global_name": "Tutor", "avatar": None,
                   "bot": True}

    def app(self) -> web.Application:
        app = web.Application(client_max_size=20_000_000)
        r = app.router
        r.add_get("/api/v10/users/@me", lambda req: self.record(req, jresp(self.me)))
        r.add_get("/api/v10/oauth2/applications/@me", self.application)
        r.add_post("/api/v10/channels/{channel}/messages", self.create)
        r.add_patch("/api/v10/channels/{channel}/messages/{message}", self.edit)
        r.add_post("/api/v10/channels/{channel}/typing", lambda req: self.record(req, web.Response(status=204)))
        return app

    async def record(self, request: web.Request, response: web.Response, fields=None, files=None) -> web.Response:
        result = json.loads(response.body) if response.content_type == "application/json" else None
        self.calls.append(Call(f"{request.method} {request.path}", request.match_info.get("channel"), fields or {},
                               files or {}, response.status, result))
        return response

    async def application(self, request: web.Request) -> web.Response:
        return await self.record(request, jresp({
            "id": "1000", "name": "tutor", "description": "", "icon": None, "bot_public": True,
            "bot_require_code_grant": False, "owner": {**self.me, "id": "1", "username": "staff", "bot": False},
            "verify_key": "00", "flags": 0}))

    @staticmethod
    def invalid(message: str) -> web.Response:
        return jresp({"code": 50035, "message": "Invalid Form Body",
                                  "errors": {"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH",
                                                                      "message": message}]}}}, status=400)

    def message(self, channel: str, content: str, attachments=(), mid: str | None = None) -> dict:
        return {"id": mid or str(next(self.ids)), "channel_id": channel, "content": content, "author": self.me,
                "timestamp": "2026-01-01T00:00:00+00:00", "edited_timestamp": None, "tts": False,
                "mention_everyone": False, "mentions": [], "mention_roles": [], "attachments": list(attachments),
                "embeds": [], "pinned": False, "type": 0}

    async def create(self, request: web.Request) -> web.Response:
        fields, files = await read_form(request)
        if "payload_json" in fields:
            fields = json.loads(fields.pop("payload_json"))
        channel = request.match_info["channel"]
        content = fields.get("content") or ""
        if len(content) > self.LIMIT:
            response = self.invalid(f"Must be {self.LIMIT} or fewer in length.")
        elif not content and not files:
            response = jresp({"code": 50006, "message": "Cannot send an empty message"}, status=400)
        else:
            atts = [{"id": str(next(self.ids)), "filename": name, "size": len(data), "url": f"{self.url}/a/{name}",
                     "proxy_url": f"{self.url}/a/{name}"} for name, data in files.values()]
            msg = self.message(channel, content, atts)
            self.messages[msg["id"]] = msg
            response = jresp(msg)
        return await self.record(request, response, fields, files)

    async def edit(self, request: web.Request) -> web.Response:
        fields = await request.json()
        channel, mid = request.match_info["channel"], request.match_info["message"]
        content = fields.get("content") or ""
        if mid not in self.messages:
            response = jresp({"code": 10008, "message": "Unknown Message"}, status=404)
        elif len(content) > self.LIMIT:
            response = self.invalid(f"Must be {self.LIMIT} or fewer in length.")
        else:
            msg = self.messages[mid] = {**self.message(channel, content, mid=mid),
                                        "edited_timestamp": "2026-01-01T00:00:01+00:00"}
            response = jresp(msg)
        return await self.record(request, response, fields)
