"""Grounding-check eval: planted statements about real passages (tests/evals/grounding_statements.jsonl),
half faithful paraphrases, half wrong (reversed, swapped, changed numbers, invented facts). The
check must flag the wrong ones (recall) without flagging the paraphrases (precision of its flags).
The set was used to calibrate the thresholds of tutor.agent.grounding, so these numbers are the
check's calibration quality, not held-out ones. The per-statement report goes to
TUTOR_DATA_DIR/evals/grounding.json."""

import json
import os
from pathlib import Path

from index.search import Hit
from tests.evals.conftest import load_jsonl

ROWS = load_jsonl("grounding_statements.jsonl")
PRECISION_FLOOR = 0.9
RECALL_FLOOR = 0.65


def test_statement_set_is_well_formed():
    assert len(ROWS) >= 60 and len({r["id"] for r in ROWS}) == len(ROWS)
    wrong = [r for r in ROWS if r["label"] == "wrong"]
    assert len(wrong) >= 30 and {r["kind"] for r in wrong} >= {"reversal", "swap", "number", "unrelated"}


def _passages(index, row) -> list[Hit]:
    return [Hit(text=c.text, source=c.source, section=c.section, anchor=c.anchor, score=1.0, headings=list(c.headings))
            for c in index.chunks
            if c.source == row["source"] and c.headings and row["section"].lower() in c.headings[-1].lower()]


def test_check_flags_planted_wrong_statements(eval_index):
    from tutor.agent.grounding import Grounder

    report = []
    for r in ROWS:
        hits = _passages(eval_index, r)
        assert hits, r["id"]
        g = Grounder(hits, "en" if "lectures_en" in r["source"] else "ru", eval_index.embedder, eval_index.normalizer)
        c = g.check(r["statement"] + " " + "".join(f"[{n}]" for n in range(1, len(hits) + 1)))
        report.append({"id": r["id"], "label": r["label"], "kind": r["kind"], "flagged": not c.supported,
                       "reason": c.reason, "terms": round(c.terms, 3), "meaning": round(c.meaning, 3)})
    wrong = [x for x in report if x["label"] == "wrong"]
    flagged = [x for x in report if x["flagged"]]
    recall = sum(x["flagged"] for x in wrong) / len(wrong)
    precision = sum(x["label"] == "wrong" for x in flagged) / max(1, len(flagged))
    out = Path(os.environ["TUTOR_DATA_DIR"]) / "evals"
    out.mkdir(parents=True, exist_ok=True)
    (out / "grounding.json").write_text(json.dumps({"precision": precision, "recall": recall, "cases": report},
                                                   ensure_ascii=False, indent=1))
    print(f"\ngrounding eval: n={len(report)} precision of flags={precision:.2f} recall on wrong={recall:.2f}")
    missed = [f"{x['id']} {x['kind']}" for x in wrong if not x["flagged"]]
    assert precision >= PRECISION_FLOOR, [x for x in flagged if x["label"] != "wrong"]
    assert recall >= RECALL_FLOOR, missed
