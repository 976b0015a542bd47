"""The bots' HTTP client of the tutor API, and the platform-neutral conversation logic:
one thread per chat/channel, plain messages to /v1/chat/stream, progress of a job as one
edited status message, plots as photos, long answers split at the platform's limit."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable

import httpx


class TutorAPIError(RuntimeError):
    pass


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
                raise TutorAPIError(_error_text(r))
            event = None
            async for line in r.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event:
                    yield json.loads(line[5:].strip())
                    event = None

    async def artifact(self, job_id: str, name: str) -> bytes:
        r = await self.http.get(f"/v1/jobs/{job_id}/artifacts/{name}")
        if r.status_code != 200:
            raise TutorAPIError(_error_text(r))
        return r.content


def _error_text(r: httpx.Response) -> str:
    try:
        return r.json()["error"]["message"]
    except Exception:
        return f"HTTP {r.status_code}"


def split_message(text: str, limit: int) -> list[str]:
    """Split at paragraph, then line, then word boundaries so no part exceeds `limit`."""
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = max(rest.rfind("\n\n", 0, limit), rest.rfind("\n", 0, limit))
        if cut < limit // 3:
            cut = rest.rfind(" ", 0, limit)
        if cut < limit // 3:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts or ["…"]


def format_sources(sources: list[dict]) -> str:
    return "\n".join(f"[{s['n']}] {s['source']} — {s['section']}" for s in sources)


@dataclass
class Platform:
    """What a platform adapter provides to the conversation logic."""
    send_text: Callable[[str], Awaitable[Any]]  # returns a handle usable by edit_text
    edit_text: Callable[[Any, str], Awaitable[None]]
    send_photo: Callable[[bytes, str, str], Awaitable[None]]  # (png bytes, file name, caption)
    limit: int  # max characters per message


async def converse(client: TutorClient, platform: Platform, thread_id: str, user: str, text: str,
                   edit_interval_s: float = 2.0) -> str:
    """One turn: stream the tutor's events and render them on the platform. Returns the answer."""
    status_handle = None
    last_edit = 0.0
    photos: list[tuple[str | None, str]] = []
    final = None
    try:
        async for ev in client.chat_stream(thread_id, user, text):
            t = ev.get("type")
            if t == "job_submitted":
                status_handle = await platform.send_text(f"⏳ {ev['tool']}: job {ev['job_id']} queued")
            elif t == "job_progress" and status_handle is not None and ev.get("metrics"):
                now = time.monotonic()
                if now - last_edit >= edit_interval_s:  # platforms rate-limit edits
                    m = ", ".join(f"{k}={v:.4g}" for k, v in ev["metrics"].items())
                    await platform.edit_text(status_handle, f"⏳ {ev.get('unit') or 'step'} {ev.get('step')}/{ev.get('total')}: {m}")
                    last_edit = now
            elif t == "artifact" and ev.get("kind") == "image" and ev.get("job_id"):
                photos.append((ev["job_id"], ev["name"]))
            elif t == "final":
                final = ev
    except TutorAPIError as e:
        msg = f"⚠️ {e}"
        await platform.send_text(msg)
        return msg
    except httpx.HTTPError as e:
        msg = f"⚠️ tutor API unreachable: {type(e).__name__}"
        await platform.send_text(msg)
        return msg
    if final is None:
        return ""
    if status_handle is not None:
        job = (final.get("data") or {}).get("job") or {}
        await platform.edit_text(status_handle, f"✅ {job.get('tool', '')} {job.get('id', '')}: {job.get('status', 'done')}")
    answer = final["answer"]
    if final.get("sources"):
        answer += "\n\n" + format_sources(final["sources"])
    for part in split_message(answer, platform.limit):
        await platform.send_text(part)
    seen = set()
    for job_id, name in photos:
        if name in seen or not name.lower().endswith(".png"):
            continue
        seen.add(name)
        try:
            await platform.send_photo(await client.artifact(job_id, name), name, name)
        except TutorAPIError:
            continue
    return answer
