"""How a course's students are doing, for its staff: aggregates by default.

    summary(course, days)    questions per day, topics by lecture (the cited files), "not found"
                             answers and thumbs down with their questions, runs, failures by
                             reason, minutes per student against the weekly budget, homework
    table(course, name, days) the rows behind one part of the summary (CSV/JSONL export)
    conversations(course)    conversations as opaque references with counts (no names)
    conversation(course, ref) one conversation in full: the caller logs it (course_audit)

Sources: `chat_messages` (the final event's fields — intent, answer_style, homework_item —
are in `data`) joined to `chat_threads.course`; thumbs from the API (`chat_feedback`) and the
chat UI (Chainlit's `feedbacks`, whose thread is the tutor thread `ui/<id>`); `jobs` (owner,
tool, status, error, device, started/finished). Rows made before courses existed (no course)
count for the demo course.

Questions and answers are shown without who asked: a conversation is a reference (a hash
of the thread id), and reading one is a separate, logged action.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import time
from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy import and_, inspect, or_, select

from tutor.courses import ConversationNotFound

TABLES = ("questions", "per_day", "topics", "not_found", "feedback", "runs", "failures", "usage")
QUESTION_INTENTS = ("question", "agent")
TEXT_LIMIT = 2000


def conversation_ref(thread_id: str) -> str:
    return hashlib.sha256(thread_id.encode("utf-8")).hexdigest()[:16]


def day_of(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d")


def failure_reason(error: str | None) -> str:
    """'timeout: ran longer than 3600 s' → 'timeout'; 'worker killed by SIGKILL (out of …)' → 'worker killed by
    SIGKILL'; 'RuntimeError: … (reference ab12)' → 'RuntimeError'."""
    e = (error or "").strip()
    if not e:
        return "unknown"
    head = re.sub(r"\s*\(.*$", "", e.split(":", 1)[0]).strip()
    return head[:80] or "unknown"


