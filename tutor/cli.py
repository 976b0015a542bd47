"""`python -m tutor ...`: one argparse tree; each area adds its sub-commands through
a `register(subparsers)` function listed in COMMAND_MODULES, imported lazily so that
`python -m tutor search` does not import torch or the web stack."""

from __future__ import annotations

import argparse
import importlib
import sys

# module -> its register(subparsers) adds commands whose handler is set with
# parser.set_defaults(handler=fn); fn(args) returns the exit code.
COMMAND_MODULES = [
    "index.cli",
    "tutor.jobs.cli",
    "tutor.datasets.cli",
    "tutor.courses.cli",
    "tutor.agent.cli",
    "tutor.api.cli",
    "tutor.bots.cli",
    "tutor.ui.cli",
    "tutor.vision.cli",
    "tutor.llm.cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tutor", description="AI tutor for deep-learning courses.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            # an area that is not installed/built yet simply contributes no commands
            if e.name and (e.name == name or name.startswith(e.name + ".")):
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
