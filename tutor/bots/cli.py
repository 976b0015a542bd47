"""`python -m tutor bots telegram|discord`."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser("bots", help="run a course bot (a client of the tutor HTTP API)")
    b.add_argument("platform", choices=["telegram", "discord"])
    b.set_defaults(handler=cmd_bots)


def cmd_bots(a) -> int:
    from tutor.settings import get_settings

    if a.platform == "telegram":
        from tutor.bots.telegram import main
    else:
        from tutor.bots.discord import main
    return main(get_settings())