class CourseStats:
    def __init__(self, engine, courses, titles: Callable[[str], dict[str, str]] | None = None) -> None:
        from tutor.agent.threads import ThreadStore
        from tutor.courses.budget import jobs_table

        ThreadStore(engine)  # the tables it reads exist (and have their course columns) on any database
        jobs_table(engine)
        self.engine = engine
        self.courses = courses  # CourseService
        self.titles = titles or (lambda course: {})  # course -> {source: title} of its searchable files

    # ---- selection helpers ---------------------------------------------------------------------
    def _course_cond(self, col, course_id: str):
        return or_(col == course_id, col.is_(None)) if course_id == self.courses.demo_id else col == course_id

    def _messages(self, course_id: str, since: float) -> list[dict[str, Any]]:
        from tutor.agent.threads import messages, threads

        q = (select(messages.c.id, messages.c.thread_id, messages.c.role, messages.c.content, messages.c.intent,
                    messages.c.sources, messages.c.data, messages.c.created_at)
             .select_from(messages.join(threads, messages.c.thread_id == threads.c.id))
             .where(and_(self._course_cond(threads.c.course, course_id), messages.c.created_at >= since))
             .order_by(messages.c.thread_id, messages.c.id))
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(q).mappings().all()]

    @staticmethod
    def _turns(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """(question, answer) pairs: each assistant message with the user message before it."""
        out, last_user = [], {}
        for r in rows:
            if r["role"] == "user":
                last_user[r["thread_id"]] = r
                continue
            q = last_user.pop(r["thread_id"], None)
            data = r.get("data") or {}
            if isinstance(data, str):
                try:
                    data = json.loads(data)
                except ValueError:
                    data = {}
            sources = r.get("sources") or []
            if isinstance(sources, str):
                try:
                    sources = json.loads(sources)
                except ValueError:
                    sources = []
            out.append({"message_id": r["id"], "thread_id": r["thread_id"], "conversation": conversation_ref(r["thread_id"]),
                        "question": (q or {}).get("content", ""), "answer": r["content"], "intent": r.get("intent"),
                        "answer_style": data.get("answer_style"), "homework_item": data.get("homework_item"),
                        "error": data.get("error"), "sources": [s.get("source") for s in sources if isinstance(s, dict)],
                        "created_at": r["created_at"], "day": day_of(r["created_at"])})
        return out

    def _jobs(self, course_id: str, since: float) -> list[dict[str, Any]]:
        from tutor.jobs.store import jobs

        q = select(jobs.c.id, jobs.c.owner, jobs.c.tool, jobs.c.preset, jobs.c.status, jobs.c.error, jobs.c.device,
                   jobs.c.uses_gpu, jobs.c.created_at, jobs.c.started_at, jobs.c.finished_at, jobs.c.estimate_s) \
            .where(and_(self._course_cond(jobs.c.course, course_id), jobs.c.created_at >= since)) \
            .order_by(jobs.c.created_at)
        with self.engine.connect() as c:
            rows = [dict(r) for r in c.execute(q).mappings().all()]
        now = time.time()
        for r in rows:
            end = r["finished_at"] or (now if r["status"] == "running" else None)
            r["minutes"] = round((end - r["started_at"]) / 60.0, 3) if r["started_at"] and end else 0.0
        return rows

    def _feedback(self, course_id: str, since: float, turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Thumbs from the API and from the chat UI, on this course's answers."""
        from tutor.agent.threads import threads
        from tutor.courses.store import feedback

        by_message = {t["message_id"]: t for t in turns}
        out: list[dict[str, Any]] = []
        with self.engine.connect() as c:
            rows = c.execute(select(feedback).where(feedback.c.created_at >= since)).mappings().all()
        for r in rows:
            t = by_message.get(r["message_id"])
            if t is not None:
                out.append({"via": "api", "value": r["value"], "comment": r["comment"], "question": t["question"],
                            "answer": t["answer"], "conversation": t["conversation"], "day": day_of(r["created_at"])})
        if not inspect(self.engine).has_table("feedbacks"):
            return out
        course_threads = self._course_cond(threads.c.course, course_id)
        with self.engine.connect() as c:
            mine = {tid for (tid,) in c.execute(select(threads.c.id).where(
                and_(course_threads, threads.c.id.startswith("ui/", autoescape=True)))).all()}
        if not mine:
            return out
        from tutor.ui.store import UserStore

        for r in UserStore(self.engine).feedback(limit=5000):
            thread = f"ui/{r.get('threadId')}"
            if thread in mine:
                out.append({"via": "ui", "value": r["value"], "comment": r["comment"], "question": r.get("question") or "",
                            "answer": r.get("answer") or "", "conversation": conversation_ref(thread),
                            "day": (r.get("created_at") or "")[:10]})
        return out

    # ---- the summary -----------------------------------------------------------------------------
    def summary(self, course_id: str, days: int = 30, now: float | None = None) -> dict[str, Any]:
        from tutor.courses.budget import WEEK_S, gpu_server, minutes_by_owner

        course = self.courses.get(course_id)
        now = time.time() if now is None else now
        since = now - days * 86400
        rows = self._messages(course_id, since)
        turns = self._turns(rows)
        questions = [t for t in turns if t["intent"] in QUESTION_INTENTS]
        per_day: dict[str, dict[str, int]] = {}
        for r in rows:
            if r["role"] == "user":
                d = per_day.setdefault(day_of(r["created_at"]), {"messages": 0, "questions": 0})
                d["messages"] += 1
        for t in questions:
            per_day.setdefault(t["day"], {"messages": 0, "questions": 0})["questions"] += 1
        titles = self.titles(course_id)
        topics: dict[str, int] = {}
        for t in questions:
            for src in dict.fromkeys(t["sources"]):
                if src:
                    topics[src] = topics.get(src, 0) + 1
        not_found = [t for t in questions if t["answer_style"] == "not_covered"]
        fb = self._feedback(course_id, since, turns)
        down = [f for f in fb if not f["value"]]
        job_rows = self._jobs(course_id, since)
        by_tool: dict[str, int] = {}
        by_status: dict[str, int] = {}
        failures: dict[str, dict[str, Any]] = {}
        for j in job_rows:
            by_tool[j["tool"]] = by_tool.get(j["tool"], 0) + 1
            by_status[j["status"]] = by_status.get(j["status"], 0) + 1
            if j["status"] == "failed":
                reason = failure_reason(j["error"])
                f = failures.setdefault(reason, {"reason": reason, "count": 0, "example": (j["error"] or "")[:300],
                                                 "tools": {}})
                f["count"] += 1
                f["tools"][j["tool"]] = f["tools"].get(j["tool"], 0) + 1
        gpu = gpu_server()
        budget = course.settings.minutes_per_week
        week = self._jobs(course_id, now - WEEK_S)
        owners = sorted({j["owner"] for j in week})
        minutes = minutes_by_owner(self.engine, owners, gpu, now - WEEK_S, now)
        usage = []
        for o in owners:
            used, queued = minutes.get(o, (0.0, 0.0))
            usage.append({"owner": o, "minutes": round(used, 2), "queued_minutes": round(queued, 2),
                          "runs": sum(1 for j in week if j["owner"] == o),
                          "budget_minutes": budget,
                          "share": round(100.0 * (used + queued) / budget, 1) if budget else None})
        usage.sort(key=lambda u: -u["minutes"])
        items = [i.to_json(now) for i in self.courses.policy(course_id, "").items]
        hints: dict[str, int] = {}
        for t in turns:
            if t["homework_item"]:
                hints[t["homework_item"]] = hints.get(t["homework_item"], 0) + 1
        for i in items:
            i["hint_answers"] = hints.get(i["id"], 0)
        return {
            "course": {"id": course.id, "name": course.name, "settings": course.settings.model_dump()},
            "period": {"days": days, "since": since, "until": now},
            "questions": {"total": len(questions), "messages": sum(1 for r in rows if r["role"] == "user"),
                          "conversations": len({t["thread_id"] for t in turns}),
                          "per_day": [{"day": d, **v} for d, v in sorted(per_day.items())]},
            "topics": [{"source": s, "title": titles.get(s, ""), "answers": n}
                       for s, n in sorted(topics.items(), key=lambda kv: (-kv[1], kv[0]))],
            "answers": {"not_covered": len(not_found),
                        "off_topic": sum(1 for t in questions if t["answer_style"] == "off_topic"),
                        "hint": sum(1 for t in turns if t["answer_style"] == "hint"),
                        "thumbs_up": sum(1 for f in fb if f["value"]), "thumbs_down": len(down)},
            "not_found": [_public_turn(t) for t in not_found][-200:],
            "thumbs_down": [{k: (v[:TEXT_LIMIT] if isinstance(v, str) else v) for k, v in f.items()} for f in down][-200:],
            "runs": {"total": len(job_rows), "by_tool": by_tool, "by_status": by_status,
                     "minutes": round(sum(j["minutes"] for j in job_rows), 2)},
            "failures": sorted(failures.values(), key=lambda f: -f["count"]),
            "usage": {"kind": "GPU" if gpu else "CPU", "window_days": 7, "budget_minutes": budget, "students": usage},
            "homework": items,
        }

    # ---- export ----------------------------------------------------------------------------------
    def table(self, course_id: str, name: str, days: int = 30) -> list[dict[str, Any]]:
        if name not in TABLES:
            raise ValueError(f"unknown table '{name}'; tables: {', '.join(TABLES)}")
        if name == "questions":
            self.courses.get(course_id)
            turns = self._turns(self._messages(course_id, time.time() - days * 86400))
            return [_public_turn(t) for t in turns if t["intent"] in QUESTION_INTENTS]
        if name == "runs":
            self.courses.get(course_id)
            return [{k: v for k, v in j.items()} for j in self._jobs(course_id, time.time() - days * 86400)]
        s = self.summary(course_id, days)
        return {"per_day": s["questions"]["per_day"], "topics": s["topics"], "not_found": s["not_found"],
                "feedback": s["thumbs_down"], "failures": [{**f, "tools": json.dumps(f["tools"])} for f in s["failures"]],
                "usage": s["usage"]["students"]}[name]

    # ---- conversations -----------------------------------------------------------------------------
    def conversations(self, course_id: str, days: int = 30) -> list[dict[str, Any]]:
        self.courses.get(course_id)
        turns = self._turns(self._messages(course_id, time.time() - days * 86400))
        out: dict[str, dict[str, Any]] = {}
        for t in turns:
            c = out.setdefault(t["conversation"], {"conversation": t["conversation"], "turns": 0, "not_covered": 0,
                                                   "first_at": t["created_at"], "last_at": t["created_at"]})
            c["turns"] += 1
            c["not_covered"] += t["answer_style"] == "not_covered"
            c["last_at"] = max(c["last_at"], t["created_at"])
        return sorted(out.values(), key=lambda c: -c["last_at"])

    def conversation(self, course_id: str, ref: str) -> dict[str, Any]:
        """One conversation in full (who and every message). The caller writes the audit row."""
        from tutor.agent.threads import messages, threads

        self.courses.get(course_id)
        with self.engine.connect() as c:
            rows = c.execute(select(threads.c.id, threads.c.user, threads.c.created_at)
                             .where(self._course_cond(threads.c.course, course_id))).mappings().all()
            thread = next((dict(r) for r in rows if conversation_ref(r["id"]) == ref), None)
            if thread is None:
                raise ConversationNotFound(f"no conversation '{str(ref)[:20]}' in course {course_id}")
            msgs = c.execute(select(messages.c.id, messages.c.role, messages.c.content, messages.c.intent,
                                    messages.c.sources, messages.c.data, messages.c.created_at)
                             .where(messages.c.thread_id == thread["id"]).order_by(messages.c.id)).mappings().all()
        out = []
        for m in msgs:
            data = m["data"] or {}
            out.append({"id": m["id"], "role": m["role"], "content": m["content"], "intent": m["intent"],
                        "answer_style": data.get("answer_style") if isinstance(data, dict) else None,
                        "sources": [s.get("source") for s in m["sources"] or [] if isinstance(s, dict)],
                        "created_at": m["created_at"]})
        return {"conversation": ref, "owner": thread["user"], "created_at": thread["created_at"], "messages": out}


def _public_turn(t: dict[str, Any]) -> dict[str, Any]:
    return {"day": t["day"], "created_at": t["created_at"], "conversation": t["conversation"],
            "question": t["question"][:TEXT_LIMIT], "answer": t["answer"][:TEXT_LIMIT], "intent": t["intent"],
            "answer_style": t["answer_style"], "homework_item": t["homework_item"],
            "sources": "; ".join(s for s in t["sources"] if s)}


def to_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    w = csv.DictWriter(buf, fieldnames=cols or ["empty"], extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: _csv_cell(v) for k, v in r.items()})
    return buf.getvalue()


def _csv_cell(v: Any) -> Any:
    if isinstance(v, (dict, list)):
        v = json.dumps(v, ensure_ascii=False)
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v  # a spreadsheet must not run a student's text as a formula
    return v


def to_jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows)


__all__ = ["CourseStats", "TABLES", "conversation_ref", "failure_reason", "to_csv", "to_jsonl"]
