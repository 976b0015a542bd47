"""`python -m tutor jobs submit|list|show|watch|cancel|compare|serve`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    j = sub.add_parser("jobs", help="experiment jobs: submit, watch, compare")
    js = j.add_subparsers(dest="jobs_command", metavar="ACTION")

    s = js.add_parser("submit", help="queue an experiment")
    s.add_argument("tool")
    s.add_argument("--preset", default="quick", help="smoke | quick | full, or a real-data preset of the tool "
                                                     "(transfer, finetune, pets, imdb, ...: python -m tools NAME --schema)")
    s.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    s.add_argument("--owner", default="cli")
    s.add_argument("--priority", type=int, default=0)
    s.add_argument("--wait", action="store_true", help="wait until it ends (starts a scheduler in this process when "
                                                       "none serves the database)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=cmd_submit)

    ls = js.add_parser("list", help="list jobs")
    ls.add_argument("--owner", default=None)
    ls.add_argument("--tool", default=None)
    ls.add_argument("--status", default=None, choices=["queued", "running", "succeeded", "failed", "cancelled"])
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=cmd_list)

    for name, fn, helptext in (("show", cmd_show, "show one job"), ("watch", cmd_watch, "follow a job's progress"),
                               ("cancel", cmd_cancel, "cancel a job")):
        p = js.add_parser(name, help=helptext)
        p.add_argument("id")
        p.add_argument("--json", action="store_true")
        p.set_defaults(handler=fn)

    c = js.add_parser("compare", help="compare finished runs of a tool (table + parallel coordinates)")
    c.add_argument("tool")
    c.add_argument("--owner", default=None)
    c.add_argument("--ids", default=None, help="comma-separated job ids")
    c.add_argument("--json", action="store_true")
    c.set_defaults(handler=cmd_compare)

    sv = js.add_parser("serve", help="run the scheduler in this process (the API embeds one too)")
    sv.set_defaults(handler=cmd_serve)
    j.set_defaults(handler=lambda a: (j.print_help(), 2)[1])


def _svc():
    from tutor.jobs.service import JobService

    return JobService()


def _public(job: dict) -> dict:
    return {k: job.get(k) for k in ("id", "tool", "preset", "status", "owner", "priority", "config", "metrics",
                                    "error", "device", "created_at", "started_at", "finished_at", "artifacts")}


def _print_job(job: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(_public(job), ensure_ascii=False, default=str))
        return
    m = ", ".join(f"{k}={v:.4g}" for k, v in (job.get("metrics") or {}).items() if isinstance(v, (int, float)))
    print(f"{job['id']}  {job['tool']}  {job['status']}  preset={job.get('preset')}  owner={job['owner']}")
    if m:
        print(f"  metrics: {m}")
    if job.get("error"):
        print(f"  error: {job['error'].splitlines()[0]}")
    for a in job.get("artifacts") or []:
        print(f"  artifact: {a['name']} ({a['kind']}, {a.get('size', 0)} B) {a['path']}")


def cmd_submit(a) -> int:
    from tools.registry import parse_overrides
    from tutor.jobs.service import JobError

    try:
        overrides = parse_overrides(a.sets)
        svc = _svc()
        job_id = svc.submit(a.tool, overrides, a.owner, preset=a.preset, priority=a.priority)
    except (JobError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyError as e:
        print(f"error: {e.args[0]}", file=sys.stderr)
        return 2
    if a.wait:
        asyncio.run(_serve_while(svc, _watch(svc, job_id, quiet=a.json)))
    _print_job(svc.get(job_id), a.json)
    return 0 if svc.get(job_id)["status"] in ("queued", "running", "succeeded") else 1


async def _serve_while(svc, work) -> None:
    """Run `work`; when no scheduler serves the database (no API, no `jobs serve`), this
    process schedules the queue meanwhile, and says so."""
    own = not svc.scheduler_alive()
    if own:
        print("no job scheduler serves this database: scheduling in this process until the job ends", file=sys.stderr)
        await svc.start()
    try:
        await work
    finally:
        if own:
            await svc.stop()


async def _watch(svc, job_id: str, quiet: bool = False) -> None:
    from tqdm import tqdm

    bar = None
    async for ev in svc.events(job_id):
        p = ev["payload"]
        if quiet:
            continue
        if ev["type"] == "progress":
            if bar is None:
                bar = tqdm(total=p.get("total"), unit=p.get("unit", "step"), file=sys.stderr)
            bar.n = p.get("step", 0)
            bar.set_postfix({k: f"{v:.4g}" for k, v in (p.get("metrics") or {}).items()})
            bar.refresh()
        elif ev["type"] == "status":
            print(f"[{p.get('status')}] {p.get('error', '') or ''}".rstrip(), file=sys.stderr)
        elif ev["type"] == "log":
            print(f"  {p.get('message')}", file=sys.stderr)
    if bar:
        bar.close()


def cmd_list(a) -> int:
    rows = _svc().list(owner=a.owner, tool=a.tool, status=a.status)
    if a.json:
        print(json.dumps([_public(r) for r in rows], ensure_ascii=False, default=str))
    else:
        for r in rows:
            m = next(iter((r.get("metrics") or {}).items()), None)
            print(f"{r['id']}  {r['tool']:<12} {r['status']:<10} {r.get('preset') or '':<6} {r['owner']}"
                  + (f"  {m[0]}={m[1]:.4g}" if m and isinstance(m[1], (int, float)) else ""))
        if not rows:
            print("no jobs")
    return 0


def _get_or_fail(svc, job_id: str):
    job = svc.get(job_id)
    if job is None:
        print(f"error: unknown job '{job_id}'", file=sys.stderr)
    return job


def cmd_show(a) -> int:
    job = _get_or_fail(_svc(), a.id)
    if job is None:
        return 1
    _print_job(job, a.json)
    return 0


def cmd_watch(a) -> int:
    svc = _svc()
    if _get_or_fail(svc, a.id) is None:
        return 1
    asyncio.run(_watch(svc, a.id, quiet=a.json))
    _print_job(svc.get(a.id), a.json)
    return 0


def cmd_cancel(a) -> int:
    svc = _svc()
    if _get_or_fail(svc, a.id) is None:
        return 1
    _print_job(svc.cancel(a.id), a.json)
    return 0


def cmd_compare(a) -> int:
    ids = [i for i in (a.ids or "").split(",") if i] or None
    try:
        cmp = _svc().compare(a.tool, job_ids=ids, owner=a.owner)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if a.json:
        print(json.dumps({k: v for k, v in cmp.items() if k != "plotly"}, ensure_ascii=False, default=str))
        return 0
    cols = cmp["columns"]
    print(" | ".join(cols))
    for r in cmp["rows"]:
        print(" | ".join(f"{r.get(c):.4g}" if isinstance(r.get(c), float) else str(r.get(c)) for c in cols))
    print(f"plot: {cmp['png']}\ninteractive: {cmp['html']}")
    return 0


def cmd_serve(a) -> int:
    svc = _svc()
    print(f"job scheduler: backend={svc.backend} slots={svc.slots}", flush=True)
    try:
        asyncio.run(svc.run_forever())
    except KeyboardInterrupt:
        pass
    return 0
