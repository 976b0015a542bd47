"""`TutorService.chat(...)`: the one entry used by the API, the UI, the bots and the CLI.

It streams typed events (tutor.agent.events) for one turn of a thread: tokens of the
answer, the sources it cites, experiment plans, submitted jobs, their progress and
artifacts, and a final event. State (threads, jobs) lives in the database, so any
process serving the same database continues a thread.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from pathlib import Path
from typing import Any, AsyncIterator

from langgraph.config import get_stream_writer

from tutor.agent import answer as ans
from tutor.agent.events import (
    ArtifactEvent, ErrorEvent, FinalEvent, JobPlannedEvent, JobProgressEvent, JobSubmittedEvent, Source,
    SourcesEvent, TokenEvent, ToolCallEvent,
)
from tutor.agent.router import Intent, detect_language, filter_params, route
from tutor.settings import Settings, get_settings

log = logging.getLogger(__name__)

MODES = ("explain", "hint")

# rough CPU wall-clock seconds per (tool, preset) on 2 cores, used for cost control;
# the GPU divides them by ~20 (see bench/RESULTS.md)
CPU_ESTIMATE_S = {"smoke": 15, "quick": 150, "full": 3600}

HELP = {
    "ru": (
        "Я — помощник по курсу глубокого обучения. Что я умею:\n"
        "- отвечать на вопросы по материалам курса со ссылками на источники;\n"
        "- запускать настоящие эксперименты: «обучи CNN на 5 эпох с lr 0.01», «запусти DQN на CartPole»;\n"
        "- показывать прогресс, графики и сравнивать запуски.\n\n"
        "Команды: /run TOOL [smoke|quick|full] [key=value ...], /jobs, /status ID, /cancel ID, /compare TOOL, "
        "/search ЗАПРОС, /mode explain|hint, /help.\nИнструменты: {tools}."
    ),
    "en": (
        "I am the tutor of a deep-learning course. I can:\n"
        "- answer questions from the course materials, citing the sources;\n"
        "- run real experiments: \"train a CNN for 5 epochs with lr 0.01\", \"run DQN on CartPole\";\n"
        "- stream progress, show plots and compare runs.\n\n"
        "Commands: /run TOOL [smoke|quick|full] [key=value ...], /jobs, /status ID, /cancel ID, /compare TOOL, "
        "/search QUERY, /mode explain|hint, /help.\nTools: {tools}."
    ),
}


def _t(lang: str, ru: str, en: str) -> str:
    return ru if lang == "ru" else en


class TutorService:
    def __init__(self, settings: Settings | None = None, index=None, jobs=None, llm=None, threads=None) -> None:
        self.settings = settings or get_settings()
        self._index = index
        self._jobs = jobs
        self._llm = llm  # (chat model, capabilities) or None to load from settings
        self._threads = threads
        self._graph = None
        from tutor.jobs.worker import extra_tools

        extra_tools()  # tools registered through TUTOR_EXTRA_TOOLS are known to the chat too

    # ---- lazily created collaborators --------------------------------------------------
    @property
    def index(self):
        if self._index is None:
            from index.search import HybridIndex

            st = self.settings
            self._index = HybridIndex.load(st.index_dir, rrf_k=st.rrf_k, use_gpu=st.use_gpu_index,
                                    dense_weight=st.dense_weight, heading_weight=st.heading_weight)
        return self._index

    @property
    def jobs(self):
        if self._jobs is None:
            from tutor.jobs.service import JobService

            self._jobs = JobService(self.settings)
        return self._jobs

    @property
    def llm(self):
        if self._llm is None:
            from tutor.llm import get_llm

            self._llm = get_llm(self.settings)
        return self._llm

    @property
    def threads(self):
        if self._threads is None:
            from tutor.agent.threads import ThreadStore
            from tutor.db import get_engine

            self._threads = ThreadStore(get_engine(self.settings))
        return self._threads

    @property
    def graph(self):
        if self._graph is None:
            from tutor.agent.graph import build_graph

            self._graph = build_graph(self)
        return self._graph

    def topics(self) -> list[str]:
        """Lecture titles of the indexed corpus, for 'what the course covers'."""
        titles = []
        try:
            for src, meta in self.index.manifest.get("files", {}).items():
                if "lectures/" in src and meta.get("title") and meta["title"] not in titles:
                    titles.append(meta["title"])
        except Exception:  # no index: answer without a list
            pass
        return titles or ["CNN", "детекция", "сегментация", "RNN/LSTM", "трансформеры", "GAN", "RL/DQN"]

    # ---- the entry point ----------------------------------------------------------------
    async def chat(self, thread_id: str, user: str, message: str, mode: str | None = None,
                   attachments: list[dict[str, Any]] | None = None, plan_only: bool = False) -> AsyncIterator[Any]:
        """Stream the events of one turn. Never raises for bad input: it yields an
        ErrorEvent and a FinalEvent explaining what to do instead."""
        message = message if isinstance(message, str) else ""
        lang = await asyncio.to_thread(self._language, thread_id, message)
        if len(message) > self.settings.max_message_chars:
            msg = _t(lang, f"Сообщение слишком длинное ({len(message)} символов, максимум "
                           f"{self.settings.max_message_chars}). Сократите вопрос.",
                     f"The message is too long ({len(message)} characters, at most "
                     f"{self.settings.max_message_chars}). Please shorten it.")
            yield ErrorEvent(code="message_too_long", message=msg)
            yield FinalEvent(answer=msg, intent="error", mode=mode or "explain", thread_id=thread_id, language=lang)
            return
        if mode is not None and mode not in MODES:
            msg = f"unknown mode '{mode}'; use one of {', '.join(MODES)}"
            yield ErrorEvent(code="bad_mode", message=msg)
            yield FinalEvent(answer=msg, intent="error", mode="explain", thread_id=thread_id, language=lang)
            return
        state = {"thread_id": thread_id, "user": user, "message": message, "mode": mode or "", "language": lang,
                 "attachments": attachments or [], "plan_only": plan_only}
        try:
            async for chunk in self.graph.astream(state, stream_mode="custom"):
                yield chunk
        except Exception:  # a bug or an unavailable backend must not kill the caller
            # the details (SQL, paths, stack) go to the log under a reference, not to the student
            ref = uuid.uuid4().hex[:8]
            log.exception("chat turn failed [ref %s]", ref)
            msg = _t(lang, f"Не получилось ответить из-за внутренней ошибки (код {ref}). Попробуйте ещё раз "
                           "или сообщите код преподавателю.",
                     f"Could not answer because of an internal error (reference {ref}). Please try again or "
                     "give the reference to the course staff.")
            yield ErrorEvent(code="internal_error", message=msg)
            yield FinalEvent(answer=msg, intent="error", mode=mode or "explain", thread_id=thread_id, language=lang)

    def _language(self, thread_id: str, message: str) -> str:
        """The message's language; commands and short replies ("/help", "да", "ok")
        keep the thread's language, Russian by default."""
        text = message.strip()
        if text.startswith("/") or len(re.findall(r"[a-zа-яё]", text.lower())) < 6:
            if re.search(r"[а-яё]", text.lower()):
                return "ru"
            try:
                row = self.threads.get(thread_id)
            except Exception:
                row = None
            return (row or {}).get("language") or "ru"
        lang = detect_language(text[:2000])
        try:
            if self.threads.get(thread_id) is not None:
                self.threads.update(thread_id, language=lang)
        except Exception:
            pass
        return lang

    # ---- helpers used by nodes ----------------------------------------------------------
    @staticmethod
    def _emit(event) -> None:
        get_stream_writer()(event)

    def _stream_text(self, text: str, size: int = 24) -> None:
        """Deterministic answers are streamed as tokens too, so every client renders one way."""
        words = re.split(r"(\s+)", text)
        buf = ""
        for w in words:
            buf += w
            if len(buf) >= size:
                self._emit(TokenEvent(text=buf))
                buf = ""
        if buf:
            self._emit(TokenEvent(text=buf))

    # ---- nodes ---------------------------------------------------------------------------
    async def node_route(self, state: dict) -> dict:
        thread = await asyncio.to_thread(self.threads.get_or_create, state["thread_id"], state["user"])
        if not thread.get("language"):
            await asyncio.to_thread(self.threads.update, state["thread_id"], language=state["language"])
        mode = state.get("mode") or thread.get("mode") or "explain"
        if state.get("mode") and state["mode"] != thread.get("mode"):
            await asyncio.to_thread(self.threads.update, state["thread_id"], mode=state["mode"])
        pending = thread.get("pending")
        intent = route(state["message"], awaiting_confirmation=bool(pending))
        images = [a for a in state.get("attachments") or [] if str(a.get("mime", "")).startswith("image/")]
        if images and intent.kind in ("question", "empty"):
            intent = Intent("predict", tool=_tool_for_upload(state["message"]))
        if intent.kind == "question" and self._llm_can_call_tools():
            intent = await self._llm_route(state["message"]) or intent
        if intent.kind not in ("confirm", "decline") and pending:
            await asyncio.to_thread(self.threads.update, state["thread_id"], pending=None)  # a new request drops it
        return {"mode": mode, "intent": intent.__dict__ | {"pending": pending}}

    def _llm_can_call_tools(self) -> bool:
        try:
            chat, caps = self.llm
        except Exception:
            return False
        return chat is not None and caps.tool_calling

    async def _llm_route(self, message: str) -> Intent | None:
        """Capable backends may pick an experiment by native tool calling; the arguments
        are still validated by the tool's Config before anything runs."""
        from tutor.agent.tools import experiment_tool_schemas

        chat, _ = self.llm
        try:
            bound = chat.bind_tools(experiment_tool_schemas())
            reply = await bound.ainvoke(
                [("system", "You route messages of a deep-learning tutor. Call a tool ONLY if the student explicitly "
                            "asks to train or run an experiment; otherwise answer with the single word QUESTION."),
                 ("human", message)])
        except Exception as e:
            log.warning("LLM routing failed, using rules: %s", e)
            return None
        calls = getattr(reply, "tool_calls", None) or []
        if not calls:
            return None
        call = calls[0]
        name = call["name"].removeprefix("run_")
        args = dict(call.get("args") or {})
        preset = args.pop("preset", None)
        self._emit(ToolCallEvent(name=call["name"], args=call.get("args") or {}))
        return Intent("experiment", tool=name, preset=preset, params=args, reason="llm")

    async def node_retrieve(self, state: dict) -> dict:
        from tutor.agent.followup import standalone_query

        q, lang = state["message"], state.get("language") or "ru"
        history = await asyncio.to_thread(self._history_pairs, state["thread_id"])
        writer = self._writer(lang)
        query, how = await standalone_query(q, history, writer, lang, course_words=self._normalize(q).course_words)
        try:
            hits = await asyncio.to_thread(self.index.search, query, self.settings.search_k)
        except Exception as e:
            log.warning("retrieval failed: %s", e)
            hits = []
        hits = ans.prefer_language(hits, lang, self.index)
        sources = ans.make_sources(hits)
        if hits:
            self._emit(SourcesEvent(query=query, sources=sources))
        return {"hits": hits, "sources": [s.model_dump() for s in sources], "query": query, "history": history,
                "follow_up": how != "as_is"}

    async def node_answer(self, state: dict) -> dict:
        from tutor.agent.generation import AnswerResult, write_answer

        message, lang, hits, mode = state["message"], state["language"], state.get("hits") or [], state["mode"]
        q = state.get("query") or message
        norm = self._normalize(q)
        data = {"query": q}
        if ans.is_off_topic(hits, q, norm):
            text = ans.off_topic_answer(lang, self.topics())
            self._stream_text(text)
            return {"answer": text, "sources": [], "data": data | {"reason": "off_topic"}}
        if not ans.is_relevant(hits, q, norm):
            text = ans.not_covered_answer(lang, self.topics())
            self._stream_text(text)
            return {"answer": text, "sources": [], "data": data | {"reason": "not_covered"}}
        hint = mode == "hint" and ans.is_homework(q, hits)
        embedder = getattr(self.index, "embedder", None)
        writer = self._writer(lang)
        data |= {"homework": hint}
        if writer is not None:
            strong = ans.is_strongly_relevant(hits, q, norm)
            said_not_covered = []

            def fallback(reason: str) -> str:
                if not strong and not hint and ("do not cover" in reason or "unsupported" in reason
                                                or reason == "no supported claim"):
                    # the model says the materials do not cover it, or could write nothing they support, and
                    # retrieval agrees only weakly: say so rather than quote loosely related text
                    said_not_covered.append(reason)
                    return ans.not_covered_answer(lang, self.topics())
                return (ans.hint_answer(q, hits, lang, embedder, self.index) if hint else
                        ans.extractive_answer(q, hits, lang, embedder))

            asked = message if not state.get("follow_up") else f"{message} ({q})"
            result = None
            async for item in write_answer(asked, hits, lang, writer, "hint" if hint else "explain",
                                           state.get("history") or [], bool(state.get("follow_up")), embedder,
                                           getattr(self.index, "normalizer", None), fallback,
                                           min(self.settings.llm_max_tokens, 400)):
                if isinstance(item, AnswerResult):
                    result = item
                elif item:
                    self._emit(TokenEvent(text=item))
            if result is not None and said_not_covered and result.style == "extractive":
                return {"answer": result.text, "sources": [], "data": data | {
                    "reason": "not_covered", "check": {"reason": result.reason, "raw": result.raw[:2000]}}}
            if result is not None and result.text.strip():
                return {"answer": result.text, "data": data | {
                    "answer_style": result.style, "check": {
                        "reason": result.reason, "kept_claims": result.kept_claims,
                        "dropped": [{"text": d.text, "reason": d.reason} for d in result.dropped],
                        "raw": result.raw[:2000]},
                    "timings": result.timings}}
        if hint:
            text = await asyncio.to_thread(ans.hint_answer, q, hits, lang, embedder, self.index)
        else:
            text = await asyncio.to_thread(ans.extractive_answer, q, hits, lang, embedder)
        self._stream_text(text)
        return {"answer": text, "data": data | {"answer_style": "extractive"}}

    def _writer(self, lang: str):
        """The chat model when it writes answers in this language (else None: extractive answers)."""
        chat, caps = self._safe_llm()
        return chat if chat is not None and caps.generative_answers and caps.speaks(lang) else None

    def _normalize(self, text: str):
        """Student wording read against the index vocabulary (index.wording); None without an index."""
        try:
            return self.index.normalizer.normalize(text)
        except Exception:
            return None

    def _safe_llm(self):
        try:
            return self.llm
        except Exception as e:
            log.warning("LLM unavailable, answering extractively: %s", e)
            from tutor.llm.base import LLMCapabilities

            return None, LLMCapabilities(name="none")

    def _history_pairs(self, thread_id: str) -> list[tuple[str, str]]:
        """(role, text) of the thread's last question turns, oldest first; a student's message is
        given as the standalone question it was answered as (stored with the answer), so a chain
        of follow-ups («а зачем?» after «а как?») stays on its topic."""
        rows = [m for m in self.threads.history(thread_id, limit=12) if m.get("intent") in (None, "question")]
        out = []
        for i, m in enumerate(rows):
            text = m["content"]
            if m["role"] == "user" and i + 1 < len(rows) and rows[i + 1]["role"] == "assistant":
                text = ((rows[i + 1].get("data") or {}).get("query")) or text
            out.append((m["role"], text))
        return out[-6:]

    # ---- experiments ---------------------------------------------------------------------
    def _cuda(self) -> bool:
        try:
            import torch

            return torch.cuda.is_available()
        except Exception:
            return False

    async def node_experiment(self, state: dict) -> dict:
        from pydantic import ValidationError

        from tools.registry import TOOLS, get_tool

        lang, it = state["language"], state["intent"]
        if it["kind"] == "confirm":
            plan = it.get("pending") or {}
            if not plan:
                text = _t(lang, "Нечего подтверждать: сначала попросите запустить эксперимент.",
                          "Nothing to confirm: ask me to run an experiment first.")
                self._stream_text(text)
                return {"answer": text}
            await asyncio.to_thread(self.threads.update, state["thread_id"], pending=None)
            return await self._submit_and_watch(state, plan["tool"], plan["preset"], plan["config"])
        tool = it.get("tool")
        if tool not in TOOLS:
            text = _t(lang, f"Не знаю инструмента «{tool}». Доступны: {', '.join(TOOLS)}.",
                      f"Unknown tool '{tool}'. Available: {', '.join(TOOLS)}.")
            self._emit(ErrorEvent(code="unknown_tool", message=text))
            self._stream_text(text)
            return {"answer": text, "data": {"error": "unknown_tool"}}
        params, unknown = filter_params(tool, it.get("params") or {})
        entry = get_tool(tool)
        preset = it.get("preset") or self.settings.default_preset
        if unknown and it.get("command") == "run":
            text = _t(lang, f"У инструмента {tool} нет параметров: {', '.join(unknown)}. Параметры: "
                            f"{', '.join(entry.config_cls.model_fields)}.",
                      f"Tool {tool} has no parameters: {', '.join(unknown)}. Parameters: "
                      f"{', '.join(entry.config_cls.model_fields)}.")
            self._emit(ErrorEvent(code="bad_parameters", message=text))
            self._stream_text(text)
            return {"answer": text, "data": {"error": "bad_parameters"}}
        try:
            cfg = entry.make_config(preset, params)
        except (ValidationError, KeyError) as e:
            detail = _validation_text(e)
            text = _t(lang, f"Не могу запустить {tool}: {detail}", f"Cannot run {tool}: {detail}")
            self._emit(ErrorEvent(code="bad_parameters", message=text))
            self._stream_text(text)
            return {"answer": text, "data": {"error": "bad_parameters"}}
        config = cfg.model_dump()
        on_gpu = self._cuda() and config.get("device") != "cpu"
        estimate = CPU_ESTIMATE_S.get(preset, 300) / (20 if on_gpu else 1)
        needs_confirm = estimate > self.settings.confirm_above_s and not state.get("plan_only")
        self._emit(JobPlannedEvent(tool=tool, preset=preset, config=config, estimate_s=estimate,
                                   needs_confirmation=needs_confirm))
        if state.get("plan_only"):
            text = _t(lang, f"План: {tool}, пресет {preset}, ~{estimate:.0f} с. Конфигурация: {_short(config)}.",
                      f"Plan: {tool}, preset {preset}, ~{estimate:.0f} s. Config: {_short(config)}.")
            self._stream_text(text)
            return {"answer": text, "data": {"plan": {"tool": tool, "preset": preset, "config": config}}}
        if needs_confirm:
            plan = {"tool": tool, "preset": preset, "config": config}
            await asyncio.to_thread(self.threads.update, state["thread_id"], pending=plan)
            where = _t(lang, "на GPU" if on_gpu else "на CPU", "on the GPU" if on_gpu else "on the CPU")
            text = _t(lang,
                      f"Запущу {tool} (пресет {preset}) {where}: это займёт примерно {_dur(estimate, lang)}. "
                      f"Параметры: {_short(config)}.\nЗапустить? Ответьте «да» или «нет».",
                      f"I will run {tool} (preset {preset}) {where}: about {_dur(estimate, lang)}. "
                      f"Parameters: {_short(config)}.\nRun it? Reply \"yes\" or \"no\".")
            self._stream_text(text)
            return {"answer": text, "data": {"plan": plan, "needs_confirmation": True}}
        return await self._submit_and_watch(state, tool, preset, config)

    async def _submit_and_watch(self, state: dict, tool: str, preset: str, config: dict) -> dict:
        from tutor.jobs.service import JobError

        lang = state["language"]
        try:
            job_id = await asyncio.to_thread(self.jobs.submit, tool, config, state["user"], preset=preset)
        except JobError as e:
            text = _t(lang, f"Не удалось поставить задачу: {e}", f"Could not submit the job: {e}")
            self._emit(ErrorEvent(code=getattr(e, "code", "job_rejected"), message=text))
            self._stream_text(text)
            return {"answer": text, "data": {"error": str(e)}}
        self._emit(JobSubmittedEvent(job_id=job_id, tool=tool, preset=preset, config=config))
        self._stream_text(_t(lang, f"Задача {job_id} поставлена в очередь ({tool}, {preset}).\n",
                             f"Job {job_id} queued ({tool}, {preset}).\n"))
        status = None
        try:
            # the turn follows the job for at most chat_wait_for_job_s, also while it sits in the
            # queue emitting nothing; then the job keeps running and the answer says how to follow it
            async with asyncio.timeout(self.settings.chat_wait_for_job_s):
                async for ev in self.jobs.events(job_id, since=0):
                    etype = ev.get("type")
                    payload = ev.get("payload") or {}
                    if etype == "progress":
                        self._emit(JobProgressEvent(job_id=job_id, step=payload.get("step"), total=payload.get("total"),
                                                    unit=payload.get("unit"), metrics=payload.get("metrics") or {}))
                    elif etype == "log":
                        self._emit(JobProgressEvent(job_id=job_id, message=payload.get("message")))
                    elif etype == "artifact":
                        self._emit(ArtifactEvent(job_id=job_id, name=payload.get("name", ""),
                                                 path=payload.get("path", ""), kind=payload.get("kind", "other")))
                    elif etype == "status":
                        status = payload.get("status")
                        if status in ("succeeded", "failed", "cancelled"):
                            break
        except TimeoutError:
            pass
        job = await asyncio.to_thread(self.jobs.get, job_id)
        status = (job or {}).get("status", status)
        if status != "succeeded":
            if status in ("failed", "cancelled"):
                reason = (job or {}).get("error") or status
                text = _t(lang, f"Задача {job_id} завершилась со статусом {status}: {reason}. "
                                "Попробуйте пресет smoke или другие параметры.",
                          f"Job {job_id} ended as {status}: {reason}. Try the smoke preset or other parameters.")
                self._emit(ErrorEvent(code=f"job_{status}", message=text))
            else:
                text = _t(lang, f"Задача {job_id} ещё выполняется. Проверить: /status {job_id}.",
                          f"Job {job_id} is still running. Check with /status {job_id}.")
            self._stream_text(text)
            return {"answer": text, "job_id": job_id, "data": {"job": job}}
        return await self._report(state, job, lang)

    async def _report(self, state: dict, job: dict, lang: str) -> dict:
        from tools.registry import get_tool
        from tutor.agent.summary import summarize_result

        tool = job["tool"]
        result = job.get("result") or {"metrics": job.get("metrics"), "config": job.get("config")}
        previous = await asyncio.to_thread(self._previous_run, job)
        summary = summarize_result(tool, result, lang, previous)
        # the theory behind the experiment: retrieval keyed by the tool's topic
        hits = []
        try:
            hits = await asyncio.to_thread(self.index.search, get_tool(tool).topic, 3)
        except Exception:
            pass
        sources = ans.make_sources(hits)
        if sources:
            self._emit(SourcesEvent(query=get_tool(tool).topic, sources=sources))
        read = ""
        if sources:
            read = _t(lang, "\n\nТеория к эксперименту: ", "\n\nTheory behind it: ") + "; ".join(
                f"«{s.section.split(' > ')[-1]}» [{s.n}]" for s in sources)
        head = _t(lang, f"Готово: {tool}, задача {job['id']}.\n\n", f"Done: {tool}, job {job['id']}.\n\n")
        text = head + summary + read
        for art in job.get("artifacts") or []:
            if art.get("kind") in ("image", "html"):
                self._emit(ArtifactEvent(job_id=job["id"], name=art["name"], path=art["path"], kind=art["kind"]))
        self._stream_text(text)
        return {"answer": text, "job_id": job["id"], "sources": [s.model_dump() for s in sources],
                "data": {"job": {k: job.get(k) for k in ("id", "tool", "status", "metrics", "config", "artifacts")}}}

    def _previous_run(self, job: dict) -> dict | None:
        runs = self.jobs.list(owner=job.get("owner"), tool=job["tool"], status="succeeded")
        earlier = [r for r in runs if r["id"] != job["id"] and (r.get("created_at") or 0) < (job.get("created_at") or 0)]
        if not earlier:
            return None
        prev = max(earlier, key=lambda r: r.get("created_at") or 0)
        return prev.get("result") or {"metrics": prev.get("metrics"), "config": prev.get("config")}

    # ---- inference on an upload ------------------------------------------------------------
    async def node_predict(self, state: dict) -> dict:
        from tools.registry import get_tool

        lang = state["language"]
        tool = state["intent"].get("tool") or "cnn"
        upload = next(a for a in state["attachments"] if str(a.get("mime", "")).startswith("image/"))
        ckpt, job_id = await asyncio.to_thread(self._latest_checkpoint, tool, state["user"])
        if ckpt is None:
            text = _t(lang, f"Пока нет обученной модели {tool}. Обучите её: /run {tool} smoke (или quick), "
                            "затем пришлите изображение снова.",
                      f"No trained {tool} model yet. Train one with /run {tool} smoke (or quick), then send the "
                      "image again.")
            self._stream_text(text)
            return {"answer": text, "data": {"error": "no_checkpoint"}}
        self._emit(ToolCallEvent(name=f"{tool}.infer", args={"checkpoint_job": job_id, "file": upload.get("name")}))
        out_dir = Path(self.settings.artifacts_dir) / "predictions"
        out_dir.mkdir(parents=True, exist_ok=True)
        try:
            pred = await asyncio.to_thread(get_tool(tool).infer, ckpt, upload["path"], out_dir)
        except Exception as e:
            text = _t(lang, f"Не удалось обработать изображение: {e}", f"Could not process the image: {e}")
            self._emit(ErrorEvent(code="predict_failed", message=text))
            self._stream_text(text)
            return {"answer": text, "data": {"error": "predict_failed"}}
        text = _describe_prediction(tool, pred, lang, job_id)
        if pred.get("image"):
            self._emit(ArtifactEvent(job_id=job_id, name=Path(pred["image"]).name, path=pred["image"], kind="image"))
        self._stream_text(text)
        return {"answer": text, "data": {"prediction": pred, "tool": tool, "checkpoint_job": job_id}}

    def _latest_checkpoint(self, tool: str, user: str) -> tuple[str | None, str | None]:
        """The student's last checkpoint of this tool, else the newest one of anybody."""
        for owner in (user, None):
            for job in self.jobs.list(owner=owner, tool=tool, status="succeeded"):
                for art in job.get("artifacts") or []:
                    if art.get("kind") == "checkpoint" and Path(art["path"]).exists():
                        return art["path"], job["id"]
        return None, None

    # ---- commands -------------------------------------------------------------------------
    async def node_command(self, state: dict) -> dict:
        from tools.registry import TOOLS

        lang, it = state["language"], state["intent"]
        kind, cmd, arg = it["kind"], it.get("command"), (it.get("arg") or "").strip()
        data: dict[str, Any] = {}
        if kind == "empty":
            text = _t(lang, "Пустое сообщение. Задайте вопрос по курсу или наберите /help.",
                      "Empty message. Ask a question about the course or type /help.")
            self._emit(ErrorEvent(code="empty_message", message=text))
        elif kind == "decline":
            await asyncio.to_thread(self.threads.update, state["thread_id"], pending=None)
            text = _t(lang, "Хорошо, не запускаю.", "OK, not running it.")
        elif cmd == "help":
            text = HELP[lang].format(tools=", ".join(TOOLS))
        elif cmd == "mode":
            if arg in MODES:
                await asyncio.to_thread(self.threads.update, state["thread_id"], mode=arg)
                state["mode"] = arg
                text = _t(lang, f"Режим: {arg}.", f"Mode: {arg}.")
                data["mode"] = arg
            else:
                text = _t(lang, f"Режимы: explain (объяснения) и hint (подсказки без готовых решений). Сейчас: {state['mode']}.",
                          f"Modes: explain (explanations) and hint (hints, no finished solutions). Now: {state['mode']}.")
        elif cmd == "search" or (cmd is None and kind == "search"):
            if not arg:
                text = _t(lang, "Использование: /search ЗАПРОС", "Usage: /search QUERY")
            else:
                hits = await asyncio.to_thread(self.index.search, arg, self.settings.search_k)
                hits = ans.prefer_language(hits, lang)
                sources = ans.make_sources(hits)
                if sources:
                    self._emit(SourcesEvent(query=arg, sources=sources))
                text = "\n".join(f"[{s.n}] {s.source} — {s.section} ({s.anchor})" for s in sources) or _t(
                    lang, "Ничего не найдено.", "Nothing found.")
                state["sources"] = [s.model_dump() for s in sources]
        elif kind == "jobs" or cmd == "jobs":
            jobs = await asyncio.to_thread(self.jobs.list, owner=state["user"])
            data["jobs"] = [{k: j.get(k) for k in ("id", "tool", "status", "preset", "metrics")} for j in jobs[:20]]
            if not jobs:
                text = _t(lang, "У вас пока нет запусков. Например: /run cnn smoke", "You have no runs yet. Try: /run cnn smoke")
            else:
                text = "\n".join(_job_line(j) for j in jobs[:20])
        elif kind == "status" or cmd == "status":
            job_id = it.get("job_id") or arg
            job = await asyncio.to_thread(self.jobs.get, job_id) if job_id else None
            if not job or job.get("owner") not in (state["user"], None):
                text = _t(lang, f"Задача «{job_id}» не найдена.", f"Job '{job_id}' not found.")
                self._emit(ErrorEvent(code="job_not_found", message=text))
            elif job["status"] == "succeeded":
                return await self._report(state, job, lang)
            else:
                text = _job_line(job)
                data["job"] = {k: job.get(k) for k in ("id", "tool", "status", "metrics", "error")}
        elif kind == "cancel" or cmd == "cancel":
            job_id = it.get("job_id") or arg
            job = await asyncio.to_thread(self.jobs.get, job_id) if job_id else None
            if not job or job.get("owner") not in (state["user"], None):
                text = _t(lang, f"Задача «{job_id}» не найдена.", f"Job '{job_id}' not found.")
                self._emit(ErrorEvent(code="job_not_found", message=text))
            else:
                job = await asyncio.to_thread(self.jobs.cancel, job_id)
                text = _t(lang, f"Задача {job_id}: {job['status']}.", f"Job {job_id}: {job['status']}.")
        elif kind == "compare" or cmd == "compare":
            tool = it.get("tool") or (arg.split()[0].lower() if arg else None)
            if tool not in TOOLS:
                text = _t(lang, f"Укажите инструмент: /compare {'|'.join(TOOLS)}", f"Name a tool: /compare {'|'.join(TOOLS)}")
            else:
                try:
                    cmp = await asyncio.to_thread(self.jobs.compare, tool, owner=state["user"])
                except Exception as e:
                    cmp = None
                    text = _t(lang, f"Нечего сравнивать: {e}", f"Nothing to compare: {e}")
                if cmp is not None:
                    data["comparison"] = {k: v for k, v in cmp.items() if k in ("rows", "columns", "metric", "plotly")}
                    for kind_, key in (("image", "png"), ("html", "html")):
                        if cmp.get(key):
                            self._emit(ArtifactEvent(name=Path(cmp[key]).name, path=str(cmp[key]), kind=kind_))
                    text = _comparison_text(cmp, tool, lang)
        else:
            text = _t(lang, f"Неизвестная команда /{cmd}. Наберите /help.", f"Unknown command /{cmd}. Type /help.")
            self._emit(ErrorEvent(code="unknown_command", message=text))
        self._stream_text(text)
        return {"answer": text, "data": data, "mode": state["mode"], "sources": state.get("sources") or []}

    async def node_finish(self, state: dict) -> dict:
        it = state.get("intent") or {}
        sources = [Source(**s) for s in state.get("sources") or []]
        await asyncio.to_thread(self.threads.append, state["thread_id"], "user", state["message"], it.get("kind"))
        await asyncio.to_thread(self.threads.append, state["thread_id"], "assistant", state.get("answer", ""),
                                it.get("kind"), [s.model_dump() for s in sources], state.get("data"))
        self._emit(FinalEvent(answer=state.get("answer", ""), sources=sources, intent=it.get("kind", "question"),
                              mode=state.get("mode", "explain"), thread_id=state["thread_id"],
                              language=state["language"], job_id=state.get("job_id"), data=state.get("data") or {}))
        return {}


