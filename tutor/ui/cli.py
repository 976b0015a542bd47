"""`python -m tutor users create|list` — accounts for the chat UI."""

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
    c.set_defaults(handler=cmd_create)
    ls = us.add_parser("list", help="list UI accounts")
    ls.set_defaults(handler=cmd_list)
    r = us.add_parser("role", help="change the role of a UI account (also of an OAuth one, e.g. github:octocat)")
    r.add_argument("name")
    r.add_argument("role", choices=["student", "staff", "admin"])
    r.set_defaults(handler=cmd_role)
    u.set_defaults(handler=lambda a: (u.print_help(), 2)[1])


def _store():
    from tutor.db import get_engine
    from tutor.settings import get_settings
    from tutor.ui.store import UserStore

    return UserStore(get_engine(get_settings()))


def cmd_create(a) -> int:
    password = a.password or getpass.getpass("password: ")
    try:
        _store().create(a.name, password, a.role)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"created UI user '{a.name}' ({a.role})")
    return 0


def cmd_list(a) -> int:
    from sqlalchemy import select

    from tutor.ui.store import ui_users

    store = _store()
    with store.engine.connect() as c:
        for r in c.execute(select(ui_users.c.username, ui_users.c.role)).all():
            print(f"{r[0]}\t{r[1]}")
    return 0


def cmd_role(a) -> int:
    try:
        _store().set_role(a.name, a.role)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"UI user '{a.name}' is now {a.role}")
    return 0
