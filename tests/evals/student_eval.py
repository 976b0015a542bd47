"""The student eval: questions written as students write them (tests/evals/student_questions.jsonl),
answered by the whole chat service, scored per item. Shared by tests/evals/test_student_eval.py
(a representative subset with floors, in `make test`) and bench/answers.py (all of it, per backend).

Per item:
- facts: every fact group of the item has one of its phrasings in the answer (normalised:
  case, ё, markup, and spacing inside formulas); for items the materials do not cover, the
  answer must say so (not covered / off topic) instead;
- language: the answer is in the question's language (grounding.language_ok);
- citations: every [n] points at a shown source, and an answer to a covered question cites one;
- source: a cited passage comes from an expected file (lectures count in either language);
- course: for logistics, the answer names the course the fact belongs to («курс 1», "course 1");
- not found: a covered question answered with "not covered"/"off topic" (the false not-found rate);
- unsupported: sentences the grounding check removed from the model's answer (the model's own
  unsupported-sentence rate; the shown answer has them removed or was replaced).
grade: 2 = facts, language, citations (and course where asked) all right; 1 = some fact or the
right source; 0 = otherwise.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

EVALS = Path(__file__).resolve().parent
ROOT = EVALS.parents[1]
# where `make test` (tutor models ensure) assembles the packaged model, by the default settings
DEFAULT_GGUF = ROOT / "data" / "models" / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


def load_cases(ids: list[str] | None = None) -> list[dict]:
    rows = [json.loads(line) for line in (EVALS / "student_questions.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    return [r for r in rows if not ids or r["id"] in ids]


def embedded_llm_model() -> str | None:
    """The embedded Qwen GGUF: TUTOR_LLM_MODEL, else the assembled copy of the packaged model."""
    env = os.environ.get("TUTOR_LLM_MODEL")
    if env:
        return env
    return str(DEFAULT_GGUF) if DEFAULT_GGUF.exists() else None


def normal(text: str) -> str:
    from tutor.agent.grounding import plain_math

    text = plain_math(text)
    text = text.replace("`", "").replace("**", "").replace("ё", "е").replace("Ё", "Е").replace("−", "-")
    return text.lower()


def has_fact(answer: str, phrasings: list[str]) -> bool:
    a = normal(answer)
    squeezed = re.sub(r"\s+", "", a)
    for p in phrasings:
        p = normal(p)
        if p in a or re.sub(r"\s+", "", p) in squeezed:
            return True
    return False


def _expected(source: str, case: dict) -> bool:
    source = source.replace("/lectures_en/", "/lectures/")
    return any(source.endswith(e.replace("/lectures_en/", "/lectures/")) for e in case.get("sources", []))


_COURSE_NAMED = re.compile(r"\b(курс\w*|course)\s*(\d+)", re.IGNORECASE)
CODE = re.compile(r"```|^\s*(import |from \S+ import |def |class \w+.*:|for .* in .*:)|\w+\s*=\s*(torch|nn|np)\.|"
                  r"\.(fit|backward|zero_grad|step)\(", re.M)


def score(case: dict, final, timings: dict | None = None) -> dict:
    """One item's report (see the module doc)."""
    from tutor.agent.grounding import language_ok

    answer = final.answer or ""
    style = getattr(final.answer_style, "value", final.answer_style)
    refused = style in ("not_covered", "off_topic")
    covered = case.get("covered", True)
    cited = [int(n) for n in re.findall(r"\[(\d+)\]", answer)]
    by_n = {s.n: s.source for s in final.sources}
    valid = all(n in by_n for n in cited) and (bool(cited) or refused or not covered)
    facts = ([has_fact(answer, g) for g in case.get("facts", [])] if covered else [refused])
    fact_ok = all(facts) and bool(facts) and not (covered and refused)
    source = any(_expected(by_n[n], case) for n in cited if n in by_n) if covered else refused
    course_ok = True
    if case.get("course") and covered and not refused:
        nums = {m.group(2) for m in _COURSE_NAMED.finditer(answer)}
        course_ok = case["course"] in nums
    lang_ok = language_ok(answer, case["lang"])
    check = final.check.model_dump() if final.check is not None else {}
    dropped = len(check.get("dropped") or [])
    kept = check.get("kept_claims") or 0
    extra = {}
    if case.get("mode") == "hint":
        extra = {"hint_code": bool(CODE.search(answer)), "hint_question": "?" in answer}
        fact_ok = fact_ok and not extra["hint_code"] and extra["hint_question"]
    if fact_ok and lang_ok and valid and course_ok:
        grade = 2
    elif any(facts) or source:
        grade = 1
    else:
        grade = 0
    return {"id": case["id"], "q": case["q"], "lang": case["lang"], "kind": case["kind"], "covered": covered,
            "grade": grade, "facts": fact_ok, "language": lang_ok, "citations_valid": valid, "source": source,
            "course": course_ok if case.get("course") else None, "false_not_found": covered and refused,
            "refused": refused, "style": style,
            "check_reason": check.get("reason", ""), "dropped": dropped, "kept_claims": kept,
            "query": final.query, "raw": check.get("raw", ""),
            "timings": timings or {}, "answer": answer, **extra}


