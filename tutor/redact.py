"""What leaves the server for a student names no server path and carries no traceback.

`redact(text)` replaces absolute file-system paths in a message by `…/<file name>` (the
name is what a student can act on; the folders tell an attacker the layout).
`scrub(obj)` does that for every string of a JSON-like value and drops the keys that
hold paths (`path`, `run_dir`, `checkpoint`...). `failure(exc)` turns an exception into
a short student-facing reason plus a reference; the traceback goes to the log under that
reference (and to the job's staff-only `error_detail`)."""

from __future__ import annotations

import logging
import re
import traceback
import uuid
from typing import Any

log = logging.getLogger(__name__)

# an absolute POSIX path of 2+ components, or ~/..., not part of a URL ("http://h/a/b") nor one
# of our own API paths ("/v1/jobs/ID"), which are what students are told to use
_PATH = re.compile(r"(?<![\w:/.~-])(?:~|/(?!v1/)(?!healthz)[\w.@+-]+)(?:/[\w.@+-]*)+")
PATH_KEYS = frozenset({"path", "run_dir", "checkpoint", "checkpoint_path", "out_dir", "file_path", "data_path",
                       "error_detail", "traceback"})


def redact(text: str) -> str:
    """Absolute paths in `text` → '…/<last component>'."""
    if not isinstance(text, str) or "/" not in text:
        return text

    def short(m: re.Match) -> str:
        name = m.group(0).rstrip("/").rsplit("/", 1)[-1]
        return f"…/{name}" if name and name != "~" else "…"

    return _PATH.sub(short, text)


def scrub(obj: Any, drop: frozenset[str] = PATH_KEYS) -> Any:
    """A copy of a JSON-like value with path-holding keys dropped and paths redacted."""
    if isinstance(obj, dict):
        return {k: scrub(v, drop) for k, v in obj.items() if k not in drop}
    if isinstance(obj, (list, tuple)):
        return [scrub(v, drop) for v in obj]
    if isinstance(obj, str):
        return redact(obj)
    return obj


def new_ref() -> str:
    return uuid.uuid4().hex[:10]


def failure(exc: BaseException, context: str = "") -> tuple[str, str, str]:
    """(student message, traceback, reference) for an exception: the message is the
    exception's type and its first line, paths redacted, at most 300 characters, with the
    reference the operator finds in the log. Logs the traceback under that reference."""
    ref = new_ref()
    first = (str(exc).strip().splitlines() or [""])[0]
    reason = redact(f"{type(exc).__name__}: {first}" if first else type(exc).__name__)
    if len(reason) > 300:
        reason = reason[:297] + "…"
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    log.error("%s failed [ref %s]: %s\n%s", context or "operation", ref, reason, tb)
    return f"{reason} (reference {ref})", tb, ref
