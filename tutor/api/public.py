"""What a client sees of jobs, events and chat turns: names and URLs, never server paths
(tutor.redact), the short error of a failed job (the traceback only for admin keys)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from tutor.redact import scrub

MAX_SEQ = 2**31 - 1  # event sequence numbers are 32-bit integers in the database


def artifact_url(job_id: str, name: str) -> str:
    return f"/v1/jobs/{quote(job_id, safe='')}/artifacts/{quote(name, safe='')}"


def output_url(name: str, owner_user: str | None = None) -> str:
    url = f"/v1/outputs/{quote(name, safe='')}"
    return url + (f"?user={quote(owner_user, safe='')}" if owner_user else "")


def public_job(job: dict, principal=None) -> dict:
    """A job as a client sees it: artifacts by name and URL (never a server path), the
    short error; the traceback only for admin keys."""
    keys = ("id", "tool", "preset", "status", "owner", "priority", "config", "metrics", "error", "device",
            "created_at", "started_at", "finished_at")
    out = scrub({k: job.get(k) for k in keys})
    out["artifacts"] = [{"name": a.get("name"), "kind": a.get("kind"), "size": a.get("size"),
                         "url": artifact_url(job["id"], a.get("name") or "")} for a in job.get("artifacts") or []]
    if principal is not None and principal.is_admin:
        out["error_detail"] = job.get("error_detail")
    return out


def public_event(ev: dict) -> dict:
    """A stored job event for the SSE stream: paths dropped (an artifact gets its URL)."""
    out = scrub(ev)
    payload = out.get("payload") or {}
    if ev.get("type") == "artifact" and payload.get("name"):
        payload["url"] = artifact_url(ev["job_id"], payload["name"])
    return out



def public_chat_event(ev: dict, user: str | None = None) -> dict:
    """A chat turn's event (model_dump) for an API client: an artifact by name and URL, the
    final event's jobs with artifact URLs, nothing with a server path. `user` is the end user
    a bot speaks for: output URLs carry it."""
    out = scrub(ev)
    if ev.get("type") == "artifact" and ev.get("name"):
        out["url"] = ev.get("url") or (artifact_url(ev["job_id"], ev["name"]) if ev.get("job_id")
                                       else output_url(ev["name"], user))
    for job in [out.get("job")] + list(out.get("jobs") or []):
        if isinstance(job, dict) and job.get("id"):
            job["artifacts"] = [{**a, "url": artifact_url(job["id"], a.get("name") or "")}
                                for a in job.get("artifacts") or [] if isinstance(a, dict)]
    return out
