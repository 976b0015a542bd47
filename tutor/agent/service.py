"""`TutorService`: the one entry used by the API, the UI, the bots and the CLI.

`chat(...)` streams the typed events (tutor.agent.events) of one turn of a thread and
ends with a `FinalEvent`; the methods beside it are what the adapters need from the
tutor (a student's job or checkpoint, the LLM a chat picked) so that none of them reaches
into the services. State lives in the database (threads, jobs) and in the agent's
checkpoints (a pending confirmation), so any process serving the same data continues a
thread, also after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import uuid
from typing import Any, AsyncIterator

from tutor.agent.context import NO_LLM, Services, TurnContext
from tutor.agent.events import ErrorEvent, FinalEvent, Source
from tutor.agent.intents import MODES, IntentKind
from tutor.agent.language import message_language
from tutor.agent.messages import say
from tutor.agent.router import is_confirmation
from tutor.agent.state import fresh_state
from tutor.settings import Settings, get_settings

log = logging.getLogger(__name__)

CHECKPOINT_LOCK_WAIT_S = 30.0  # how long a turn waits for another one's checkpoint write (as tutor.db's engines)
WIND_DOWN_WAIT_S = 30.0  # how long a turn waits for a cancelled turn of its thread to finish closing
_END = object()  # the last item a turn's task puts on its event queue
# the typed values the checkpointer may restore (everything else in the state is plain data)
CHECKPOINT_TYPES = [("tutor.agent.intents", "Intent"), ("tutor.agent.intents", "IntentKind"),
                    ("tutor.agent.events", "ExperimentPlan"), ("tutor.agent.events", "JobInfo"),
                    ("tutor.agent.events", "ArtifactInfo"), ("tutor.agent.events", "ComparisonInfo"),
                    ("tutor.agent.events", "PredictionInfo"), ("tutor.agent.events", "AnswerStyle"),
                    ("tutor.agent.events", "AnswerCheck"), ("tutor.agent.events", "DroppedSentence"),
                    ("index.search", "Hit")]


class TutorService:
    def __init__(self, settings: Settings | None = None, index=None, jobs=None, llm=None, threads=None) -> None:
        from tutor.jobs.worker import extra_tools

        self.settings = settings or get_settings()
        self.services = Services(self.settings, index=index, jobs=jobs, llm=llm, threads=threads)
        self._llms: dict[tuple, tuple[Any, Any]] = {}
        self._winding_down: dict[str, asyncio.Task] = {}  # checkpoint thread → its cancelled turn, until closed
        extra_tools()  # tools registered through TUTOR_EXTRA_TOOLS are known to the chat too

    # ---- what the adapters may use -----------------------------------------------------------
    @property
    def index(self):
        return self.services.index

    @property
    def jobs(self):
        return self.services.jobs

    @property
    def threads(self):
        return self.services.threads

    @property
    def llm(self):
        return self.services.llm

    def topics(self) -> list[str]:
        return self.services.topics()

    def job_for(self, user: str, job_id: str) -> dict[str, Any] | None:
        """The user's own job, or None (another user's job is indistinguishable from a missing one)."""
        return self.jobs.get_owned(str(job_id or ""), user)

    def latest_checkpoint(self, user: str, tool: str) -> tuple[str | None, str | None]:
        return self.jobs.latest_checkpoint(user, tool)

    def choose_llm(self, backend: str | None, model: str | None) -> tuple[tuple[Any, Any] | None, str | None]:
        """((chat, caps), problem) for a chat that picked its own LLM: None means the configured
        one; a problem says why the pick cannot be used (its turns then answer extractively)."""
        st = self.settings
        if not backend or (backend == st.llm_backend and (model or None) == (st.llm_model or None)):
            return None, None
        key = (backend, model or None)
        if key in self._llms:
            return self._llms[key], None
        from tutor.llm import get_llm

        try:
            choice = get_llm(st, backend=backend, model=model)
        except Exception as e:  # not cached: the next message tries again
            log.warning("LLM %s unavailable: %s", backend, e)
            return (None, NO_LLM), f"{backend}: {e}"
        self._llms[key] = choice
        return choice, None

    # ---- the turn -----------------------------------------------------------------------------
    async def chat(self, thread_id: str, user: str, message: str, mode: str | None = None,
                   attachments: list[dict[str, Any]] | None = None, plan_only: bool = False,
                   llm: tuple[Any, Any] | None = None, course: str | None = None) -> AsyncIterator[Any]:
        """Stream the events of one turn. Never raises for bad input: it yields an ErrorEvent
        and a FinalEvent explaining what to do instead. `course`: the course the account belongs
        to (None: an unbound bot's or admin's chat, whose course is its own /course or the demo).

        The turn runs in a task of its own and this generator relays its events. A caller that
        stops early (a client gone mid-stream: the generator is closed or its task cancelled)
        cancels that task once, and the turn winds down with plain asyncio semantics: the
        graph's pending checkpoint writes finish before its connection closes. Run directly in
        the caller's task, a transport's anyio cancel scope re-cancelled every await of that
        clean-up, the connection was closed under a write in flight, and the half-done write
        kept the checkpoints locked until the garbage collector finalized it (minutes in CI)."""
        key = _checkpoint_thread(thread_id, user)
        await self._after_wind_down(key)
        events: asyncio.Queue = asyncio.Queue()
        turn = asyncio.get_running_loop().create_task(
            self._relay(events, thread_id, user, message, mode, attachments, plan_only, llm, course), name=f"turn {key}")
        try:
            while (ev := await events.get()) is not _END:
                yield ev
        finally:
            if not turn.done():
                turn.cancel()  # no await here: the caller may itself be cancelled, and the turn closes on its own
                self._winding_down[key] = turn
                turn.add_done_callback(lambda t: self._winding_down.pop(key, None) if self._winding_down.get(key) is t
                                       else None)

    async def _after_wind_down(self, key: str) -> None:
        """A turn of a thread whose previous turn was cancelled starts once that one has closed
        (its checkpoint writes and connection), or after WIND_DOWN_WAIT_S."""
        previous = self._winding_down.get(key)
        if previous is None or previous.done():
            return
        if previous.get_loop() is not asyncio.get_running_loop():  # a loop that has ended (a CLI run, a test)
            self._winding_down.pop(key, None)
            return
        await asyncio.wait({previous}, timeout=WIND_DOWN_WAIT_S)

    async def _relay(self, events: asyncio.Queue, thread_id: str, user: str, message: str, mode: str | None,
                     attachments: list[dict[str, Any]] | None, plan_only: bool, llm: tuple[Any, Any] | None,
                     course: str | None) -> None:
        """The turn itself: its events onto `events`, then _END (also when it fails or is cancelled)."""
        message = message if isinstance(message, str) else ""
        lang = "ru"
        try:
            thread = await asyncio.to_thread(self.threads.get_or_create, thread_id, user)
            lang = message_language(message, thread.get("language"))
            problem = self._reject(message, mode, lang)
            if problem is not None:
                code, text = problem
                events.put_nowait(ErrorEvent(code=code, message=text))
                events.put_nowait(FinalEvent(answer=text, intent=IntentKind.ERROR, mode=mode or "explain",
                                             thread_id=thread_id, language=lang, error=code))
                return
            async for ev in self._turn(thread, thread_id, user, message, mode, lang, attachments or [], plan_only, llm,
                                       course):
                events.put_nowait(ev)
        except Exception:  # a bug or an unavailable backend must not kill the caller
            # the details (SQL, paths, stack) go to the log under a reference, not to the student
            ref = uuid.uuid4().hex[:8]
            log.exception("chat turn failed [ref %s]", ref)
            text = say("internal_error", lang, ref=ref)
            events.put_nowait(ErrorEvent(code="internal_error", message=text))
            events.put_nowait(FinalEvent(answer=text, intent=IntentKind.ERROR, mode=mode or "explain",
                                         thread_id=thread_id, language=lang, error="internal_error"))
        finally:
            events.put_nowait(_END)

    def _course_llm(self, course: str) -> tuple[Any, Any]:
        """The course's default LLM (its settings), else the configured one."""
        cs = getattr(self.services.courses.find(course), "settings", None)
        if cs is not None and cs.llm_backend:
            choice, problem = self.choose_llm(cs.llm_backend, cs.llm_model)
            if choice is not None:
                return choice
        return self.services.safe_llm()

    def _reject(self, message: str, mode: str | None, lang: str) -> tuple[str, str] | None:
        if len(message) > self.settings.max_message_chars:
            return "message_too_long", say("message_too_long", lang, n=len(message), limit=self.settings.max_message_chars)
        if mode is not None and mode not in MODES:
            return "bad_mode", say("bad_mode", lang, mode=mode, modes=", ".join(MODES))
        return None

    async def _turn(self, thread: dict, thread_id: str, user: str, message: str, mode: str | None, lang: str,
                    attachments: list[dict], plan_only: bool, llm, binding: str | None = None) -> AsyncIterator[Any]:
        updates: dict[str, Any] = {}
        course = await asyncio.to_thread(self.services.courses.course_for_turn, binding, thread.get("course"))
        if thread.get("course") != course:
            updates["course"] = course
        if not thread.get("language") or (thread.get("language") != lang and len(message.strip()) >= 6
                                          and not message.startswith("/")):
            updates["language"] = lang
        if mode and mode != thread.get("mode"):
            updates["mode"] = mode
        if updates:
            await asyncio.to_thread(self.threads.update, thread_id, **updates)
        mode = mode or thread.get("mode") or "explain"
        chat, caps = llm if llm is not None else await asyncio.to_thread(self._course_llm, course)
        ctx = TurnContext(services=self.services, user=user, thread_id=thread_id, chat=chat, caps=caps,
                          plan_only=plan_only, course=course, course_bound=binding is not None)
        async with self._graph() as graph:
            async for ev in self._run(graph, thread, thread_id, user, message, mode, lang, attachments, plan_only, ctx):
                yield ev

    async def _run(self, graph, thread: dict, thread_id: str, user: str, message: str, mode: str, lang: str,
                   attachments: list[dict], plan_only: bool, ctx: TurnContext) -> AsyncIterator[Any]:
        from langgraph.types import Command

        config = {"configurable": {"thread_id": _checkpoint_thread(thread_id, user)}}
        pending = thread.get("pending") or None
        answer = is_confirmation(message) if not attachments else None
        own = await graph.aget_state(config)
        if own.interrupts and answer is not None:
            run_input: Any = Command(resume=answer)
        elif answer is True and pending and pending.get("owner") != user:
            async for ev in self._reply(thread_id, user, message, mode, lang,
                                        say("confirmation_not_yours", lang, owner=_display(pending.get("owner"))),
                                        IntentKind.CONFIRM, error="not_your_confirmation"):
                yield ev
            return
        else:
            history = await asyncio.to_thread(self._history, thread_id)
            run_input = fresh_state(message, mode, lang, attachments, history)
        # closed here when the turn is (a client gone mid-stream): the run's pending checkpoint writes end
        # before the connection closes, not when the abandoned generator is collected
        async with contextlib.aclosing(graph.astream(run_input, config, context=ctx, stream_mode="custom")) as run:
            async for chunk in run:
                yield chunk
        snap = await graph.aget_state(config)
        values = snap.values
        waiting = bool(snap.interrupts)
        if waiting:
            await asyncio.to_thread(self.threads.update, thread_id, pending={"owner": user})
        else:
            await graph.checkpointer.adelete_thread(config["configurable"]["thread_id"])  # nothing left to resume
            if pending and pending.get("owner") == user:
                await asyncio.to_thread(self.threads.update, thread_id, pending=None)
        job = values.get("job")
        intent = values.get("intent")
        kind = intent.kind if intent is not None else IntentKind.QUESTION
        if isinstance(run_input, Command):
            kind = IntentKind.CONFIRM if answer else IntentKind.DECLINE
        final = FinalEvent(
            answer=values.get("answer", ""), sources=[Source(**s) for s in values.get("sources") or []], intent=kind,
            mode=values.get("mode") or mode, thread_id=thread_id, language=lang,
            job_id=job.id if job else None,
            answer_style=values.get("answer_style"), error=values.get("error"), homework=bool(values.get("homework")),
            homework_item=values.get("homework_item"), course=ctx.course,
            llm_failed=bool(values.get("llm_failed")), job=job, jobs=values.get("jobs") or [],
            plans=(values.get("plans") or []) if (waiting or plan_only) else [],
            comparison=values.get("comparison"), prediction=values.get("prediction"), query=values.get("query"),
            check=values.get("check"), timings=values.get("timings") or {})
        await asyncio.to_thread(self._persist, thread_id, message, final)
        yield final

    async def _reply(self, thread_id: str, user: str, message: str, mode: str, lang: str, text: str,
                     kind: IntentKind, error: str | None = None) -> AsyncIterator[Any]:
        """A turn answered without running the graph."""
        from tutor.agent.events import TokenEvent

        if error:
            yield ErrorEvent(code=error, message=text)
        yield TokenEvent(text=text)
        final = FinalEvent(answer=text, intent=kind, mode=mode, thread_id=thread_id, language=lang, error=error)
        await asyncio.to_thread(self._persist, thread_id, message, final)
        yield final

    def _history(self, thread_id: str) -> list[tuple[str, str]]:
        """(role, text) of the thread's last question turns, oldest first; a student's message is
        given as the standalone question it was answered as (stored with the answer), so a chain
        of follow-ups («а зачем?» after «а как?») stays on its topic."""
        rows = [m for m in self.threads.history(thread_id, limit=12) if m.get("intent") in (None, "question", "agent")]
        out = []
        for i, m in enumerate(rows):
            text = m["content"]
            if m["role"] == "user" and i + 1 < len(rows) and rows[i + 1]["role"] == "assistant":
                text = ((rows[i + 1].get("data") or {}).get("query")) or text
            out.append((m["role"], text))
        return out[-6:]

    def _persist(self, thread_id: str, message: str, final: FinalEvent) -> None:
        data = final.model_dump(mode="json", exclude={"type", "answer", "sources", "thread_id"})
        self.threads.append(thread_id, "user", message, final.intent.value)
        self.threads.append(thread_id, "assistant", final.answer, final.intent.value,
                            [s.model_dump() for s in final.sources], data)

    async def aclose(self) -> None:
        """Nothing is held between turns (kept for adapters that close services on shutdown)."""

    @contextlib.asynccontextmanager
    async def _graph(self):
        """The compiled graph with a checkpointer connection for one turn: aiosqlite connections
        belong to one event loop, and the API, a CLI REPL and each test run their own."""
        import aiosqlite
        from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        from tutor.agent.graph import build_graph

        path = self.settings.agent_checkpoints
        path.parent.mkdir(parents=True, exist_ok=True)
        # a turn waits up to 30 s for another turn's checkpoint write (sqlite's 5 s default failed a turn on a
        # loaded 2-core machine: "database is locked" while a cancelled turn of the same thread was still writing)
        conn = await aiosqlite.connect(str(path), timeout=CHECKPOINT_LOCK_WAIT_S,  # sqlite's busy timeout
                                       factory=_RollbackOnClose)
        try:
            saver = AsyncSqliteSaver(conn, serde=JsonPlusSerializer(allowed_msgpack_modules=CHECKPOINT_TYPES))
            await saver.setup()
            yield build_graph(saver)
        finally:
            await asyncio.shield(conn.close())  # a cancellation of this turn does not skip the close


class _RollbackOnClose(sqlite3.Connection):
    """A checkpoint connection that rolls back what is uncommitted when it closes, in the same call.

    A cancelled turn can leave a checkpoint write in flight: its INSERT runs in the connection's
    thread, its commit never comes. sqlite3's close() of a connection whose statements are still
    referenced only marks it a zombie, and the zombie keeps that write transaction (every other turn:
    «database is locked») until the garbage collector finalizes the statement. Rolling back first
    ends the transaction; doing both in one call leaves no gap for another queued write. After a turn
    that ended there is nothing to roll back: the saver commits each write."""

    def close(self) -> None:
        try:
            self.rollback()
        finally:
            super().close()


def _checkpoint_thread(thread_id: str, user: str) -> str:
    """One checkpoint thread per (chat thread, user): in a group chat, a plan waiting for its
    confirmation belongs to the student who asked, and nobody else's "да" resumes it."""
    return f"{thread_id}#{user}"


def _display(owner: str | None) -> str:
    return (owner or "?").rsplit(":", 1)[-1]