async def run_cases(service, cases: list[dict], tag: str = "eval", progress: bool = False,
                    log_path: Path | None = None) -> list[dict]:
    """Ask every case through `service.chat`; cases that share a "thread" run in order in one thread.
    `log_path` gets one JSON line per finished case (a long run's partial results survive it)."""
    reports = []
    for c in cases:
        thread = f"{tag}-{c.get('thread') or c['id']}"
        t0 = time.perf_counter()
        first_token = sources_at = None
        final = None
        async for ev in service.chat(thread, "student", c["q"], mode=c.get("mode")):
            now = time.perf_counter() - t0
            if ev.type == "sources" and sources_at is None:
                sources_at = now
            elif ev.type == "token" and first_token is None:
                first_token = now
            elif ev.type == "final":
                final = ev
        timings = {"sources_s": sources_at, "first_shown_s": first_token, "total_s": time.perf_counter() - t0,
                   **{f"model_{k}": v for k, v in (final.timings or {}).items()}}
        reports.append(score(c, final, timings))
        if log_path is not None:
            with open(log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps({"tag": tag, **reports[-1]}, ensure_ascii=False) + "\n")
        if progress:
            r = reports[-1]
            print(f"  {c['id']} grade={r['grade']} {r['style']} {timings['total_s']:.1f} s {r['check_reason'][:60]}",
                  flush=True)
    return reports


def summary(reports: list[dict]) -> dict:
    n = len(reports)
    covered = [r for r in reports if r["covered"]]
    claims = sum(r["dropped"] + r["kept_claims"] for r in reports)

    def share(xs):
        return round(sum(xs) / len(xs), 3) if xs else None

    return {
        "n": n,
        "mean_grade": share([r["grade"] for r in reports]),
        "good_answers": share([r["grade"] == 2 for r in reports]),
        "fact_accuracy": share([r["facts"] for r in reports]),
        "language": share([r["language"] for r in reports]),
        "citations_valid": share([r["citations_valid"] for r in reports]),
        "source_cited": share([r["source"] for r in covered]),
        "course_named": share([r["course"] for r in reports if r["course"] is not None]),
        "false_not_found": share([r["false_not_found"] for r in covered]),
        "uncovered_refused": share([r["refused"] for r in reports if not r["covered"]]),
        "unsupported_sentence_rate": round(sum(r["dropped"] for r in reports) / claims, 3) if claims else None,
        "replaced_by_extractive": share([r["style"] == "extractive" and bool(r["check_reason"]) for r in reports]),
    }


def make_service(index, data_dir: Path, backend: str = "embedded", threads: int | None = None, model: str | None = None):
    """The chat service as `make run` starts it, with the given answer backend:
    'extractive' (no LLM), 'embedded' (the packaged Qwen through llama.cpp), 'openai' (TUTOR_LLM_BASE_URL)."""
    from sqlalchemy import create_engine

    from tutor.agent.service import TutorService
    from tutor.agent.threads import ThreadStore
    from tutor.llm import get_llm
    from tutor.settings import Settings

    data_dir.mkdir(parents=True, exist_ok=True)
    if backend == "extractive":
        st = Settings(data_dir=data_dir, llm_backend="none")
    elif backend == "embedded":
        st = Settings(data_dir=data_dir, llm_backend="llamacpp", llm_model=model or embedded_llm_model(),
                      llm_generative="on", **({"llm_threads": threads} if threads else {}))
    elif backend == "openai":
        st = Settings(data_dir=data_dir, llm_backend="openai", llm_generative="on", **({"llm_model": model} if model else {}))
    else:
        raise ValueError(backend)
    engine = create_engine(f"sqlite:///{data_dir / 'threads.db'}")
    return TutorService(st, index=index, threads=ThreadStore(engine), llm=get_llm(st))
