"""Embedded LLM benchmark: load, memory and speed of the local GGUF on a grounded prompt.

    python bench/llm.py [--model qwen|smollm2|PATH] [--threads auto 1 2] [--max-tokens 128]
                        [--no-repack] [--served] [--tools]

What is measured, per thread setting (auto = chosen from the free cores at load):
- verify: sha256 of the packaged file (done before every load); load: xllamacpp model load;
- rss: resident memory of this process after loading, and after the answers;
- for a 3-passage grounded prompt (the agent's own `generation_messages` over the real index,
  one Russian and one English question): TTFT (time to the first streamed token), total
  latency, and llama.cpp's own prompt and generation tok/s; then the same prompt again
  ("repeat"), which the prompt cache answers without evaluating the prompt again.
- --no-repack adds a row with the weights left memory-mapped (TUTOR_LLM_REPACK_WEIGHTS=false).
- --served adds a row for the same GGUF behind `python -m tutor llm serve`'s OpenAI-compatible
  HTTP API (in this process), streamed through the tutor's `openai` backend.
- --ctx-sweep loads the model at several context sizes and records RSS after one short answer
  (what the 4096 default costs against 2048/8192/16384).
- --tools runs tool-call probes (RU/EN experiment requests and plain questions, compact schemas)
  and reports how many replies had exactly the expected call (or none for a question).
The machine is usually shared: the load average is recorded at the start and end of each row.
Prints a table and writes JSON (machine, date) to bench/results/.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pydantic import BaseModel, Field  # noqa: E402

QUESTIONS = [("ru", "Зачем нужен паддинг в свёрточной сети?"), ("en", "Why does DQN use a target network?")]


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def load_avg() -> float:
    return round(os.getloadavg()[0], 2)


def grounded_prompts(st) -> list[tuple[str, str, list]]:
    """(lang, question, messages) with the 3 best passages from the real index."""
    from index.search import HybridIndex
    from tutor.agent import answer as ans

    idx = HybridIndex.load(st.index_dir)
    out = []
    for lang, q in QUESTIONS:
        hits = ans.prefer_language(idx.search(q, 5), lang)[:3]
        out.append((lang, q, ans.generation_messages(q, hits, lang, "explain", [])))
    return out


def run_prompt(chat, msgs, max_tokens: int) -> dict:
    t0 = time.perf_counter()
    ttft, text, timings = None, "", {}
    for chunk in chat.stream(msgs, max_tokens=max_tokens):
        if chunk.content and ttft is None:
            ttft = time.perf_counter() - t0
        text += chunk.content or ""
        timings = chunk.response_metadata.get("timings") or timings
    total = time.perf_counter() - t0
    return {"ttft_s": round(ttft or total, 2), "total_s": round(total, 2),
            "prompt_tokens": timings.get("prompt_n"), "cached_tokens": timings.get("cache_n"),
            "prompt_tok_s": round(timings.get("prompt_per_second") or 0, 1),
            "gen_tokens": timings.get("predicted_n"), "gen_tok_s": round(timings.get("predicted_per_second") or 0, 1),
            "answer": text[:300]}


def bench_embedded(st, model, threads: int, prompts, max_tokens: int, repack: bool) -> dict:
    from tutor.llm.llamacpp import make_llamacpp
    from tutor.llm.models import PACKAGED, verify_model

    st = st.model_copy(update={"llm_threads": threads, "llm_repack_weights": repack})
    chat, caps = make_llamacpp(st, model, load=False)
    row = {"setting": f"threads {'auto' if threads == 0 else threads}" + ("" if repack else ", no repack"),
           "model": caps.model, "load_avg_start": load_avg(), "rss_before_mb": round(rss_mb())}
    if chat.packaged_key:
        t0 = time.perf_counter()
        verify_model(PACKAGED[chat.packaged_key], Path(chat.model_path))
        row["verify_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    chat.load()
    row["load_s"] = round(time.perf_counter() - t0, 2)
    row.update(threads=chat.loaded["threads"], n_ctx=chat.loaded["n_ctx"], rss_loaded_mb=round(rss_mb()))
    row["prompts"] = {}
    for lang, q, msgs in prompts:
        first = run_prompt(chat, msgs, max_tokens)
        repeat = run_prompt(chat, msgs, max_tokens)
        row["prompts"][lang] = {"question": q, "cold": first, "repeat": repeat}
    row.update(rss_after_mb=round(rss_mb()), load_avg_end=load_avg())
    chat.unload()
    del chat
    gc.collect()
    return row


def bench_served(st, model, prompts, max_tokens: int) -> dict:
    from tutor.llm import get_llm
    from tutor.llm.serve import LocalServer

    row = {"setting": "served /v1 (threads auto)", "load_avg_start": load_avg(), "rss_before_mb": round(rss_mb())}
    t0 = time.perf_counter()
    with LocalServer.start(st, model=model) as srv:
        row.update(load_s=round(time.perf_counter() - t0, 2), threads=srv.threads, n_ctx=srv.n_ctx,
                   rss_loaded_mb=round(rss_mb()), model=srv.model)
        chat, _ = get_llm(st.model_copy(update={"llm_backend": "openai", "llm_base_url": srv.base_url}),
                          backend="openai", model=srv.model)
        row["prompts"] = {}
        for lang, q, msgs in prompts:
            out = {}
            for kind in ("cold", "repeat"):
                t0 = time.perf_counter()
                ttft, text = None, ""
                for chunk in chat.stream(msgs, max_tokens=max_tokens):
                    if chunk.content and ttft is None:
                        ttft = time.perf_counter() - t0
                    text += chunk.content or ""
                total = time.perf_counter() - t0
                out[kind] = {"ttft_s": round(ttft or total, 2), "total_s": round(total, 2), "answer": text[:300]}
            row["prompts"][lang] = {"question": q, **out}
        row.update(rss_after_mb=round(rss_mb()), load_avg_end=load_avg())
    gc.collect()
    return row


def bench_ctx(st, model, sizes=(2048, 4096, 8192, 16384)) -> list[dict]:
    from langchain_core.messages import HumanMessage

    from tutor.llm.llamacpp import make_llamacpp

    out = []
    for n in sizes:
        chat, _ = make_llamacpp(st.model_copy(update={"llm_context": n}), model, load=False)
        before = rss_mb()
        t0 = time.perf_counter()
        chat.load()
        load_s = time.perf_counter() - t0
        chat.invoke([HumanMessage("Explain dropout in one sentence.")], max_tokens=16)
        out.append({"n_ctx": n, "load_s": round(load_s, 2), "rss_mb": round(rss_mb()), "rss_delta_mb": round(rss_mb() - before)})
        print(json.dumps(out[-1]), flush=True)
        chat.unload()
        del chat
        gc.collect()
    return out


class RunCnn(BaseModel):
    """Train the CNN image classifier on MNIST."""

    epochs: int | None = Field(None, ge=1, le=50, description="number of training epochs")
    lr: float | None = Field(None, gt=0, le=1, description="learning rate")


class RunDqn(BaseModel):
    """Train a DQN agent on CartPole."""

    total_steps: int | None = Field(None, ge=100, le=1_000_000, description="environment steps")


class RunGan(BaseModel):
    """Train a GAN."""

    epochs: int | None = Field(None, ge=1, le=100, description="number of training epochs")


ROUTER = ("You are a deep-learning tutor. Use a function only when the student asks you to train or run "
          "something, with only the parameters the student gave. For a question, answer in plain text without JSON.")
TOOL_PROBES = [
    ("запусти cnn на 3 эпохи", ("RunCnn", {"epochs": 3})),
    ("обучи свёрточную сеть с lr 0.01", ("RunCnn", {"lr": 0.01})),
    ("обучи DQN на 2000 шагов", ("RunDqn", {"total_steps": 2000})),
    ("train a GAN for 2 epochs", ("RunGan", {"epochs": 2})),
    ("train a DQN agent for 5000 steps", ("RunDqn", {"total_steps": 5000})),
    ("Что такое паддинг в свёрточной сети?", None),
    ("зачем нужен дропаут?", None),
    ("How does a target network make DQN stable?", None),
]


def bench_tools(st, model) -> dict:
    from tutor.llm.llamacpp import make_llamacpp

    chat, _ = make_llamacpp(st.model_copy(update={"llm_temperature": 0.0, "llm_max_tokens": 96}), model)
    bound = chat.bind_tools([RunCnn, RunDqn, RunGan])
    rows, correct = [], 0
    for text, want in TOOL_PROBES:
        t0 = time.perf_counter()
        r = bound.invoke([("system", ROUTER), ("human", text)])
        got = [(c["name"], c["args"]) for c in r.tool_calls]
        ok = got == ([want] if want else [])
        correct += ok
        rows.append({"message": text, "expected": want, "calls": got, "ok": ok, "s": round(time.perf_counter() - t0, 1),
                     "invalid": [(c["name"], c["error"]) for c in r.invalid_tool_calls], "content": r.content[:120]})
    chat.unload()
    return {"correct": correct, "total": len(TOOL_PROBES), "probes": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None, help="qwen (default) | smollm2 | a GGUF path")
    ap.add_argument("--threads", nargs="+", default=["auto", "1", "2"], help="'auto' or numbers")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--no-repack", action="store_true", help="add a row with memory-mapped (not repacked) weights")
    ap.add_argument("--served", action="store_true", help="add a row for the OpenAI-compatible server")
    ap.add_argument("--tools", action="store_true", help="run the tool-call probes")
    ap.add_argument("--ctx-sweep", action="store_true", help="RSS at context 2048/4096/8192/16384")
    ap.add_argument("--tag", default="", help="suffix of the JSON file name (several runs a day)")
    ap.add_argument("--only-extra", action="store_true", help="skip the thread rows (with --ctx-sweep/--tools)")
    a = ap.parse_args()

    from tutor.llm.llamacpp import busy_cores, usable_cores
    from tutor.settings import get_settings

    st = get_settings()
    prompts = grounded_prompts(st)
    rows = []
    for t in ([] if a.only_extra else a.threads):
        rows.append(bench_embedded(st, a.model, 0 if t == "auto" else int(t), prompts, a.max_tokens, repack=True))
        print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    if a.no_repack:
        rows.append(bench_embedded(st, a.model, 0, prompts, a.max_tokens, repack=False))
        print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    if a.served:
        rows.append(bench_served(st, a.model, prompts, a.max_tokens))
        print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    ctx = bench_ctx(st, a.model) if a.ctx_sweep else None
    tools = bench_tools(st, a.model) if a.tools else None

    print(f"\n{'setting':<26} {'thr':>3} {'load s':>6} {'RSS MB':>6} {'lang':>4} {'prompt tok':>10} "
          f"{'p tok/s':>7} {'g tok/s':>7} {'TTFT s':>6} {'total s':>7} {'repeat TTFT':>11} {'load avg':>9}")
    for r in rows:
        for lang, p in r["prompts"].items():
            c, rep = p["cold"], p["repeat"]
            print(f"{r['setting']:<26} {r['threads']:>3} {r['load_s']:>6} {r['rss_after_mb']:>6} {lang:>4} "
                  f"{c.get('prompt_tokens') or '-':>10} {c.get('prompt_tok_s', '-'):>7} {c.get('gen_tok_s', '-'):>7} "
                  f"{c['ttft_s']:>6} {c['total_s']:>7} {rep['ttft_s']:>11} "
                  f"{r['load_avg_start']:>4}-{r['load_avg_end']:<4}")
    for c in ctx or []:
        print(f"context {c['n_ctx']:>6}: RSS {c['rss_mb']} MB (+{c['rss_delta_mb']} MB for the model), load {c['load_s']} s")
    if tools:
        print(f"\ntool-call probes: {tools['correct']}/{tools['total']} exactly right")
        for p in tools["probes"]:
            print(f"  {'OK ' if p['ok'] else 'BAD'} {p['message']!r}: {p['calls'] or p['invalid'] or p['content'][:60]!r}")

    import psutil

    out = {"date": date.today().isoformat(), "machine": {
        "platform": platform.platform(), "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(), "usable_cores": usable_cores(), "busy_cores_at_start": round(busy_cores(), 2),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1), "python": platform.python_version(),
        "shared": "yes: other engineers' jobs ran at the same time (see load_avg per row)"},
        "model": a.model or "qwen", "tag": a.tag, "max_tokens": a.max_tokens, "rows": rows, "context_sweep": ctx, "tools": tools}
    suffix = (f"-{a.tag}" if a.tag else "") + ("-extra" if a.only_extra else "")
    dest = ROOT / "bench" / "results" / f"llm-cpu-{out['date']}{suffix}.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"\nwritten {dest.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
