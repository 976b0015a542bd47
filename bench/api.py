"""API benchmark: N concurrent chat sessions on /v1/chat/stream against a tutor on loopback.

    python bench/api.py [--sessions 8] [--duration 60] [--backends llamacpp none]
                        [--model GGUF] [--generative on|off|auto] [--threads N]
                        [--index-dir DIR] [--lectures 04_cnn.md ...] [--url URL --key KEY]

Without --url it starts one server per backend itself (`python -m tutor serve`, a temp data
dir, auth on, a small index of a few lectures, or --index-dir to reuse a built one). Each
session is one thread that asks a mix of Russian and English course questions back to
back until --duration ends. Measured per request: time to the `sources` event (retrieval
done), to the first `token` event (TTFT: with a generative LLM the first *checked* sentence,
tutor.agent.generation) and to the `final` event (latency); reported as p50/p95 overall and per language, with
requests/s, the answer styles (generative vs extractive) and errors. The first request of
each server (index and model load) is reported apart as the cold start. Prints a table
and writes JSON to bench/results/api-<device>-<date>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTIONS = [
    ("ru", "Зачем нужен паддинг в свёрточной сети?"),
    ("en", "What is experience replay in DQN?"),
    ("ru", "Что такое пулинг и зачем он нужен?"),
    ("en", "How does max pooling work in a CNN?"),
    ("ru", "Зачем в DQN нужна целевая сеть?"),
    ("en", "Why do we use data augmentation?"),
    ("ru", "Какие бывают аугментации изображений?"),
    ("en", "What is the epsilon-greedy strategy?"),
]
LECTURES = ["04_cnn.md", "07_augmentation.md", "17_rl_dqn.md"]


def build_index(index_dir: Path, lectures: list[str]) -> None:
    t0 = time.perf_counter()
    files = [str(ROOT / "corpus" / "lectures" / f) for f in lectures]
    env = {**os.environ, "TUTOR_DATA_DIR": str(index_dir.parent), "TUTOR_INDEX_DIR": str(index_dir),
           "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-m", "tutor", "index", "build", *files, "--quiet"], cwd=ROOT, env=env, check=True,
                   capture_output=True, text=True)
    print(f"index of {len(files)} lectures built in {time.perf_counter() - t0:.0f} s", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`python -m tutor serve` in a subprocess with its own data dir and an admin key."""

    def __init__(self, backend: str, index_dir: Path, llm_env: dict | None = None) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix=f"tutor-bench-{backend}-"))
        self.env = {**os.environ, "TUTOR_DATA_DIR": str(self.tmp), "TUTOR_LLM_BACKEND": backend, "TUTOR_AUTH": "on",
                    "TUTOR_INDEX_DIR": str(index_dir), "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
                    **(llm_env or {})}
        self.proc = None
        self.base = f"http://127.0.0.1:{free_port()}"

    def start(self) -> tuple[str, str]:
        from tutor.api.keys import KeyStore
        from tutor.db import make_engine

        engine = make_engine(f"sqlite:///{self.tmp / 'tutor.db'}")
        key = KeyStore(engine).create("bench", "admin", rate_limit_per_minute=100_000)
        engine.dispose()
        self.log = open(self.tmp / "server.log", "w")
        port = self.base.rsplit(":", 1)[1]
        self.proc = subprocess.Popen([sys.executable, "-m", "tutor", "serve", "--port", port, "--no-ui"], cwd=ROOT,
                                     env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
                    return self.base, key
            except httpx.HTTPError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError("server did not start: " + (self.tmp / "server.log").read_text()[-2000:])

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


async def ask(http: httpx.AsyncClient, thread: str, lang: str, question: str) -> dict:
    t0 = time.perf_counter()
    ttft, sources, final, event = None, None, None, None
    try:
        async with http.stream("POST", "/v1/chat/stream", json={"message": question, "thread_id": thread}) as r:
            if r.status_code != 200:
                await r.aread()
                return {"lang": lang, "error": f"HTTP {r.status_code}: {r.text[:200]}"}
            async for line in r.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                    if event == "token" and ttft is None:
                        ttft = time.perf_counter() - t0
                    if event == "sources" and sources is None:
                        sources = time.perf_counter() - t0
                elif line.startswith("data:") and event == "final":
                    final = json.loads(line[5:])
    except httpx.HTTPError as e:
        return {"lang": lang, "error": f"{type(e).__name__}: {e}"}
    if final is None:
        return {"lang": lang, "error": "no final event"}
    return {"lang": lang, "ttft_s": ttft, "sources_s": sources, "latency_s": time.perf_counter() - t0,
            "style": final.get("answer_style") or final.get("intent"),
            "chars": len(final.get("answer") or "")}


async def session(http: httpx.AsyncClient, n: int, deadline: float, out: list[dict]) -> None:
    i = n  # sessions start at different questions
    while time.perf_counter() < deadline:
        lang, q = QUESTIONS[i % len(QUESTIONS)]
        out.append(await ask(http, f"bench-{n}", lang, q))
        i += 1


def pct(xs: list[float], q: float) -> float | None:
    return round(float(np.percentile(xs, q)) * 1000, 1) if xs else None


def summarize(rows: list[dict], wall: float) -> dict:
    ok = [r for r in rows if "error" not in r]
    out = {"requests": len(rows), "errors": len(rows) - len(ok), "req_per_s": round(len(ok) / wall, 3),
           "styles": {s: sum(r["style"] == s for r in ok) for s in sorted({r["style"] for r in ok})}}
    for name, sel in (("all", ok), ("ru", [r for r in ok if r["lang"] == "ru"]),
                      ("en", [r for r in ok if r["lang"] == "en"])):
        lat, ttft = [r["latency_s"] for r in sel], [r["ttft_s"] for r in sel if r["ttft_s"] is not None]
        src = [r["sources_s"] for r in sel if r.get("sources_s") is not None]
        out[name] = {"n": len(sel), "latency_p50_ms": pct(lat, 50), "latency_p95_ms": pct(lat, 95),
                     "ttft_p50_ms": pct(ttft, 50), "ttft_p95_ms": pct(ttft, 95), "sources_p50_ms": pct(src, 50)}
    if len(ok) < len(rows):
        out["first_error"] = next(r["error"] for r in rows if "error" in r)
    return out


async def run_backend(base: str, key: str, sessions: int, duration: float) -> dict:
    limits = httpx.Limits(max_connections=sessions + 2)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, limits=limits,
                                 timeout=httpx.Timeout(300.0)) as http:
        cold = await ask(http, "bench-warmup", "en", QUESTIONS[1][1])  # loads the index, encoder and LLM
        info = (await http.get("/readyz")).json().get("checks", {})
        rows: list[dict] = []
        t0 = time.perf_counter()
        await asyncio.gather(*(session(http, n, t0 + duration, rows) for n in range(sessions)))
        wall = time.perf_counter() - t0
    return {"cold_start": cold, "llm": info.get("llm"), "wall_s": round(wall, 1), **summarize(rows, wall)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=8, help="concurrent chat sessions (threads)")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of load per backend")
    ap.add_argument("--backends", nargs="+", default=["llamacpp"], choices=["llamacpp", "none", "openai", "hf"])
    ap.add_argument("--model", help="TUTOR_LLM_MODEL for the servers (e.g. the embedded Qwen GGUF)")
    ap.add_argument("--generative", choices=["auto", "on", "off"], help="TUTOR_LLM_GENERATIVE for the servers")
    ap.add_argument("--threads", type=int, help="TUTOR_LLM_THREADS for the servers")
    ap.add_argument("--index-dir", type=Path, help="reuse a built index instead of building a small one")
    ap.add_argument("--lectures", nargs="+", default=LECTURES, help="lecture files for the small index")
    ap.add_argument("--url", help="benchmark a running server instead (with --key)")
    ap.add_argument("--key", help="API key for --url")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    a = ap.parse_args()
    if a.sessions < 1 or a.duration <= 0:
        ap.error("--sessions and --duration must be positive")
    if a.url and not a.key:
        ap.error("--url needs --key")
    results = []
    targets = [("server at " + a.url, None)] if a.url else [(b, b) for b in a.backends]
    scratch = Path(tempfile.mkdtemp(prefix="tutor-bench-index-"))
    index_dir = a.index_dir
    if index_dir is None and not a.url:
        index_dir = scratch / "index"
        build_index(index_dir, a.lectures)
    for label, backend in targets:
        server = None
        try:
            if backend is None:
                base, key = a.url, a.key
            else:
                llm_env = {k: str(v) for k, v in (("TUTOR_LLM_MODEL", a.model), ("TUTOR_LLM_GENERATIVE", a.generative),
                                                  ("TUTOR_LLM_THREADS", a.threads)) if v}
                server = Server(backend, index_dir, llm_env)
                base, key = server.start()
            print(f"{label}: {a.sessions} sessions x {a.duration:.0f} s ...", flush=True)
            res = asyncio.run(run_backend(base, key, a.sessions, a.duration))
        finally:
            if server is not None:
                server.stop()
        results.append({"backend": label, "sessions": a.sessions, "duration_s": a.duration, **res})
    shutil.rmtree(scratch, ignore_errors=True)
    print("\n| backend | sessions | requests | req/s | sources p50 ms | latency p50 / p95 ms | TTFT p50 / p95 ms | "
          "ru latency p50 ms | en latency p50 ms | answers | cold start s |\n|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        cold = r["cold_start"].get("latency_s")
        print(f"| {r['backend']} | {r['sessions']} | {r['requests']} ({r['errors']} err) | {r['req_per_s']} | "
              f"{r['all']['sources_p50_ms']} | {r['all']['latency_p50_ms']} / {r['all']['latency_p95_ms']} | {r['all']['ttft_p50_ms']} / "
              f"{r['all']['ttft_p95_ms']} | {r['ru']['latency_p50_ms']} | {r['en']['latency_p50_ms']} | "
              f"{', '.join(f'{k} {v}' for k, v in r['styles'].items())} | {cold and round(cold, 1)} |")
    try:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    except Exception:
        device = "cpu"
    a.out.mkdir(parents=True, exist_ok=True)
    out = a.out / f"api-{device}-{date.today().isoformat()}.json"
    out.write_text(json.dumps({"date": date.today().isoformat(), "machine": platform.platform(),
                               "cpus": os.cpu_count(), "results": results}, indent=1, ensure_ascii=False))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