# ---- formatting helpers ----------------------------------------------------------------------

def _validation_text(e: Exception) -> str:
    from pydantic import ValidationError

    if isinstance(e, ValidationError):
        return "; ".join(f"{'.'.join(map(str, err['loc'])) or 'config'}: {err['msg']}" for err in e.errors())
    return e.args[0] if e.args else str(e)


def _short(config: dict) -> str:
    keys = ("task", "dataset", "epochs", "total_steps", "lr", "batch_size", "transfer", "cell", "model", "seed", "device")
    return ", ".join(f"{k}={config[k]}" for k in keys if k in config)


def _dur(seconds: float, lang: str) -> str:
    if seconds < 90:
        return _t(lang, f"{seconds:.0f} с", f"{seconds:.0f} s")
    return _t(lang, f"{seconds / 60:.0f} мин", f"{seconds / 60:.0f} min")


def _job_line(j: dict) -> str:
    m = ", ".join(f"{k}={v:.4g}" for k, v in list((j.get("metrics") or {}).items())[:3] if isinstance(v, (int, float)))
    return f"{j['id']}  {j['tool']:<12} {j['status']:<10} {j.get('preset') or ''} {m}".rstrip()


def _comparison_text(cmp: dict, tool: str, lang: str) -> str:
    rows = cmp.get("rows") or []
    metric = cmp.get("metric") or ""
    lines = [_t(lang, f"Сравнение запусков {tool} ({len(rows)}):", f"Comparison of {tool} runs ({len(rows)}):")]
    for r in rows[:15]:
        val = r.get(metric)
        lines.append(f"- {r.get('id')}: {metric}={val:.4g}" if isinstance(val, (int, float)) else f"- {r.get('id')}")
    if cmp.get("png"):
        lines.append(_t(lang, "График параллельных координат приложен.", "Parallel-coordinates plot attached."))
    return "\n".join(lines)


