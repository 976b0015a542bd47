"""`python -m tutor courses ...`: courses, their materials and homework, and their stats.

    courses create ID --name NAME [--minutes-per-week N] [--homework-policy deadline|always|off]
                      [--llm-backend B] [--llm-model M]
    courses list | show ID | set ID [...]
    courses materials ID add FILE... | list | remove MATERIAL_ID     (add indexes right away)
    courses homework ID add ITEM --title T --deadline ISO [--pattern P ...] [--section S]
                                 [--tool TOOL --set k=v ...] | list | remove ITEM
    courses stats ID [--days N] [--export TABLE [--format csv|jsonl]]
"""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser("courses", help="courses: create, settings, materials, homework, stats")
    cs = c.add_subparsers(dest="courses_command", metavar="ACTION")

    def settings_args(p) -> None:
        p.add_argument("--minutes-per-week", default=None,
                       help="GPU minutes (CPU minutes without a GPU) per student a week; 'none' for no budget")
        p.add_argument("--homework-policy", choices=["deadline", "always", "off"], default=None)
        p.add_argument("--llm-backend", choices=["llamacpp", "openai", "hf", "none", "default"], default=None,
                       help="the course's chat LLM ('default': the server's)")
        p.add_argument("--llm-model", default=None)

    p = cs.add_parser("create", help="create a course")
    p.add_argument("id")
    p.add_argument("--name", required=True)
    settings_args(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_create)
    p = cs.add_parser("list", help="list courses")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_list)
    p = cs.add_parser("show", help="a course: settings, members, materials, homework")
    p.add_argument("id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_show)
    p = cs.add_parser("set", help="change a course's name or settings")
    p.add_argument("id")
    p.add_argument("--name", default=None)
    settings_args(p)
    p.set_defaults(handler=cmd_set)

    m = cs.add_parser("materials", help="a course's materials")
    m.add_argument("id")
    ms = m.add_subparsers(dest="materials_command", metavar="ACTION")
    p = ms.add_parser("add", help="upload files (md, txt, pdf, ipynb, html, zip) and index them")
    p.add_argument("files", nargs="+")
    p.add_argument("--by", default="cli")
    p.set_defaults(handler=cmd_materials_add)
    p = ms.add_parser("list")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_materials_list)
    p = ms.add_parser("remove")
    p.add_argument("material_id")
    p.set_defaults(handler=cmd_materials_remove)
    m.set_defaults(handler=lambda a: (m.print_help(), 2)[1])

    h = cs.add_parser("homework", help="a course's homework items and deadlines")
    h.add_argument("id")
    hs = h.add_subparsers(dest="homework_command", metavar="ACTION")
    p = hs.add_parser("add", help="add or change an item")
    p.add_argument("item")
    p.add_argument("--title", required=True)
    p.add_argument("--deadline", required=True, help="ISO 8601, e.g. 2026-12-01T23:59:00+03:00 (no zone: UTC)")
    p.add_argument("--pattern", action="append", default=[], help="a phrase a question about it contains (repeat)")
    p.add_argument("--section", default=None, help="the material file or heading that describes it")
    p.add_argument("--tool", default=None, help="the graded configuration's tool")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="its config values (repeat)")
    p.set_defaults(handler=cmd_homework_add)
    p = hs.add_parser("list")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_homework_list)
    p = hs.add_parser("remove")
    p.add_argument("item")
    p.set_defaults(handler=cmd_homework_remove)
    h.set_defaults(handler=lambda a: (h.print_help(), 2)[1])

    p = cs.add_parser("stats", help="how the course's students are doing")
    p.add_argument("id")
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--export", default=None, help="one table: questions, per_day, topics, not_found, feedback, runs, "
                                                  "failures, usage")
    p.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_stats)
    c.set_defaults(handler=lambda a: (c.print_help(), 2)[1])


def _services():
    from tutor.db import DatabaseUnavailable, check_database
    from tutor.settings import get_settings

    st = get_settings()
    try:
        check_database(st.database_url)
    except DatabaseUnavailable as e:
        print(e, file=sys.stderr)
        raise SystemExit(2)
    from tutor.agent.context import Services

    return Services(st)


