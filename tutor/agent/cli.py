"""`python -m tutor ask` (one answer) and `python -m tutor chat` (a streaming REPL)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    a = sub.add_parser("ask", help="ask the tutor one question (or request an experiment)")
    a.add_argument("question", nargs="+")
    a.add_argument("--json", action="store_true", help='print {"answer", "sources", "events"}')
    a.add_argument("--mode", choices=["explain", "hint"], default=None)
    a.add_argument("--index-dir", type=Path, default=None)
    a.add_argument("--plan-only", action="store_true", help="report the job it would submit, without submitting")
    a.add_argument("--thread", default=None, help="thread id (default: a new one)")
    a.add_argument("--user", default="cli")
    a.add_argument("--image", type=Path, default=None, help="attach an image (inference with your last checkpoint)")
    a.set_defaults(handler=cmd_ask)

    c = sub.add_parser("chat", help="interactive chat in the terminal (streaming)")
    c.add_argument("--mode", choices=["explain", "hint"], default=None)
    c.add_argument("--index-dir", type=Path, default=None)
    c.add_argument("--thread", default=None)
    c.add_argument("--user", default="cli")
    c.set_defaults(handler=cmd_chat)


def _service(index_dir):
    from tutor.agent.service import TutorService
    from tutor.settings import get_settings

    st = get_settings()
    if index_dir is not None:
        st = st.model_copy(update={"index_dir": Path(index_dir)})
    return TutorService(st)


def _attachments(image: Path | None) -> list[dict]:
    if image is None:
        return []
    import mimetypes

    mime = mimetypes.guess_type(image.name)[0] or "application/octet-stream"
    return [{"name": image.name, "path": str(image), "mime": mime}]


async def _scheduler(svc) -> bool:
    """A confirmed run must run: when no scheduler serves the database (no API, no `jobs
    serve`), this process schedules the queue while it lives, and says so. True if started."""
    if svc.jobs.scheduler_alive():
        return False
    print("(no job scheduler serves this database: this process schedules runs while it is open)", file=sys.stderr)
    await svc.jobs.start()
    return True


async def _ask(a) -> int:
    svc = _service(a.index_dir)
    svc.index  # a missing index is a set-up error (IndexNotFound), not "the course does not cover this"
    own = await _scheduler(svc) if not a.plan_only else False
    try:
        return await _ask_turn(svc, a)
    finally:
        await svc.aclose()
        if own:
            await svc.jobs.stop()


async def _ask_turn(svc, a) -> int:
    thread = a.thread or f"cli-{uuid.uuid4().hex[:8]}"
    events, final = [], None
    async for ev in svc.chat(thread, a.user, " ".join(a.question), mode=a.mode, attachments=_attachments(a.image),
                             plan_only=a.plan_only):
        events.append(ev.model_dump(mode="json"))
        if ev.type == "token" and not a.json:
            print(ev.text, end="", flush=True)
        elif ev.type == "job_progress" and not a.json:
            m = " ".join(f"{k}={v:.4g}" for k, v in ev.metrics.items())
            print(f"\n  [{ev.unit or ''} {ev.step}/{ev.total}] {m}", end="", file=sys.stderr, flush=True)
        elif ev.type == "final":
            final = ev
    if a.json:
        print(json.dumps({"answer": final.answer if final else "", "sources": [s.model_dump() for s in final.sources] if final else [],
                          "events": events}, ensure_ascii=False))
    else:
        print()
        for s in final.sources if final else []:
            print(f"[{s.n}] {s.source} — {s.section} ({s.anchor})")
    # non-zero when the request was not carried out: empty or rejected input, bad parameters
    failed = final is None or final.intent in ("error", "empty") or bool(final.error)
    return 1 if failed else 0


def cmd_ask(a) -> int:
    from index.search import IndexNotFound

    try:
        return asyncio.run(_ask(a))
    except IndexNotFound as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


def cmd_chat(a) -> int:
    return asyncio.run(_chat(a))


async def _chat(a) -> int:
    svc = _service(a.index_dir)
    thread = a.thread or f"cli-{uuid.uuid4().hex[:8]}"
    print(f"tutor chat (thread {thread}); /help for commands, Ctrl-D to quit")
    own = await _scheduler(svc)

    async def turn(text: str) -> None:
        async for ev in svc.chat(thread, a.user, text, mode=a.mode):
            if ev.type == "token":
                print(ev.text, end="", flush=True)
            elif ev.type == "job_progress" and ev.metrics:
                print(f"\n  [{ev.step}/{ev.total}] " + " ".join(f"{k}={v:.4g}" for k, v in ev.metrics.items()), end="")
            elif ev.type == "artifact":
                print(f"\n  artifact: {ev.path}", end="")
            elif ev.type == "final":
                print()
                for s in ev.sources:
                    print(f"  [{s.n}] {s.source} — {s.section}")

    try:
        while True:
            try:
                text = await asyncio.to_thread(input, "> ")
            except EOFError:
                print()
                return 0
            if text.strip():
                await turn(text)
    finally:
        await svc.aclose()
        if own:
            await svc.jobs.stop()