def _tool_for_upload(message: str) -> str:
    low = message.lower()
    if re.search(r"детек|detect|рамк|box", low):
        return "detection"
    if re.search(r"сегмент|segment|маск|mask", low):
        return "segmentation"
    return "cnn"


def _describe_prediction(tool: str, pred: dict, lang: str, job_id: str | None) -> str:
    src = _t(lang, f"(модель из задачи {job_id})", f"(model from job {job_id})")
    if tool == "cnn":
        probs = pred.get("probs") or {}
        top = ", ".join(f"{k}: {v:.2f}" for k, v in list(probs.items())[:3])
        return _t(lang, f"Класс: **{pred.get('label')}** {src}. Вероятности: {top}.",
                  f"Class: **{pred.get('label')}** {src}. Probabilities: {top}.")
    if tool == "detection":
        boxes = pred.get("boxes") or []
        items = ", ".join(f"{b.get('label')} ({b.get('score', 0):.2f})" for b in boxes[:10])
        return _t(lang, f"Найдено объектов: {len(boxes)} {src}: {items or '—'}.",
                  f"Objects found: {len(boxes)} {src}: {items or '—'}.")
    fr = pred.get("pixel_fractions") or {}
    items = ", ".join(f"{k}: {v:.1%}" for k, v in fr.items())
    return _t(lang, f"Маска сегментации {src}: {items or '—'}.", f"Segmentation mask {src}: {items or '—'}.")
