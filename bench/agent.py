"""Agent benchmark: the multi-turn tasks of tests/evals/agent_tasks.jsonl with real models
choosing the tool calls themselves (the test suite replays scripted calls instead).

    python bench/agent.py [--backends embedded openai] [--ids g01 c01 ...] [--out bench/results]

Backends: `embedded` — the packaged Qwen through xllamacpp in-process (JSON tool calls parsed
from its replies); `openai` — the same GGUF behind `tutor llm serve`'s OpenAI-compatible /v1,
through the `openai` backend (what a vLLM deployment looks like to the tutor). Every task runs
in a fresh thread against a real job queue (smoke presets train for real). A task succeeds
when every turn meets the checks a model can be held to without a script: the jobs it
started and their configs, statuses, confirmations asked, comparisons made, errors raised,
the run's numbers in the answer, citations. Prints a table; writes JSON with machine and date.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# expectations about the system's behaviour, not about the script's exact words
MODEL_FREE_CHECKS = ("submitted", "status", "needs_confirmation", "comparison", "error", "error_event", "intent",
                     "answer_has_metric", "cites", "unsupported", "mode")


def _backend(name: str, st, stack):
    from tutor.llm import get_llm

    if name == "embedded":
        return get_llm(st, backend="llamacpp")
    from tutor.llm.serve import LocalServer

    srv = LocalServer.start(st)
    stack.append(srv)
    return get_llm(st.model_copy(update={"llm_base_url": srv.base_url, "llm_api_key": "local"}), backend="openai",
                   model=srv.model)


async def run(backend: str, tasks: list[dict], index_dir: Path) -> list[dict]:
    from index.search import HybridIndex
    from tests.evals.test_agent_eval import check_turn
    from tutor.agent.service import TutorService
    from tutor.jobs.service import JobService
    from tutor.settings import Settings

    out, stack = [], []
    with tempfile.TemporaryDirectory() as d:
        base = Settings(data_dir=Path(d), job_slots_cpu=1, owner_max_concurrent=10, confirm_above_s=60,
                        chat_wait_for_job_s=300, agent_loop="always")
        llm = _backend(backend, base, stack)
        jobs = JobService(base)
        await jobs.start()
        index = HybridIndex.load(index_dir)
        try:
            for task in tasks:
                st = base.model_copy(update=task.get("settings") or {})
                jobs.settings = st
                svc = TutorService(st, index=index, jobs=jobs, llm=llm)
                problems, t0 = [], time.perf_counter()
                for n, turn in enumerate(task["turns"]):
                    user = f"{'other' if turn.get('as') == 'other' else 'student'}-{task['id']}"
                    events = [ev async for ev in svc.chat(f"bench-{task['id']}", user, turn["user"])]
                    expect = {k: v for k, v in (turn.get("expect") or {}).items() if k in MODEL_FREE_CHECKS}
                    got = check_turn(expect, events, events[-1], jobs, user, 0, [])
                    problems += [f"turn {n + 1}: {p}" for p in got]
                out.append({"id": task["id"], "kind": task["kind"], "lang": task["lang"], "ok": not problems,
                            "problems": problems, "seconds": round(time.perf_counter() - t0, 1)})
                print(f"  {backend:9} {task['id']:4} {'ok ' if not problems else 'FAIL'} {out[-1]['seconds']:6.1f} s "
                      f"{'; '.join(problems)[:160]}", flush=True)
        finally:
            await jobs.stop()
            for srv in stack:
                srv.stop()
    return out


def main() -> int:
    from tutor.settings import get_settings

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backends", nargs="+", default=["embedded", "openai"], choices=["embedded", "openai"])
    ap.add_argument("--ids", nargs="*", default=None, help="only these task ids")
    ap.add_argument("--index-dir", type=Path, default=None, help="default: the configured index")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    a = ap.parse_args()
    tasks = [json.loads(line) for line in (ROOT / "tests" / "evals" / "agent_tasks.jsonl").read_text().splitlines()
             if line.strip()]
    tasks = [t for t in tasks if not a.ids or t["id"] in a.ids]
    index_dir = a.index_dir or get_settings().index_dir
    rows = {}
    for backend in a.backends:
        rows[backend] = asyncio.run(run(backend, tasks, index_dir))
    print(f"\n| backend | tasks | success | median s/task |\n|---|---|---|---|")
    for backend, res in rows.items():
        secs = sorted(r["seconds"] for r in res)
        print(f"| {backend} | {len(res)} | {sum(r['ok'] for r in res) / max(len(res), 1):.2f} | "
              f"{secs[len(secs) // 2] if secs else 0:.0f} |")
    a.out.mkdir(parents=True, exist_ok=True)
    path = a.out / f"agent-cpu-{date.today()}.json"
    path.write_text(json.dumps({"date": str(date.today()), "machine": f"{platform.node()} {platform.machine()} "
                                f"{platform.processor()}".strip(), "results": rows}, ensure_ascii=False, indent=2))
    print(f"\nJSON: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