def _settings_from(a) -> dict:
    out: dict = {}
    if a.minutes_per_week is not None:
        if a.minutes_per_week.lower() in ("none", "off", ""):
            out["minutes_per_week"] = None
        else:
            try:
                out["minutes_per_week"] = float(a.minutes_per_week)
            except ValueError:
                raise SystemExit(_err("--minutes-per-week: a number of minutes or 'none'"))
    if a.homework_policy is not None:
        out["homework_policy"] = a.homework_policy
    if a.llm_backend is not None:
        out["llm_backend"] = None if a.llm_backend == "default" else a.llm_backend
    if a.llm_model is not None:
        out["llm_model"] = a.llm_model or None
    return out


def _err(msg: str, code: int = 2) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return code


def _run(fn):
    """A CourseError (unknown course, bad settings, rejected file) is a message and exit 2 (1 if not found)."""
    from tutor.courses import CourseError

    try:
        return fn()
    except CourseError as e:
        return _err(e.message, 1 if e.status == 404 else 2)


def cmd_create(a) -> int:
    def go():
        course = _services().courses.create(a.id, a.name, _settings_from(a), created_by="cli")
        if a.json:
            print(course.model_dump_json())
        else:
            print(f"created course '{course.id}' ({course.name}). Keys: python -m tutor keys create NAME --role "
                  f"student --course {course.id}; materials: python -m tutor courses materials {course.id} add FILE")
        return 0

    return _run(go)


def cmd_list(a) -> int:
    courses = _services().courses.list()
    if a.json:
        print(json.dumps([c.model_dump() for c in courses], ensure_ascii=False))
        return 0
    for c in courses:
        s = c.settings
        budget = f"{s.minutes_per_week:g} min/week" if s.minutes_per_week is not None else "no budget"
        print(f"{c.id:<20} {c.name}  [{budget}, homework {s.homework_policy}{', demo' if c.demo else ''}]")
    return 0


def cmd_show(a) -> int:
    def go():
        svc = _services()
        course = svc.courses.get(a.id)
        info = {"course": course.model_dump(), "members": svc.courses.members(a.id),
                "materials": svc.materials.list(a.id),
                "homework": [i.to_json() for i in svc.courses.policy(a.id, "").items]}
        if a.json:
            print(json.dumps(info, ensure_ascii=False, default=str))
            return 0
        print(f"{course.id}: {course.name}{' (demo: the project corpus)' if course.demo else ''}")
        print("settings: " + ", ".join(f"{k}={v}" for k, v in course.settings.model_dump().items()))
        m = info["members"]
        print("keys: " + (", ".join(f"{k['name']} ({k['role']})" for k in m["keys"]) or "—"))
        print("UI users: " + (", ".join(f"{u['username']} ({u['role']})" for u in m["ui_users"]) or "—"))
        print(f"materials ({len(info['materials'])}):")
        for r in info["materials"]:
            print(f"  {r['id']}  {r['name']:<30} {r['status']:<8} chunks={r['chunks'] or 0} {r['error'] or ''}")
        print(f"homework ({len(info['homework'])}):")
        for i in info["homework"]:
            print(f"  {i['id']:<10} {i['title']} — {i['deadline_text']} ({'open' if i['open'] else 'past'})")
        return 0

    return _run(go)


def cmd_set(a) -> int:
    def go():
        course = _services().courses.update(a.id, a.name, _settings_from(a))
        print(f"{course.id}: " + ", ".join(f"{k}={v}" for k, v in course.settings.model_dump().items()))
        return 0

    return _run(go)


def cmd_materials_add(a) -> int:
    from pathlib import Path

    def go():
        svc = _services()
        records = []
        for f in a.files:
            p = Path(f)
            if not p.is_file():
                return _err(f"{f}: no such file")
            records.append(svc.materials.add(a.id, p.name, p, a.by))
        summary = svc.materials.reindex(a.id)  # the CLI indexes right away (the API in the background)
        for r in records:
            r = svc.materials.get(a.id, r["id"])
            print(f"{r['id']}  {r['name']}: {r['status']}, {r['chunks'] or 0} chunks{' — ' + r['error'] if r['error'] else ''}")
        print(f"course {a.id}: {summary['materials']} materials, {summary['chunks']} chunks ({summary['seconds']:.1f} s)")
        return 0 if all(svc.materials.get(a.id, r["id"])["status"] == "ready" for r in records) else 1

    return _run(go)


