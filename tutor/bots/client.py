"""The bots' HTTP client of the tutor API, and the platform-neutral conversation logic:
one thread per chat/channel, plain messages to /v1/chat/stream, progress of a job as one
edited status message, plots as photos, long answers split at the platform's limit, and
API failures (bad key, rate limit, server down) as a short message to the student."""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable

import httpx

log = logging.getLogger(__name__)


class TutorAPIError(RuntimeError):
    def __init__(self, message: str, status: int = 0, code: str = "", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.retry_after = status, code, retry_after


class TutorClient:
    def __init__(self, base_url: str, api_key: str | None, timeout: float = 60.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.AsyncClient(base_url=base_url.rstrip("/"), headers=headers, transport=transport,
                                      timeout=httpx.Timeout(timeout, read=None))

    async def close(self) -> None:
        await self.http.aclose()

    async def chat_stream(self, thread_id: str, user: str, message: str) -> AsyncIterator[dict]:
        body = {"message": message, "thread_id": thread_id, "user": user}
        async with self.http.stream("POST", "/v1/chat/stream", json=body) as r:
            if r.status_code != 200:
                await r.aread()
                raise api_error(r)
            event, data = None, []
            async for line in r.aiter_lines():
                if line.startswith(":"):  # keep-alive comment
                    continue
                if not line:  # a blank line ends an event
                    if event and data:
                        yield json.loads("\n".join(data))
                    event, data = None, []
                elif line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
            if event and data:
                yield json.loads("\n".join(data))

    async def artifact(self, job_id: str, name: str) -> bytes:
        return await self.download(f"/v1/jobs/{job_id}/artifacts/{name}")

    async def download(self, url: str) -> bytes:
        """A file the tutor's events name by URL (a job's plot, a pretrained model's drawing); only
        URLs of this API are followed."""
        if not url.startswith("/v1/"):
            raise TutorAPIError(f"not a tutor API URL: {url[:80]}", 400, "bad_url")
        r = await self.http.get(url)
        if r.status_code != 200:
            raise api_error(r)
        return r.content


def api_error(r: httpx.Response) -> TutorAPIError:
    try:
        err = r.json()["error"]
        message, code = err["message"], err["code"]
    except Exception:
        message, code = f"HTTP {r.status_code}", ""
    retry = r.headers.get("retry-after")
    return TutorAPIError(message, r.status_code, code, float(retry) if retry and retry.isdigit() else None)


def language(text: str) -> str:
    """'en' for messages written in English, else 'ru' (the course's language)."""
    low = text.lower()
    return "en" if not re.search(r"[а-яё]", low) and len(re.findall(r"[a-z]", low)) >= 6 else "ru"


def friendly(e: Exception, lang: str) -> str:
    """What the student sees when the tutor API cannot answer (the details go to the log)."""
    ru = lang == "ru"
    if isinstance(e, TutorAPIError):
        if e.status == 401:
            return ("⚠️ Бот не может обратиться к тьютору: его ключ API недействителен. Сообщите преподавателю."
                    if ru else "⚠️ The bot cannot reach the tutor: its API key is not valid. Please tell the course staff.")
        if e.status == 429:
            wait = f" {int(e.retry_after)} с" if ru and e.retry_after else f" {int(e.retry_after)} s" if e.retry_after else ""
            return (f"⏳ Слишком много запросов. Повторите через{wait or ' минуту'}."
                    if ru else f"⏳ Too many requests. Please try again in{wait or ' a minute'}.")
        if e.status in (413, 422):
            return (f"⚠️ Тьютор не принял сообщение: {e}" if ru else f"⚠️ The tutor rejected the message: {e}")
        if e.status >= 500:
            return ("⚠️ У тьютора внутренняя ошибка. Попробуйте ещё раз позже."
                    if ru else "⚠️ The tutor had an internal error. Please try again later.")
        return f"⚠️ {e}"
    return ("⚠️ Тьютор сейчас недоступен. Попробуйте позже."
            if ru else "⚠️ The tutor is not reachable right now. Please try again later.")


def utf16_len(text: str) -> int:
    """Telegram measures message length in UTF-16 code units (an emoji outside the BMP is 2)."""
    return len(text.encode("utf-16-le")) // 2


def split_message(text: str, limit: int, length: Callable[[str], int] = len) -> list[str]:
    """Split at paragraph, then line, then word boundaries so no part is longer than
    `limit` as measured by `length` (characters by default)."""
    parts: list[str] = []
    rest = text.strip()
    while length(rest) > limit:
        window = min(limit, len(rest))
        while length(rest[:window]) > limit:  # only shrinks for multi-unit characters
            window -= max(1, (length(rest[:window]) - limit) // 2)
        cut = max(rest.rfind("\n\n", 0, window), rest.rfind("\n", 0, window))
        if cut < window // 3:
            cut = rest.rfind(" ", 0, window)
        if cut < window // 3:
            cut = window
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts or ["…"]


def format_sources(sources: list[dict]) -> str:
    return "\n".join(f"[{s['n']}] {s['source']} — {s['section']}" for s in sources)


def progress_text(ev: dict) -> str:
    if not ev.get("metrics"):
        return "⏳ " + str(ev.get("message") or "")[:300]
    metrics = ", ".join(f"{k}={v:.4g}" if isinstance(v, (int, float)) else f"{k}={v}"
                        for k, v in list((ev.get("metrics") or {}).items())[:4])
    step = f"{ev.get('unit') or 'step'} {ev.get('step')}" if ev.get("step") is not None else ""
    if step and ev.get("total"):
        step += f"/{ev['total']}"
    return "⏳ " + ": ".join(x for x in (step, metrics) if x)


@dataclass
class Platform:
    """What a platform adapter provides to the conversation logic."""
    send_text: Callable[[str], Awaitable[Any]]  # returns a handle usable by edit_text
    edit_text: Callable[[Any, str], Awaitable[None]]
    send_photo: Callable[[bytes, str, str], Awaitable[None]]  # (png bytes, file name, caption)
    limit: int  # max message length
    typing: Callable[[], Awaitable[None]] | None = None  # "the bot is typing…" (best effort)
    length: Callable[[str], int] = len  # how the platform measures `limit`


async def converse(client: TutorClient, platform: Platform, thread_id: str, user: str, text: str,
                   edit_interval_s: float = 2.0) -> str:
    """One turn: stream the tutor's events and render them on the platform. Returns what
    was sent as the answer (or the error message)."""
    lang = language(text)
    status_handle = None
    last_edit = 0.0
    photos: list[tuple[str, str]] = []  # (URL, name)
    final = None
    if platform.typing is not None:
        try:
            await platform.typing()
        except Exception as e:  # a missing typing indicator is no reason to fail the turn
            log.debug("typing indicator failed: %s", e)
    try:
        async for ev in client.chat_stream(thread_id, user, text):
            t = ev.get("type")
            if t == "job_submitted":
                status_handle = await platform.send_text(f"⏳ {ev['tool']}: job {ev['job_id']} queued")
            elif t == "job_progress" and status_handle is not None and (ev.get("metrics") or ev.get("message")):
                now = time.monotonic()
                if now - last_edit >= edit_interval_s:  # platforms rate-limit edits
                    await platform.edit_text(status_handle, progress_text(ev))
                    last_edit = now
            elif t == "artifact" and ev.get("kind") == "image" and (ev.get("job_id") or ev.get("url")):
                photos.append((ev.get("url") or f"/v1/jobs/{ev['job_id']}/artifacts/{ev['name']}", ev["name"]))
            elif t == "final":
                final = ev
    except (TutorAPIError, httpx.HTTPError) as e:
        log.warning("tutor API error for %s: %s: %s", thread_id, type(e).__name__, e)
        msg = friendly(e, lang)
        await platform.send_text(msg)
        return msg
    if final is None:  # the stream ended early (server restarted...)
        msg = ("⚠️ Ответ прервался. Повторите вопрос." if lang == "ru"
               else "⚠️ The answer was cut off. Please ask again.")
        await platform.send_text(msg)
        return msg
    if status_handle is not None:
        job = final.get("job") or {}
        status = job.get("status") or "running"
        icon = {"succeeded": "✅", "failed": "❌", "cancelled": "⏹"}.get(status, "⏳")
        await platform.edit_text(status_handle, f"{icon} {job.get('tool', '')} {job.get('id', '')}: {status}")
    answer = final["answer"]
    if final.get("sources"):
        answer += "\n\n" + format_sources(final["sources"])
    for part in split_message(answer, platform.limit, platform.length):
        await platform.send_text(part)
    seen = set()
    for url, name in photos:
        if url in seen or not name.lower().endswith((".png", ".jpg", ".jpeg")):
            continue
        seen.add(url)
        try:
            await platform.send_photo(await client.download(url), name, name)
        except (TutorAPIError, httpx.HTTPError) as e:
            log.warning("image %s not sent: %s", url, e)
    return answer
