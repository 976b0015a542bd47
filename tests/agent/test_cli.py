"""`python -m tutor ask` and `python -m tutor chat` as a user runs them: real subprocesses
on a real index, no LLM (TUTOR_LLM_BACKEND=none keeps them fast; the embedded GGUF has
its own test)."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.fixture
def tutor_cli(agent_index_dir, tmp_path):
    env = {**os.environ, "TUTOR_DATA_DIR": str(tmp_path / "data"), "TUTOR_LLM_BACKEND": "none",
           "TUTOR_INDEX_DIR": str(agent_index_dir)}
    env.pop("TUTOR_EXTRA_TOOLS", None)

    def run(*args, stdin: str | None = None, timeout: float = 180):
        return subprocess.run([sys.executable, "-m", "tutor", *args], cwd=ROOT, env=env, input=stdin,
                              capture_output=True, text=True, timeout=timeout)

    return run


def test_ask_json_answers_with_sources_and_events(tutor_cli, agent_index_dir):
    r = tutor_cli("ask", "--json", "--index-dir", str(agent_index_dir), "Зачем нужен паддинг в свёрточной сети?")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(out) == {"answer", "sources", "events"}
    assert "нули по краям" in out["answer"] and "[1]" in out["answer"]
    assert out["sources"][0]["source"].endswith("04_cnn.md") and out["sources"][0]["n"] == 1
    kinds = [e["type"] for e in out["events"]]
    assert kinds[-1] == "final" and "sources" in kinds and "token" in kinds


def test_ask_plain_prints_the_answer_then_the_sources(tutor_cli):
    r = tutor_cli("ask", "How does DQN keep training stable?")
    assert r.returncode == 0, r.stderr
    assert "[1]" in r.stdout and "17_rl.md" in r.stdout


def test_ask_hint_mode_gives_no_solution(tutor_cli):
    r = tutor_cli("ask", "--json", "--mode", "hint", "Напиши код для домашнего задания 2 по CNN на MNIST")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    final = out["events"][-1]
    assert final["mode"] == "hint" and final["homework"] is True
    assert "?" in out["answer"] and "```" not in out["answer"] and "import " not in out["answer"]
    assert any(s["source"].endswith("homework.md") for s in out["sources"])


def test_ask_plan_only_reports_the_job_without_submitting(tutor_cli, tmp_path):
    r = tutor_cli("ask", "--json", "--plan-only", "обучи CNN на 5 эпох с lr 0.01")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    (plan,) = [e for e in out["events"] if e["type"] == "job_planned"]
    assert plan["tool"] == "cnn" and plan["preset"] == "quick"
    assert plan["config"]["epochs"] == 5 and plan["config"]["lr"] == 0.01
    assert not [e for e in out["events"] if e["type"] in ("job_submitted", "job_progress")]
    jobs = tutor_cli("jobs", "list", "--json")  # nothing was queued
    assert jobs.returncode == 0, jobs.stderr
    assert json.loads(jobs.stdout) == []


def test_ask_bad_parameters_get_a_clear_answer_and_a_failing_exit(tutor_cli):
    r = tutor_cli("ask", "--json", "--plan-only", "/run cnn epochs=100000")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert r.returncode == 1 and "epochs" in out["answer"]
    assert not [e for e in out["events"] if e["type"] == "job_planned"]


@pytest.mark.parametrize("args, message", [
    (["ask", "--mode", "socratic", "x"], "invalid choice"),
    (["ask"], "the following arguments are required"),
    (["ask", "--index-dir", "/nonexistent/index", "Что такое свёртка?"], "index"),
])
def test_bad_cli_input_exits_non_zero_with_a_message(tutor_cli, args, message):
    r = tutor_cli(*args)
    assert r.returncode != 0 and message in r.stderr.lower()
    assert "Traceback" not in r.stderr


def test_ask_empty_and_huge_messages(tutor_cli):
    empty = tutor_cli("ask", "--json", "   ")
    out = json.loads(empty.stdout.strip().splitlines()[-1])
    assert empty.returncode == 1 and out["answer"]
    huge = tutor_cli("ask", "--json", "convolution " * 8_500)  # ~100 kB (one argv string is capped at 128 KiB)
    out = json.loads(huge.stdout.strip().splitlines()[-1])
    assert huge.returncode == 1 and ("long" in out["answer"] or "длин" in out["answer"])
    assert "Traceback" not in huge.stderr


def test_chat_repl_streams_answers_and_keeps_the_thread(tutor_cli):
    r = tutor_cli("chat", "--thread", "repl-1", stdin="Зачем нужен паддинг?\n/mode hint\n/unknowncmd\n")
    assert r.returncode == 0, r.stderr
    assert "tutor chat (thread repl-1)" in r.stdout
    assert "нули по краям" in r.stdout and "04_cnn.md" in r.stdout
    assert "hint" in r.stdout  # the mode was switched for this thread
    assert "/help" in r.stdout.split("/unknowncmd")[-1] or "unknown" in r.stdout.lower() or "неизвестн" in r.stdout.lower()
