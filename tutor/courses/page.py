"""The staff page of a course: server-rendered HTML, no JavaScript (tutor/api/routes/staff.py
serves it at /staff/courses/<id> to the course's staff and admins: a UI login or an API key).

Everything shown is escaped; forms post back to the same routes and redirect to the page
(post/redirect/get) with a one-line message."""

from __future__ import annotations

import html
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem auto;max-width:1100px;padding:0 1rem;color:#222}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.5rem 0}
th,td{border-bottom:1px solid #eee;padding:.3rem .4rem;text-align:left;vertical-align:top}
th{background:#f6f6f6}.num{text-align:right}.muted{color:#777}.msg{background:#eef6ff;padding:.5rem;border-radius:4px}
.bad{color:#b00}.ok{color:#070}.bar{background:#eee;height:.6rem;width:8rem;display:inline-block}
.bar i{background:#4a7;height:100%;display:block}.bar i.over{background:#c44}
form.inline{display:inline}input[type=text],input[type=number]{width:10rem}textarea{width:100%}
nav a{margin-right:1rem}
"""


def e(v: Any) -> str:
    return html.escape("" if v is None else str(v), quote=True)


def ts(v: float | None) -> str:
    if not v:
        return ""
    return datetime.fromtimestamp(float(v), tz=timezone.utc).strftime("%Y-%m-%d %H:%M")


def layout(title: str, body: str) -> str:
    return (f"<!doctype html><html lang='ru'><head><meta charset='utf-8'><title>{e(title)}</title>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{STYLE}</style></head>"
            f"<body>{body}</body></html>")


def table(headers: list[str], rows: list[list[str]], numeric: tuple[int, ...] = ()) -> str:
    if not rows:
        return "<p class='muted'>—</p>"
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td class='num'>{c}</td>" if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def bar(share: float | None) -> str:
    if share is None:
        return ""
    cls = " class='over'" if share > 100 else ""
    return f"<span class='bar'><i{cls} style='width:{min(share, 100):.0f}%'></i></span> {share:.0f} %"


def course_list(courses: list[Any]) -> str:
    rows = [[f"<a href='/staff/courses/{quote(c.id)}'>{e(c.id)}</a>", e(c.name)] for c in courses]
    return layout("Курсы", "<h1>Курсы / Courses</h1>" + table(["id", "name"], rows))


def course_page(course, stats: dict[str, Any], materials: list[dict], items: list[dict], audit: list[dict],
                conversations: list[dict], msg: str | None = None, others: list[Any] | None = None) -> str:
    cid = quote(course.id)
    base = f"/staff/courses/{cid}"
    parts = [f"<h1>{e(course.name)} <span class='muted'>({e(course.id)})</span></h1>"]
    nav = [f"<a href='{base}/export?table=summary&format=json'>stats.json</a>"]
    nav += [f"<a href='{base}/export?table={t}&format={f}'>{t}.{f}</a>"
            for t in ("questions", "not_found", "feedback", "runs", "usage") for f in ("csv", "jsonl")]
    if others:
        nav += [f"<a href='/staff/courses/{quote(c.id)}'>{e(c.id)}</a>" for c in others if c.id != course.id]
    parts.append("<nav>" + " ".join(nav) + "</nav>")
    if msg:
        parts.append(f"<p class='msg'>{e(msg)}</p>")

    # ---- settings
    s = course.settings
    parts.append("<h2>Настройки / Settings</h2>")
    parts.append(
        f"<form method='post' action='{base}/settings'>"
        f"Минут на студента в неделю / minutes per student a week: "
        f"<input type='number' name='minutes_per_week' min='0' step='1' value='{e(s.minutes_per_week if s.minutes_per_week is not None else '')}'> "
        f"Политика ДЗ / homework policy: <select name='homework_policy'>"
        + "".join(f"<option{' selected' if p == s.homework_policy else ''}>{p}</option>" for p in ("deadline", "always", "off"))
        + f"</select> LLM: <span class='muted'>{e(s.llm_backend or 'default')} {e(s.llm_model or '')}</span> "
        "<button>Сохранить</button></form>")

    # ---- materials
    parts.append("<h2>Материалы / Materials</h2>")
    rows = []
    for m in materials:
        status = {"ready": "ok", "failed": "bad"}.get(m["status"], "muted")
        files = ", ".join(m.get("files") or [])
        rows.append([
            e(m["name"]), e(m["kind"]), e(files[:200]), f"<span class='{status}'>{e(m['status'])}</span>",
            e(m.get("chunks") if m.get("chunks") is not None else ""), e((m.get("error") or "")[:300]), e(ts(m["updated_at"])),
            f"<form class='inline' method='post' enctype='multipart/form-data' action='{base}/materials/{e(m['id'])}/replace'>"
            "<input type='file' name='file' required> <button>Заменить</button></form> "
            f"<form class='inline' method='post' action='{base}/materials/{e(m['id'])}/delete'><button>Удалить</button></form>"])
    parts.append(table(["file", "kind", "contents", "status", "chunks", "problem", "updated (UTC)", ""], rows, (4,)))
    parts.append(f"<form method='post' enctype='multipart/form-data' action='{base}/materials'>"
                 "Загрузить (md, txt, pdf, ipynb, html или zip): <input type='file' name='file' required> "
                 "<button>Загрузить</button></form>")

    # ---- homework
    parts.append("<h2>Домашние задания / Homework</h2>")
    rows = [[e(i["id"]), e(i["title"]), e(i["deadline_text"]), "<span class='bad'>открыто</span>" if i["open"] else "прошёл",
             e(", ".join(i.get("patterns") or [])), e(i.get("section") or ""),
             e(", ".join([i.get("tool") or ""] + [f"{k}={v}" for k, v in (i.get("config") or {}).items()]).strip(", ")),
             e(i.get("hint_answers", "")),
             f"<form class='inline' method='post' action='{base}/homework/{e(i['id'])}/delete'><button>Удалить</button></form>"]
            for i in items]
    parts.append(table(["id", "title", "deadline", "", "patterns", "section", "graded config", "hint answers", ""],
                       rows, (7,)))
    parts.append(
        f"<form method='post' action='{base}/homework'>id <input type='text' name='id' required pattern='[a-z0-9][a-z0-9_.-]*'> "
        "название <input type='text' name='title' required> дедлайн (UTC) <input type='datetime-local' name='deadline' required><br>"
        "фразы через запятую <input type='text' name='patterns' style='width:20rem'> раздел/файл <input type='text' name='section'> "
        "инструмент <input type='text' name='tool' style='width:6rem'> конфигурация k=v через пробел "
        "<input type='text' name='config'> <button>Добавить</button></form>")

    # ---- stats
    q = stats["questions"]
    a = stats["answers"]
    parts.append(f"<h2>Вопросы / Questions <span class='muted'>(последние {stats['period']['days']} дн.)</span></h2>")
    parts.append(f"<p>Вопросов: <b>{q['total']}</b>, сообщений: {q['messages']}, разговоров: {q['conversations']}; "
                 f"«не найдено»: <b>{a['not_covered']}</b>, не по теме: {a['off_topic']}, подсказок: {a['hint']}, "
                 f"👍 {a['thumbs_up']} / 👎 <b>{a['thumbs_down']}</b></p>")
    parts.append(table(["day", "questions", "messages"], [[e(d["day"]), e(d["questions"]), e(d["messages"])]
                                                         for d in q["per_day"][-31:]], (1, 2)))
    parts.append("<h2>Темы по лекциям / Topics by lecture</h2>")
    parts.append(table(["source", "title", "answers citing it"],
                       [[e(t["source"]), e(t["title"]), e(t["answers"])] for t in stats["topics"][:40]], (2,)))

    def conv(ref: str) -> str:
        return f"<a href='{base}/conversations/{e(ref)}' title='открыть разговор (записывается в журнал)'>{e(ref[:8])}…</a>"

    parts.append("<h2>«Не найдено» — что добавить в материалы / Not found</h2>")
    parts.append(table(["day", "question", "conversation"],
                       [[e(t["day"]), e(t["question"][:300]), conv(t["conversation"])] for t in stats["not_found"][-50:]]))
    parts.append("<h2>👎 Ответы / Thumbs down</h2>")
    parts.append(table(["day", "question", "answer", "comment", "conversation"],
                       [[e(f["day"]), e(f["question"][:200]), e(f["answer"][:300]), e(f.get("comment") or ""),
                         conv(f["conversation"])] for f in stats["thumbs_down"][-50:]]))

    r = stats["runs"]
    parts.append("<h2>Запуски / Runs</h2>")
    parts.append(f"<p>Всего: <b>{r['total']}</b>, {r['minutes']:.1f} мин. По инструментам: "
                 + e(", ".join(f"{k} {v}" for k, v in r["by_tool"].items()) or "—") + ". По статусу: "
                 + e(", ".join(f"{k} {v}" for k, v in r["by_status"].items()) or "—") + "</p>")
    parts.append(table(["failure reason", "runs", "tools", "example"],
                       [[e(f["reason"]), e(f["count"]), e(", ".join(f"{k} {v}" for k, v in f["tools"].items())),
                         e(f["example"][:200])] for f in stats["failures"]], (1,)))
    u = stats["usage"]
    budget = f"{u['budget_minutes']:.0f} мин" if u["budget_minutes"] is not None else "без лимита"
    parts.append(f"<h2>{e(u['kind'])}-минуты за 7 дней / minutes this week <span class='muted'>(лимит: {e(budget)})</span></h2>")
    parts.append(table(["student", "minutes", "queued", "runs", "of the budget"],
                       [[e(x["owner"]), f"{x['minutes']:.1f}", f"{x['queued_minutes']:.1f}", e(x["runs"]), bar(x["share"])]
                        for x in u["students"]], (1, 2, 3)))

    parts.append("<h2>Разговоры / Conversations</h2><p class='muted'>Ссылка открывает разговор целиком; это действие "
                 "записывается в журнал курса.</p>")
    parts.append(table(["conversation", "turns", "not found", "last (UTC)"],
                       [[conv(c["conversation"]), e(c["turns"]), e(c["not_covered"]), e(ts(c["last_at"]))]
                        for c in conversations[:50]], (1, 2)))
    parts.append("<h2>Журнал / Audit</h2>")
    parts.append(table(["when (UTC)", "who", "action", "target"],
                       [[e(ts(x["ts"])), e(x["actor"]), e(x["action"]), e(x.get("target") or "")] for x in audit[:50]]))
    parts.append(f"<p class='muted'>{e(ts(time.time()))} UTC</p>")
    return layout(f"{course.name} — staff", "".join(parts))


def conversation_page(course, conv: dict[str, Any]) -> str:
    base = f"/staff/courses/{quote(course.id)}"
    rows = [[e(ts(m["created_at"])), e(m["role"]), e(m.get("answer_style") or m.get("intent") or ""),
             "<div style='white-space:pre-wrap'>" + e(m["content"][:6000]) + "</div>", e(", ".join(m.get("sources") or []))]
            for m in conv["messages"]]
    body = (f"<p><a href='{base}'>← {e(course.name)}</a></p><h1>Разговор {e(conv['conversation'])}</h1>"
            f"<p>Студент: <b>{e(conv['owner'])}</b>. Открытие записано в журнал курса.</p>"
            + table(["when (UTC)", "who", "kind", "text", "sources"], rows))
    return layout(f"conversation {conv['conversation']}", body)


def message_page(title: str, text: str, status_link: str = "/") -> str:
    return layout(title, f"<h1>{e(title)}</h1><p>{e(text)}</p><p><a href='{e(status_link)}'>→</a></p>")
