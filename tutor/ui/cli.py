"""`python -m tutor users create|list|role|course` — accounts for the chat UI."""

from __future__ import annotations

import argparse
import getpass
import sys


def register(sub: argparse._SubParsersAction) -> None:
    u = sub.add_parser("users", help="manage chat UI accounts")
    us = u.add_subparsers(dest="users_command", metavar="ACTION")
    c = us.add_parser("create", help="create a UI account")
    c.add_argument("name")
    c.add_argument("--password", default=None, help="password (prompted when omitted)")
    c.add_argument("--role", choices=["student", "staff", "admin"], default="student")
    c.add_argument("--course", default=None, help="the account's course (default: the demo course)")
    c.set_defaults(handler=cmd_create)
    ls = us.add_parser("list", help="list UI accounts")
    ls.set_defaults(handler=cmd_list)
    r = us.add_parser("role", help="change the role of a UI account (also of an OAuth one, e.g. github:octocat)")
    r.add_argument("name")
    r.add_argument("role", choices=["student", "staff", "admin"])
    r.set_defaults(handler=cmd_role)
    cc = us.add_parser("course", help="bind a UI account to a course ('none': the demo course)")
    cc.add_argument("name")
    cc.add_argument("course")
    cc.set_defaults(handler=cmd_course)
    u.set_defaults(handler=lambda a: (u.print_help(), 2)[1])


def _store():
    from tutor.db import get_engine
    from tutor.settings import get_settings
    from tutor.ui.store import UserStore

    return UserStore(get_engine(get_settings()))


def _known_course(store, course: str | None) -> bool:
    if course is None:
        return True
    from tutor.courses.service import CourseService
    from tutor.settings import get_settings

    if CourseService(get_settings(), store.engine).find(course) is None:
        print(f"error: no course '{course}' (python -m tutor courses list)", file=sys.stderr)
        return False
    return True


def cmd_create(a) -> int:
    store = _store()
    if not _known_course(store, a.course):
        return 2
    password = a.password or getpass.getpass("password: ")
    try:
        store.create(a.name, password, a.role, course=a.course)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"created UI user '{a.name}' ({a.role}{', course ' + a.course if a.course else ''})")
    return 0


def cmd_course(a) -> int:
    store = _store()
    course = None if a.course.lower() == "none" else a.course
    if not _known_course(store, course):
        return 2
    try:
        store.set_course(a.name, course)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"UI user '{a.name}' now belongs to {course or 'the demo course'}")
    return 0


def cmd_list(a) -> int:
    from sqlalchemy import select

    from tutor.ui.store import ui_users

    store = _store()
    with store.engine.connect() as c:
        for r in c.execute(select(ui_users.c.username, ui_users.c.role, ui_users.c.course)).all():
            print(f"{r[0]}\t{r[1]}\t{r[2] or '-'}")
    return 0


def cmd_role(a) -> int:
    try:
        _store().set_role(a.name, a.role)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"UI user '{a.name}' is now {a.role}")
    return 0
