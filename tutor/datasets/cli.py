"""`python -m tutor datasets add NAME FILE [--kind K] | list | show NAME | remove NAME | example FORMAT OUT`."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone


def register(sub: argparse._SubParsersAction) -> None:
    from tutor.datasets import FORMATS, KINDS

    d = sub.add_parser("datasets", help="datasets registered by course staff (students refer to them by name)")
    ds = d.add_subparsers(dest="datasets_command", metavar="ACTION")
    a = ds.add_parser("add", help="validate a zip (ImageFolder, YOLO, COCO, masks, CSV/JSONL) and register it")
    a.add_argument("name", help="the name students use: lower-case letters, digits, '-', '_'")
    a.add_argument("file", help="the zip")
    a.add_argument("--kind", choices=KINDS, default=None, help="expected kind (default: told by the layout)")
    a.add_argument("--by", default="cli", help="who registers it (recorded as created_by)")
    a.add_argument("--course", default=None, help="course the dataset belongs to (optional)")
    a.add_argument("--json", action="store_true")
    a.set_defaults(handler=cmd_add)
    ls = ds.add_parser("list", help="list registered datasets")
    ls.add_argument("--kind", choices=KINDS, default=None)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=cmd_list)
    sh = ds.add_parser("show", help="one dataset with its statistics")
    sh.add_argument("name")
    sh.add_argument("--json", action="store_true")
    sh.set_defaults(handler=cmd_show)
    rm = ds.add_parser("remove", help="unregister a dataset and delete its files")
    rm.add_argument("name")
    rm.set_defaults(handler=cmd_remove)
    ex = ds.add_parser("example", help="write an example zip of a format (built from offline data)")
    ex.add_argument("format", choices=list(FORMATS))
    ex.add_argument("out", help="where to write the zip")
    ex.set_defaults(handler=cmd_example)
    d.set_defaults(handler=lambda a: (d.print_help(), 2)[1])


def _svc():
    from tutor.datasets.service import DatasetService

    return DatasetService()


def _fail(msg: str, code: int = 2) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return code


def _print(record: dict, as_json: bool, full: bool = False) -> None:
    if as_json:
        print(json.dumps(record, ensure_ascii=False, default=str))
        return
    when = datetime.fromtimestamp(record["created_at"], timezone.utc).strftime("%Y-%m-%d %H:%M")
    splits = record["stats"].get("splits", {})
    counts = ", ".join(f"{s} {next(iter(v.values()))}" for s, v in splits.items())
    print(f"{record['name']:<24} {record['kind']:<21} {record['format']:<11} {len(record['classes'])} classes  "
          f"{counts}  by {record['created_by']} {when}")
    if full:
        print(f"  classes: {', '.join(record['classes'][:50])}" + (" ..." if len(record["classes"]) > 50 else ""))
        print("  stats: " + json.dumps(record["stats"], ensure_ascii=False))


def cmd_add(a) -> int:
    from pathlib import Path

    from tutor.datasets.service import DatasetError
    from tutor.datasets.validator import DatasetRejected

    if not Path(a.file).is_file():
        return _fail(f"no such file: {a.file}")
    try:
        record = _svc().add(a.name, a.file, a.by, kind=a.kind, course=a.course)
    except (DatasetError, DatasetRejected) as e:
        return _fail(str(e))
    if not a.json:
        print(f"registered '{record['name']}'. Students use it with dataset=registered dataset_name={record['name']}")
    _print(record, a.json, full=True)
    return 0


def cmd_list(a) -> int:
    rows = _svc().list(kind=a.kind)
    if a.json:
        print(json.dumps(rows, ensure_ascii=False, default=str))
        return 0
    for r in rows:
        _print(r, False)
    if not rows:
        print("no datasets registered")
    return 0


def cmd_show(a) -> int:
    from tutor.datasets.service import DatasetError

    try:
        record = _svc().get(a.name)
    except DatasetError as e:
        return _fail(str(e), 1)
    _print(record, a.json, full=True)
    return 0


def cmd_remove(a) -> int:
    from tutor.datasets.service import DatasetError

    try:
        _svc().remove(a.name)
    except DatasetError as e:
        return _fail(str(e), 1)
    print(f"removed '{a.name}'")
    return 0


def cmd_example(a) -> int:
    from tutor.datasets.samples import sample_zip

    path = sample_zip(a.format, a.out)
    print(f"wrote {path} ({a.format}); register it with: python -m tutor datasets add NAME {path}")
    return 0
