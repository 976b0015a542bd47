"""`python -m tutor serve` (API + UI on one port) and `python -m tutor keys create|list|revoke`."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("serve", help="start the tutor: API under /v1 and the chat UI at / on one port")
    s.add_argument("--host", default=None, help="bind address (default from settings: 127.0.0.1)")
    s.add_argument("--port", type=int, default=None, help="port (default from settings: 8000)")
    s.add_argument("--no-ui", action="store_true", help="serve only the API")
    s.set_defaults(handler=cmd_serve)

    k = sub.add_parser("keys", help="manage API keys")
    ks = k.add_subparsers(dest="keys_command", metavar="ACTION")
    c = ks.add_parser("create", help="create a key (printed once)")
    c.add_argument("name")
    c.add_argument("--role", choices=["admin", "bot", "student", "staff", "monitor"], default="student",
                   help="staff: a course's staff (materials, homework, stats); monitor: may only read /readyz and /metrics")
    c.add_argument("--course", default=None, help="the course of a student/staff key (default: the demo course); a bot "
                                                  "bound to one course (default: each chat picks with /course)")
    c.add_argument("--rate-limit", type=int, default=None, help="requests per minute (default from settings)")
    c.add_argument("--max-jobs", type=int, default=None, help="concurrent jobs for this key")
    c.add_argument("--json", action="store_true")
    c.set_defaults(handler=cmd_keys_create)
    ls = ks.add_parser("list", help="list keys (never the secrets)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=cmd_keys_list)
    r = ks.add_parser("revoke", help="revoke a key by name")
    r.add_argument("name")
    r.set_defaults(handler=cmd_keys_revoke)
    k.set_defaults(handler=lambda a: (k.print_help(), 2)[1])


def _store():
    from tutor.api.keys import KeyStore
    from tutor.db import DatabaseUnavailable, check_database, get_engine
    from tutor.settings import get_settings

    try:
        check_database(get_settings().database_url)
    except DatabaseUnavailable as e:
        print(e, file=sys.stderr)
        raise SystemExit(2)
    return KeyStore(get_engine(get_settings()))


def cmd_keys_create(a) -> int:
    if a.rate_limit is not None and a.rate_limit < 1 or a.max_jobs is not None and a.max_jobs < 1:
        print("error: limits must be positive", file=sys.stderr)
        return 2
    store = _store()
    if a.course is not None:
        if a.role not in ("student", "staff", "bot"):
            print(f"error: --course is for student, staff and bot keys ({a.role} keys are not bound to a course)",
                  file=sys.stderr)
            return 2
        from tutor.courses.service import CourseService
        from tutor.settings import get_settings

        if CourseService(get_settings(), store.engine).find(a.course) is None:
            print(f"error: no course '{a.course}' (python -m tutor courses create {a.course} --name NAME)",
                  file=sys.stderr)
            return 2
    try:
        key = store.create(a.name, a.role, a.rate_limit, a.max_jobs, course=a.course)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if a.json:
        print(json.dumps({"name": a.name, "role": a.role, "course": a.course, "key": key}))
    else:
        where = f", course {a.course}" if a.course else ""
        print(f"created key '{a.name}' ({a.role}{where}). It is shown only once:\n{key}")
    return 0


def cmd_keys_list(a) -> int:
    rows = _store().list()
    if a.json:
        print(json.dumps(rows))
        return 0
    for r in rows:
        state = "revoked" if r["revoked"] else "active"
        print(f"{r['name']:<24} {r['role']:<8} {r['prefix']}…  {state}  rate={r['rate_limit_per_minute'] or '-'}"
              f" jobs={r['max_concurrent_jobs'] or '-'} course={r.get('course') or '-'}")
    if not rows:
        print("no keys")
    return 0


def cmd_keys_revoke(a) -> int:
    if _store().revoke(a.name):
        print(f"revoked '{a.name}'")
        return 0
    print(f"error: no key named '{a.name}'", file=sys.stderr)
    return 1


def cmd_serve(a) -> int:
    import logging

    import uvicorn

    from tutor.api.main import create_app
    from tutor.settings import get_settings

    st = get_settings()
    updates = {k: v for k, v in (("host", a.host), ("port", a.port)) if v is not None}
    if a.no_ui:
        updates["ui"] = False
    if updates:
        st = st.model_copy(update=updates)
    from tutor.db import DatabaseUnavailable, check_database

    try:  # a damaged or unreadable database: one paragraph that says which and what to do, not a traceback
        check_database(st.database_url)
    except DatabaseUnavailable as e:
        print(e, file=sys.stderr)
        return 2
    # the tutor's own loggers (turns cancelled by a client, LLM fallbacks, job failures) go to
    # stderr next to uvicorn's access log; TUTOR_LOG_LEVEL=debug for more
    logging.basicConfig(level=st.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(st)
    shown = "localhost" if st.host in ("127.0.0.1", "0.0.0.0") else st.host
    print(f"tutor: UI http://{shown}:{st.port}/  API http://{shown}:{st.port}/v1  docs http://{shown}:{st.port}/docs"
          f"  (auth {'on' if st.auth_enabled() else 'off'})", flush=True)
    uvicorn.run(app, host=st.host, port=st.port, log_level="info", timeout_graceful_shutdown=10)
    return 0
