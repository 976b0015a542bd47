"""Answer eval: textbook-phrased course questions (RU/EN) answered extractively (no LLM: the
fallback every generated answer can fall back to) through the whole chat service. The generated
answers of the embedded LLM are measured on questions written as students write them:
tests/evals/test_student_eval.py (subset) and bench/answers.py (all).

A case is correct when the answer contains one of its expected facts AND a passage it cites
comes from one of its expected files (a lecture counts in either language: lectures/ or
lectures_en/). Citation precision is the share of the cited passages that come from an
expected file. CI floors: accuracy 0.85, citation precision 0.85. The per-question report is
written to TUTOR_DATA_DIR/evals/answers.json."""

import json
import os
import re
from pathlib import Path

import pytest

from tests.evals.conftest import load_jsonl

ROOT = Path(__file__).resolve().parents[2]
ACCURACY_FLOOR = 0.85
PRECISION_FLOOR = 0.85
CASES = load_jsonl("answers.jsonl")


def _expected(source: str, case: dict) -> bool:
    for e in case["sources"]:
        if source.endswith(e) or source.endswith(e.replace("corpus/lectures/", "corpus/lectures_en/")):
            return True
    return False


def _normal(text: str) -> str:
    return text.replace("`", "").replace("**", "").lower()


def test_answer_set_is_well_formed():
    assert len(CASES) >= 40
    assert len({c["id"] for c in CASES}) == len(CASES)
    assert sum(c["lang"] == "ru" for c in CASES) >= 28 and sum(c["lang"] == "en" for c in CASES) >= 12
    for c in CASES:  # every expected fact is really in an expected file (either language)
        texts = []
        for s in c["sources"]:
            for variant in {s, s.replace("corpus/lectures/", "corpus/lectures_en/")}:
                if (ROOT / variant).exists():
                    texts.append(_normal((ROOT / variant).read_text(encoding="utf-8")))
        assert texts, c["id"]
        assert any(f.lower() in t for f in c["facts"] for t in texts), c["id"]


@pytest.fixture(scope="module")
def embedded_service(eval_index, tmp_path_factory):
    """The chat service with extractive answers (llm_backend none) and the real index."""
    from sqlalchemy import create_engine

    from tutor.agent.service import TutorService
    from tutor.agent.threads import ThreadStore
    from tutor.settings import Settings

    d = tmp_path_factory.mktemp("answer-eval")
    st = Settings(data_dir=d / "data", llm_backend="none")
    return TutorService(st, index=eval_index, threads=ThreadStore(create_engine(f"sqlite:///{d / 'threads.db'}")))


async def _final(service, question: str, thread: str, mode: str | None = None):
    final = None
    async for ev in service.chat(thread, "eval", question, mode=mode):
        if ev.type == "final":
            final = ev
    assert final is not None
    return final


async def test_answers_contain_the_fact_and_cite_the_source(embedded_service):
    report, correct, precisions = [], 0, []
    for c in CASES:
        final = await _final(embedded_service, c["q"], f"eval-{c['id']}")
        cited = {int(n) for n in re.findall(r"\[(\d+)\]", final.answer)}
        by_n = {s.n: s.source for s in final.sources}
        cited_sources = [by_n[n] for n in sorted(cited) if n in by_n]
        assert len(cited_sources) == len(cited), f"{c['id']}: citation without a source: {final.answer}"
        fact = any(f.lower() in _normal(final.answer) for f in c["facts"])
        source = any(_expected(s, c) for s in cited_sources)
        precision = sum(_expected(s, c) for s in cited_sources) / len(cited_sources) if cited_sources else 0.0
        correct += fact and source
        precisions.append(precision)
        report.append({"id": c["id"], "q": c["q"], "fact": fact, "source": source, "precision": precision,
                       "intent": final.intent, "style": final.answer_style, "cited": cited_sources,
                       "answer": final.answer})
    accuracy, precision = correct / len(CASES), sum(precisions) / len(CASES)
    out = Path(os.environ["TUTOR_DATA_DIR"]) / "evals"
    out.mkdir(parents=True, exist_ok=True)
    (out / "answers.json").write_text(json.dumps({"accuracy": accuracy, "citation_precision": precision,
                                                  "n": len(CASES), "cases": report}, ensure_ascii=False, indent=1))
    print(f"\nanswer eval: n={len(CASES)} accuracy={accuracy:.3f} citation precision={precision:.3f}")
    misses = [f"{r['id']} fact={r['fact']} source={r['source']}: {r['q']} -> {r['answer'][:300]}"
              for r in report if not (r["fact"] and r["source"])]
    assert all(r["intent"] == "question" for r in report)
    assert accuracy >= ACCURACY_FLOOR, "\n".join(misses)
    assert precision >= PRECISION_FLOOR


HINTS = load_jsonl("hint_questions.jsonl")
CODE = re.compile(r"```|^\s*(import |from \S+ import |def |class \w+.*:|for .* in .*:)|\w+\s*=\s*(torch|nn|np)\.|"
                  r"\.(fit|backward|zero_grad|step)\(", re.M)


def test_hint_set_is_well_formed():
    assert len(HINTS) >= 10 and len({c["id"] for c in HINTS}) == len(HINTS)
    assert {c["lang"] for c in HINTS} == {"ru", "en"}


async def test_homework_questions_in_hint_mode_get_hints_not_solutions(embedded_service):
    """Rules: no code at all, at least one guiding question, pointers to the course sections
    (citations), and the reply is marked as a homework hint."""
    bad = []
    for c in HINTS:
        final = await _final(embedded_service, c["q"], f"hint-{c['id']}", mode="hint")
        text = final.answer
        problems = []
        if final.intent != "question":
            problems.append(f"routed as {final.intent}")
        if not final.homework:
            problems.append("not recognised as homework")
        if CODE.search(text):
            problems.append("code: " + CODE.search(text).group(0))
        if "?" not in text:
            problems.append("no guiding question")
        if not re.search(r"\[\d+\]", text) or not final.sources:
            problems.append("no pointer to the course")
        if final.mode != "hint":
            problems.append(f"mode {final.mode}")
        if problems:
            bad.append(f"{c['id']} {c['q']!r}: {problems}\n{text[:400]}")
    assert not bad, "\n\n".join(bad)