def cmd_materials_list(a) -> int:
    def go():
        rows = _services().materials.list(a.id)
        if a.json:
            print(json.dumps(rows, ensure_ascii=False))
            return 0
        for r in rows:
            print(f"{r['id']}  {r['name']:<30} {r['kind']:<6} {r['status']:<8} chunks={r['chunks'] or 0} {r['error'] or ''}")
        if not rows:
            print("no materials (the demo course's are the project corpus)")
        return 0

    return _run(go)


def cmd_materials_remove(a) -> int:
    def go():
        svc = _services()
        svc.materials.remove(a.id, a.material_id)  # and the course's index without it
        print(f"removed {a.material_id}")
        return 0

    return _run(go)


def cmd_homework_add(a) -> int:
    from pydantic import ValidationError

    from tutor.courses.policy import ItemInput

    def go():
        svc = _services()
        svc.courses.get(a.id)
        config = {}
        for kv in a.set:
            if "=" not in kv:
                return _err(f"--set {kv}: expected KEY=VALUE")
            k, v = kv.split("=", 1)
            config[k.strip()] = v.strip()
        try:
            item = ItemInput(id=a.item, title=a.title, deadline=a.deadline, patterns=a.pattern, section=a.section,
                             tool=a.tool, config=config)
            row = item.row()
        except ValidationError as e:
            return _err("; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors()))
        except ValueError as e:
            return _err(str(e))
        svc.courses.store.put_item(a.id, item.id, created_by="cli", **row)
        print(f"{a.id}/{item.id}: {item.title}, deadline {row['deadline']:.0f}")
        return 0

    return _run(go)


def cmd_homework_list(a) -> int:
    def go():
        items = [i.to_json() for i in _services().courses.policy(a.id, "").items]
        if a.json:
            print(json.dumps(items, ensure_ascii=False))
            return 0
        for i in items:
            print(f"{i['id']:<10} {i['deadline_text']} {'open' if i['open'] else 'past':<5} {i['title']}"
                  f"  patterns={i['patterns']} section={i['section'] or '-'} graded={i['tool'] or '-'} {i['config'] or ''}")
        return 0

    return _run(go)


def cmd_homework_remove(a) -> int:
    def go():
        svc = _services()
        svc.courses.get(a.id)
        if not svc.courses.store.delete_item(a.id, a.item):
            return _err(f"no homework item '{a.item}' in course {a.id}", 1)
        print(f"removed {a.id}/{a.item}")
        return 0

    return _run(go)


def cmd_stats(a) -> int:
    from tutor.courses.stats import CourseStats, to_csv, to_jsonl

    def go():
        svc = _services()
        stats = CourseStats(svc.courses.engine, svc.courses)
        if a.export:
            try:
                rows = stats.table(a.id, a.export, a.days)
            except ValueError as e:
                return _err(str(e))
            sys.stdout.write(to_csv(rows) if a.format == "csv" else to_jsonl(rows))
            return 0
        s = stats.summary(a.id, a.days)
        if a.json:
            print(json.dumps(s, ensure_ascii=False, default=str))
            return 0
        q, ans, r = s["questions"], s["answers"], s["runs"]
        print(f"{s['course']['id']}: last {a.days} days — {q['total']} questions in {q['conversations']} conversations; "
              f"not found {ans['not_covered']}, thumbs down {ans['thumbs_down']}; runs {r['total']} {r['by_status']}")
        for t in s["topics"][:10]:
            print(f"  {t['answers']:>4}  {t['source']}  {t['title']}")
        for f in s["failures"]:
            print(f"  failed {f['count']}× {f['reason']}")
        u = s["usage"]
        for x in u["students"]:
            print(f"  {x['owner']:<30} {x['minutes']:.1f} {u['kind']} min" + (f" ({x['share']} % of {u['budget_minutes']:g})"
                                                                          if x["share"] is not None else ""))
        return 0

    return _run(go)
